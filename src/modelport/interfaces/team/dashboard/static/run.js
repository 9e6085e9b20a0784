// One run: what it was (params, dataset, commit, packages), what it measured (each metric's
// history, every step on demand), its tags and artifacts. A write key may add a tag.
import {api, path} from './api.js';
import {PALETTE, historyChart} from './charts.js';
import {downloadButton} from './download.js';
import {busy, digest, duration, facts, h, num, put, section, table, when} from './dom.js';

const MAX_STEPS_SHOWN = 2000;

export async function runPage(main, {params, signal, me}) {
  const id = decodeURIComponent(params[0]);
  busy(main);
  const run = await api(`/runs/${path(id)}`, {signal});
  const metrics = Object.keys(run.metrics).sort();
  const charts = h('div', {class: 'charts'});
  const tags = h('div', {});
  put(main, 
    h('p', {}, h('a', {href: '#/runs'}, '← Runs')),
    h('h1', {}, run.name || run.id),
    facts([['Run id', h('code', {}, run.id)], ['Experiment', run.experiment], ['Status', run.status],
      ['Started', when(run.start_time)], ['Duration', duration(run.duration)],
      ['Dataset digest', digest(run.dataset_digest)], ['Git commit', digest(run.git_commit)]]),
    section('Params', Object.keys(run.params).length
      ? table(['Param', 'Value'], Object.entries(run.params).sort()) : h('p', {class: 'muted'}, 'None.')),
    section('Metrics', metrics.length
      ? table(['Metric', 'Last value'], metrics.map((k) => [k, num(run.metrics[k])]))
      : h('p', {class: 'muted'}, 'None.'), charts),
    section('Tags', tags),
    section('Artifacts', Object.keys(run.artifacts).length
      ? table(['Path', 'SHA-256', ''], Object.entries(run.artifacts).sort()
        .map(([p, d]) => [p, digest(d), downloadButton(p, d)]))
      : h('p', {class: 'muted'}, 'None.')),
    section('Packages', Object.keys(run.packages).length
      ? table(['Package', 'Version'], Object.entries(run.packages).sort())
      : h('p', {class: 'muted'}, 'None recorded.')));
  renderTags(tags, run, me);
  await Promise.all(metrics.map((key) => metricChart(charts, run, key, signal)));
}

async function metricChart(charts, run, key, signal) {
  const figure = h('figure', {class: 'chart'}, h('figcaption', {}, key), h('p', {class: 'muted'}, 'Loading…'));
  charts.append(figure);
  const width = Math.max(240, Math.floor(figure.clientWidth || 600));
  const history = await api(`/runs/${path(run.id, 'metrics', key)}/buckets?n=${width - 72}`, {signal});
  const steps = h('details', {ontoggle: async (e) => {
    if (!e.target.open || e.target.dataset.loaded) return;
    e.target.dataset.loaded = '1';
    const all = await api(`/runs/${path(run.id, 'metrics', key)}`);
    const shown = all.slice(-MAX_STEPS_SHOWN);
    e.target.append(table(['Step', 'Value'], shown.map(([step, value]) => [String(step), num(value)]),
      shown.length < all.length ? `The last ${shown.length} of ${all.length} steps` : null));
  }}, h('summary', {}, `Every step (${history.points})`));
  figure.lastChild.replaceWith(historyChart([{name: run.name, color: PALETTE[0], buckets: history.buckets}],
    {width, height: 180, label: `${key} by step`}));
  figure.append(steps);
}

function renderTags(box, run, me) {
  const rows = Object.entries(run.tags).sort();
  box.replaceChildren(rows.length ? table(['Tag', 'Value'], rows) : h('p', {class: 'muted'}, 'None.'));
  if (!me.can('write')) return;
  const key = h('input', {id: 'tag-key', required: true, maxlength: 250, spellcheck: 'false'});
  const value = h('input', {id: 'tag-value', maxlength: 5000, spellcheck: 'false'});
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  box.append(h('form', {class: 'toolbar', 'aria-label': 'Set a tag', onsubmit: async (e) => {
    e.preventDefault();
    const k = key.value.trim();
    if (!confirm(`Set tag ${k} = ${value.value} on run ${run.name || run.id}?`)) return;
    try {
      await api(`/runs/${path(run.id)}/batch`, {method: 'POST',
        body: {now: Date.now() / 1000, tags: {[k]: value.value}}});
      run.tags[k] = value.value;
      renderTags(box, run, me);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }}, h('label', {for: 'tag-key'}, 'Tag'), key, h('label', {for: 'tag-value'}, 'Value'), value,
  h('button', {type: 'submit'}, 'Set tag'), error));
}

