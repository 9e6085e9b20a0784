// Monitoring: the latest recorded report of each monitored model or endpoint (runs of
// experiment 'monitor', from `modelport monitor --record` and every turn of the retraining
// loop): per version, which features drifted (PSI, Wasserstein), volume, and accuracy with
// its confidence interval where labels came back; the HTML report as a download.
import {api, blob, path} from './api.js';
import {downloadButton} from './download.js';
import {facts, h, num, put, table, when} from './dom.js';

const REPORT_JSON = 'monitor/report.json';
const REPORT_HTML = 'monitor/report.html';
const CHECKS = 500;
const HISTORY = 10;
const SEVERITY = {ok: 0, 'too few rows': 0, 'no traffic': 0, warn: 1, drift: 2};

const chip = (status) => h('span', {class: `chip status-${String(status).replace(/[^a-z_]/g, '')}`}, status);
const pct = (x) => (x == null ? '—' : `${(100 * x).toFixed(1)} %`);
const pair = (now, base) => `${num(now)} / ${num(base)}`;
const runLink = (run, text) => h('a', {href: `#/runs/${encodeURIComponent(run.id)}`}, text);

function columnRow(name, c) {
  return h('tr', {class: c.status === 'drift' ? 'drifted' : null, 'data-column': name},
    h('th', {scope: 'row'}, name), h('td', {}, c.kind), h('td', {}, chip(c.status)),
    h('td', {class: 'number'}, num(c.psi)), h('td', {class: 'number'}, num(c.wasserstein)),
    h('td', {class: 'number'}, `${pct(c.missing)} / ${pct(c.baseline_missing)}`),
    h('td', {class: 'number'}, pct(c.out_of_range)), h('td', {class: 'number'}, pct(c.unseen)),
    h('td', {class: 'number'}, c.kind === 'numeric' ? pair(c.mean, c.baseline_mean) : '—'));
}

const COLUMNS = ['Column', 'Kind', 'Status', 'PSI', 'Wasserstein σ', 'Missing now / base',
  'Out of range', 'Unseen', 'Mean now / base'];

function versionReport(report) {
  const title = `${report.model}:${report.version}`;
  if (!report.features) {
    return h('article', {class: 'version'}, h('h3', {}, title, ' ', chip(report.status)),
      (report.notes ?? []).map((n) => h('p', {class: 'muted'}, n)));
  }
  const {volume, baseline, window: w, accuracy} = report;
  const columns = Object.entries(report.features);
  if (report.prediction) columns.push(['(prediction)', report.prediction]);
  const drifted = columns.filter(([, c]) => c.status === 'drift').map(([n]) => n);
  return h('article', {class: 'version', 'data-version': title},
    h('h3', {}, h('a', {href: `#/models/${encodeURIComponent(report.model)}`}, title), ' ', chip(report.status)),
    facts([
      ['Drifted', drifted.length ? drifted.join(', ') : 'nothing'],
      ['Window', `${when(w.start)} – ${when(w.end)}`],
      ['Volume', `${num(volume.rows)} rows in ${num(volume.requests)} request${volume.requests === 1 ? '' : 's'} (${num(Math.round(volume.rows_per_hour))} rows/h)`],
      ['Baseline', `${baseline.source} (${num(baseline.rows)} rows)`],
      ['Accuracy', accuracy ? `${pct(accuracy.accuracy)} (95 % CI ${pct(accuracy.low)} – ${pct(accuracy.high)}) on ${num(accuracy.labels)} labels, ${accuracy.source}`
        : 'no labels came back in the window'],
    ]),
    h('div', {class: 'scroll'}, h('table', {class: 'drift'},
      h('thead', {}, h('tr', {}, COLUMNS.map((x) => h('th', {scope: 'col'}, x)))),
      h('tbody', {}, columns.map(([n, c]) => columnRow(n, c))))),
    (report.notes ?? []).map((n) => h('p', {class: 'muted'}, `note: ${n}`)));
}

async function latest(box, runs, signal) {
  const run = runs[0];
  const json = run.artifacts[REPORT_JSON];
  const html = run.artifacts[REPORT_HTML];
  let body;
  if (json) {
    const reports = JSON.parse(await (await blob(`/artifacts/${path(json)}`, {signal})).text());
    body = reports.map(versionReport);
  } else {
    body = h('p', {class: 'muted'}, 'This check kept no report (recorded before reports were kept).');
  }
  const history = runs.slice(0, HISTORY).map((r) => [runLink(r, when(r.start_time)), r.tags.action ?? '—',
    num(r.metrics.drifted_columns), (() => {
      try { return JSON.parse(r.tags.drifted ?? '[]').join(', ') || '—'; } catch { return '—'; }
    })()]);
  box.replaceChildren(
    h('p', {class: 'toolbar'}, h('span', {}, 'Last check ', runLink(run, when(run.start_time)), ` · ${run.tags.action ?? ''}`),
      html ? downloadButton(REPORT_HTML, html, 'HTML report') : null),
    ...[body].flat(), h('details', {}, h('summary', {}, `Recent checks (${Math.min(runs.length, HISTORY)} of ${runs.length})`),
      table(['When', 'Action', 'Drifted columns', 'Which'], history)));
}

export async function monitorPage(main, {signal}) {
  const page = await api('/runs/search', {method: 'POST', signal,
    body: {filter: "tags.kind = 'monitor'", order_by: ['attributes.start_time DESC'], max_results: CHECKS}});
  const targets = new Map();
  for (const run of page.runs) {
    const target = run.tags.target ?? run.name;
    targets.set(target, [...(targets.get(target) ?? []), run]);
  }
  if (!targets.size) {
    put(main, h('h1', {}, 'Monitoring'), h('p', {class: 'muted'},
      'No monitoring reports recorded yet — record one with: modelport monitor MODEL_OR_ENDPOINT --record'));
    return;
  }
  const summary = [...targets].map(([target, runs]) => {
    const worst = Number(runs[0].metrics.drifted_columns ?? 0);
    const jump = (e) => {
      e.preventDefault();  // a fragment is a page here: scroll instead
      document.getElementById(`monitor-${target}`)?.scrollIntoView();
    };
    return [h('a', {href: '#/monitor', onclick: jump}, target), when(runs[0].start_time),
      chip(worst > 0 ? 'drift' : 'ok'), num(worst), runs[0].tags.action ?? '—', String(runs.length)];
  });
  const boxes = [...targets.keys()].map(() => h('div', {}, h('p', {class: 'muted'}, 'Loading…')));
  put(main, h('h1', {}, 'Monitoring'),
    table(['Model or endpoint', 'Last check', 'Status', 'Drifted columns', 'Action', 'Checks'], summary),
    [...targets.keys()].map((target, i) => h('section', {id: `monitor-${target}`},
      h('h2', {}, target), boxes[i])));
  await Promise.all([...targets.values()].map((runs, i) => latest(boxes[i], runs, signal)
    .catch((e) => {
      if (e.name === 'AbortError') throw e;
      boxes[i].replaceChildren(h('p', {class: 'error', role: 'alert'}, e.message));
    })));
}
