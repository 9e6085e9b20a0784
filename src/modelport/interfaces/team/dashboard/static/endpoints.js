// Endpoints and their rollouts: every endpoint's traffic policy; one endpoint's live split,
// requests/s, error rate and p99 per version, its rollouts step by step with the analysis
// behind each verdict, and the operator's buttons for keys that may use them. All of it
// follows the change feed: the numbers arrive once a second (topic `stats`), the policy and
// the rollouts are re-read when the feed says one moved.
import {api, path} from './api.js';
import {M, PALETTE, frame, scale, ticks} from './charts.js';
import {busy, facts, h, num, put, s, section, table, when} from './dom.js';
import {follow} from './feed.js';

const WINDOW_S = 5;  // the live numbers cover the last five seconds (as the feed's do)
const ENDED = ['promoted', 'aborted', 'rolled_back', 'completed'];
const pct = (x) => (x == null ? '—' : `${num(+(100 * x).toFixed(2))} %`);
const ms = (x) => (x == null ? '—' : `${num(+x.toFixed(1))} ms`);
const link = (name) => h('a', {href: `#/endpoints/${encodeURIComponent(name)}`}, name);

function policyText(policy) {
  const total = policy.routes.reduce((a, r) => a + r.weight, 0) || 1;
  return [
    policy.routes.map((r) => h('span', {class: 'chip'}, `${r.version} ${num(+(100 * r.weight / total).toFixed(2))} %`)),
    policy.shadow ? h('span', {class: 'chip shadow'}, `shadow ${policy.shadow} ${num(policy.shadow_percent)} %`) : null,
    (policy.warm ?? []).map((v) => h('span', {class: 'chip muted'}, `warm ${v}`)),
    policy.sticky_header ? h('span', {class: 'muted'}, ` sticky on ${policy.sticky_header}`) : null];
}

function rolloutText(r) {
  if (!r) return '—';
  const step = r.kind === 'canary' ? ` · step ${r.step + 1}/${r.config.steps.length} (${num(r.config.steps[r.step])} %)` : '';
  return `${r.kind} of ${r.candidate} · ${r.state.replace('_', ' ')}${step}`;
}

export async function endpointsPage(main, {signal}) {
  busy(main);
  async function load() {
    const [endpoints, active] = await Promise.all([api('/endpoints', {signal}), api('/rollouts/active', {signal})]);
    const rollouts = new Map(active.map((r) => [r.endpoint, r]));
    put(main, h('h1', {}, 'Endpoints'), endpoints.length
      ? table(['Endpoint', 'Traffic policy', 'Rollout', 'Revision', 'Updated'], endpoints.map((e) => [
        link(e.name), policyText(e.policy), rolloutText(rollouts.get(e.name)), String(e.revision), when(e.updated)]))
      : h('p', {class: 'muted'}, 'No endpoints yet — create one with: modelport endpoints create NAME --model MODEL'));
  }
  await load();
  let pending = null;
  follow('topics=endpoint,rollout', {signal, onEvent: () => {
    clearTimeout(pending);
    pending = setTimeout(() => load().catch(() => {}), 150);
  }});
}

/** Requests per second of each version over the last minute, one line each. */
function trafficChart(versions, width) {
  const height = 170;
  const series = versions.filter((v) => v.per_second.some((n) => n > 0));
  if (!series.length) return h('p', {class: 'muted'}, 'No requests in the last minute.');
  const span = versions[0].per_second.length;
  const top = Math.max(...series.flatMap((v) => v.per_second));
  const x = scale(-(span - 1), 0, M.left, width - M.right);
  const y = scale(0, top, height - M.bottom, M.top);
  const svg = frame(width, height, 'Requests per second by version, last minute',
    ticks(-(span - 1), 0, 3).map(Math.round), ticks(0, top), x, y, 'seconds ago');
  versions.forEach((v, i) => {
    if (!series.includes(v)) return;
    svg.append(s('polyline', {fill: 'none', stroke: PALETTE[i % PALETTE.length], 'stroke-width': 1.8,
      'data-version': v.version,
      points: v.per_second.map((n, k) => `${x(k - span + 1).toFixed(1)},${y(n).toFixed(1)}`).join(' ')},
    s('title', {}, v.version)));
  });
  return svg;
}

function trafficTable(live) {
  const routed = live.versions.filter((v) => v.role === 'route');
  const total = routed.reduce((a, v) => a + v.stats.requests, 0);
  return h('div', {class: 'scroll'}, h('table', {class: 'traffic'},
    h('caption', {}, `Last ${live.window_s} s, read ${new Date(live.at * 1000).toLocaleTimeString()}`),
    h('thead', {}, h('tr', {}, ['Version', 'Role', 'Policy', 'Live split', 'Requests/s', 'Error rate',
      'p99', 'Client errors', 'Shadow agreement'].map((c, i) => h('th', {scope: 'col', class: i > 1 ? 'number' : null}, c)))),
    h('tbody', {}, live.versions.map((v, i) => {
      const split = v.role === 'route' && total ? v.stats.requests / total : null;
      return h('tr', {'data-version': v.version},
        h('th', {scope: 'row'}, s('svg', {width: 10, height: 10, 'aria-hidden': 'true', class: 'swatch'},
          s('rect', {width: 10, height: 10, rx: 2, fill: PALETTE[i % PALETTE.length]})), ` ${v.version}`),
        h('td', {}, v.role),
        h('td', {class: 'number'}, v.role === 'route' ? `${num(+v.share.toFixed(2))} %` : '—'),
        h('td', {class: 'number split'}, split == null ? '—' : [
          h('meter', {min: 0, max: 1, value: split, 'aria-label': `live share of ${v.version}`}), ` ${pct(split)}`]),
        h('td', {class: 'number rps'}, num(v.requests_per_s)),
        h('td', {class: 'number'}, pct(v.stats.error_rate)),
        h('td', {class: 'number'}, ms(v.stats.p99_ms)),
        h('td', {class: 'number'}, String(v.stats.client_errors)),
        h('td', {class: 'number'}, v.stats.shadow_requests ? pct(v.stats.shadow_agreement) : '—'));
    }))));
}

function verdict(event) {
  if (!event.metrics) return null;
  const pass = ['step', 'promote'].includes(event.action);
  return h('span', {class: `verdict ${pass ? 'pass' : 'fail'}`}, pass ? 'pass' : 'fail');
}

function measurements(metrics) {
  const rows = [['Requests', 'requests', num], ['Error rate', 'error_rate', pct], ['p99', 'p99_ms', ms],
    ['Client errors', 'client_errors', num], ['Accuracy (fed-back labels)', 'accuracy', pct],
    ['Labels', 'feedback', num]].filter(([, k]) => k in (metrics.candidate ?? {}) || k in (metrics.stable ?? {}));
  return h('details', {class: 'analysis'}, h('summary', {}, 'Analysis measurements'),
    table(['Measure', 'Candidate', 'Stable'], [
      ...rows.map(([label, k, f]) => [label, f(metrics.candidate?.[k]), f(metrics.stable?.[k])]),
      ['Prediction shift', num(metrics.shift), ''], ['Step time', `${num(metrics.elapsed_s)} s`, '']]));
}

function timeline(history) {
  if (!history.length) return h('p', {class: 'muted'}, 'No rollouts yet — start one with: modelport rollout canary ENDPOINT --to MODEL:VERSION');
  return [...history].reverse().map(({rollout: r, events}) => h('article', {class: 'rollout', 'data-rollout': r.id},
    h('h3', {}, `${r.kind} of ${r.candidate} over ${r.stable} — `, h('span', {class: `state ${r.state}`}, r.state.replace('_', ' '))),
    r.kind === 'canary' ? h('ol', {class: 'steps', 'aria-label': 'Canary steps'}, r.config.steps.map((p, i) =>
      h('li', {'aria-current': i === r.step && !ENDED.includes(r.state) ? 'step' : null,
        class: i < r.step || (i === r.step && r.state === 'promoted') ? 'done' : null}, `${num(p)} %`))) : null,
    h('ol', {class: 'timeline'}, events.map((e) => h('li', {},
      h('time', {datetime: new Date(e.at * 1000).toISOString()}, new Date(e.at * 1000).toLocaleTimeString()), ' ',
      h('strong', {}, e.action), ' → ', e.state.replace('_', ' '), ' ', verdict(e),
      h('div', {class: 'reason'}, e.reason), e.metrics ? measurements(e.metrics) : null)))));
}

const ACTIONS = [
  ['pause', 'Pause', (r) => r.state === 'running' && r.kind !== 'bluegreen',
    (r, ep) => `Pause the ${r.kind} of ${r.candidate} on endpoint ${ep}? Traffic stays split as it is now; no step moves until it is resumed.`],
  ['resume', 'Resume', (r) => r.state === 'paused',
    (r, ep) => `Resume the ${r.kind} of ${r.candidate} on endpoint ${ep}? Its analysis moves traffic again.`],
  ['promote', 'Promote', (r) => !ENDED.includes(r.state),
    (r, ep) => `Promote ${r.candidate} on endpoint ${ep}? All traffic goes to ${r.candidate} now (from ${r.stable}).`],
  ['abort', 'Abort', (r) => !ENDED.includes(r.state),
    (r, ep) => `Abort the ${r.kind} of ${r.candidate} on endpoint ${ep}? All traffic goes back to ${r.stable} now.`],
  ['rollback', 'Roll back', (r) => !['aborted', 'rolled_back'].includes(r.state),
    (r, ep) => `Roll endpoint ${ep} back to ${r.stable}? All traffic goes to ${r.stable} now, away from ${r.candidate}.`],
];

function actions(name, r, me, after, error) {
  if (!r || !me.can('write')) return null;
  const buttons = ACTIONS.filter(([, , shown]) => shown(r)).map(([verb, label, , change]) =>
    h('button', {type: 'button', 'data-action': verb, onclick: async () => {
      if (!confirm(change(r, name))) return;
      try {
        const body = ['promote', 'abort'].includes(verb) ? {reason: `by ${me.name} in the dashboard`} : undefined;
        await api(`/endpoints/${path(name)}/rollout/${verb}`, {method: 'POST', body});
        error.hidden = true;
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
      await after();
    }}, label));
  return buttons.length ? h('div', {class: 'toolbar', role: 'group', 'aria-label': 'Rollout actions'}, buttons) : null;
}

export async function endpointPage(main, {params, signal, me}) {
  const name = decodeURIComponent(params[0]);
  busy(main);
  const status = h('span', {class: 'live', role: 'status'}, 'connecting…');
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const head = h('div');
  const traffic = h('div');
  const chart = h('figure', {class: 'chart'}, h('figcaption', {}, 'Requests per second'));
  const rollout = h('div');
  const history = h('div');

  async function loadState() {
    const [endpoint, rollouts] = await Promise.all([api(`/endpoints/${path(name)}`, {signal}),
      api(`/endpoints/${path(name)}/rollouts`, {signal})]);
    const latest = rollouts.at(-1)?.rollout;
    put(head, facts([['Traffic policy', policyText(endpoint.policy)], ['Revision', String(endpoint.revision)],
      ['Updated', when(endpoint.updated)]]));
    put(rollout, latest ? [h('p', {class: 'current'}, rolloutText(latest)),
      actions(name, latest, me, loadState, error)] : h('p', {class: 'muted'}, 'No rollout.'));
    put(history, timeline(rollouts));
  }

  function showLive(live) {
    put(traffic, trafficTable(live));
    chart.replaceChildren(chart.firstChild, trafficChart(live.versions, Math.min(main.clientWidth - 40, 900)));
  }
  const loadLive = async () => showLive(await api(`/endpoints/${path(name)}/live?window_s=${WINDOW_S}`, {signal}));

  await Promise.all([loadState(), loadLive()]);
  put(main, h('p', {}, h('a', {href: '#/endpoints'}, '← Endpoints')),
    h('div', {class: 'toolbar'}, h('h1', {class: 'grow'}, name), status), error, head,
    section('Traffic', traffic, chart), section('Rollout', rollout), section('Timeline', history));

  const quietly = (f) => () => f().catch((e) => {
    if (e.name === 'AbortError') return;
    error.textContent = e.message;
    error.hidden = false;
  });
  let pending = null;
  follow(`topics=endpoint,rollout,stats&endpoint=${encodeURIComponent(name)}`, {signal,
    onState: (state) => { status.textContent = state === 'live' ? '● live' : state; },
    onEvent: (type, data) => {
      if (type === 'stats') return showLive(data);
      if (type === 'endpoint' && data.deleted) {
        error.textContent = `Endpoint ${name} was deleted.`;
        error.hidden = false;
        return;
      }
      clearTimeout(pending);
      pending = setTimeout(quietly(loadState), 100);
    }});
}
