// Studies: every tuning study; one study's optimization history, parameter importances
// (PED-ANOVA, computed by the server on request), Pareto front when it has several
// objectives (computed by the server in O(n log n)), and its trials linked to their runs.
import {api} from './api.js';
import {M, PALETTE, frame, scale, ticks} from './charts.js';
import {busy, duration, facts, h, num, put, s, section, table} from './dom.js';

const PAGE = 100;
const link = (name) => h('a', {href: `#/studies/${encodeURIComponent(name)}`}, name);
const q = (name, more = '') => `name=${encodeURIComponent(name)}${more}`;

export async function studiesPage(main, {signal}) {
  busy(main);
  const studies = await api('/studies', {signal});
  put(main, h('h1', {}, 'Studies'), studies.length
    ? table(['Study', 'Objectives', 'Trials', 'Complete', 'Pruned', 'Failed', 'Best', 'Storage'], studies.map((st) => [
      link(st.name), st.directions.join(', '), String(st.trials), String(st.complete), String(st.pruned),
      String(st.failed), st.best_values ? st.best_values.map(num).join(', ') : '—', st.storage]))
    : h('p', {class: 'muted'}, 'No studies yet — start one with: modelport tune DATA --target COLUMN'));
}

function plot(width, height, label, xs, ys, xLabel, whole = false) {
  const pad = (lo, hi) => [lo - (hi - lo || 1) * 0.04, hi + (hi - lo || 1) * 0.04];
  const [xlo, xhi] = pad(Math.min(...xs), Math.max(...xs));
  const [ylo, yhi] = pad(Math.min(...ys), Math.max(...ys));
  const x = scale(xlo, xhi, M.left, width - M.right);
  const y = scale(ylo, yhi, height - M.bottom, M.top);
  const xt = ticks(Math.min(...xs), Math.max(...xs));
  return {x, y, svg: frame(width, height, label, whole ? [...new Set(xt.map(Math.round))] : xt,
    ticks(Math.min(...ys), Math.max(...ys)), x, y, xLabel)};
}

const dot = (x, y, cls, title) => s('circle', {cx: x.toFixed(1), cy: y.toFixed(1), r: 4, class: cls}, s('title', {}, title));

/** Each complete trial's value by trial number, and the best so far as a step line. */
function historyChart(done, k, name, direction, width) {
  if (!done.length) return h('p', {class: 'muted'}, 'No complete trial yet.');
  const pts = done.map((t) => [t.number, t.values[k]]).filter(([, v]) => v != null);
  const {x, y, svg} = plot(width, 240, `${name} by trial`, pts.map((p) => p[0]), pts.map((p) => p[1]), 'trial', true);
  const better = direction === 'maximize' ? (a, b) => a > b : (a, b) => a < b;
  let best = null;
  const line = [];
  for (const [n, v] of pts) {
    if (best === null || better(v, best)) {
      if (best !== null) line.push(`${x(n).toFixed(1)},${y(best).toFixed(1)}`);
      best = v;
    }
    line.push(`${x(n).toFixed(1)},${y(best).toFixed(1)}`);
  }
  svg.append(s('polyline', {class: 'best-line', fill: 'none', stroke: PALETTE[1], 'stroke-width': 2, points: line.join(' ')},
    s('title', {}, `best ${name} so far`)));
  for (const [n, v] of pts) svg.append(dot(x(n), y(v), 'trial-dot', `trial ${n}: ${name} ${num(v)}`));
  return svg;
}

/** Two objectives against each other; the server's Pareto front marked (and joined when the
 * study has exactly these two objectives). */
function paretoChart(done, front, [i, j], names, width) {
  const pts = done.filter((t) => t.values[i] != null && t.values[j] != null);
  if (!pts.length) return h('p', {class: 'muted'}, 'No complete trial yet.');
  const {x, y, svg} = plot(width, 280, `${names[j]} against ${names[i]}`, pts.map((t) => t.values[i]),
    pts.map((t) => t.values[j]), names[i]);
  const onFront = pts.filter((t) => front.has(t.number)).sort((a, b) => a.values[i] - b.values[i]);
  if (names.length === 2 && onFront.length > 1) {
    svg.append(s('polyline', {fill: 'none', stroke: PALETTE[1], 'stroke-width': 1.5, 'stroke-dasharray': '4 3',
      points: onFront.map((t) => `${x(t.values[i]).toFixed(1)},${y(t.values[j]).toFixed(1)}`).join(' ')}));
  }
  for (const t of pts) {
    const mark = front.has(t.number);
    svg.append(dot(x(t.values[i]), y(t.values[j]), mark ? 'front-dot' : 'trial-dot',
      `trial ${t.number}${mark ? ' (Pareto front)' : ''}: ${names[i]} ${num(t.values[i])}, ${names[j]} ${num(t.values[j])}`));
  }
  return svg;
}

function importanceBars(result, width) {
  const rows = Object.entries(result.importances);
  if (!rows.length) return h('p', {class: 'muted'}, `Not enough complete trials with distinct values to rank parameters (${result.trials}).`);
  const bar = 22;
  const left = Math.min(200, 12 + 8 * Math.max(...rows.map(([k]) => k.length)));
  const svg = s('svg', {width, height: rows.length * bar + 8, viewBox: `0 0 ${width} ${rows.length * bar + 8}`,
    role: 'img', 'aria-label': `Parameter importances for ${result.objective}`},
  s('title', {}, `Parameter importances for ${result.objective}`));
  rows.forEach(([k, v], r) => {
    const w = Math.max(1, (width - left - 60) * v);
    svg.append(s('text', {x: left - 8, y: r * bar + 15, 'text-anchor': 'end', class: 'param'}, k),
      s('rect', {x: left, y: r * bar + 4, width: w.toFixed(1), height: bar - 8, rx: 2, fill: PALETTE[0]}),
      s('text', {x: left + w + 6, y: r * bar + 15}, `${(100 * v).toFixed(1)} %`));
  });
  return [svg, h('p', {class: 'muted'}, `${result.method}; ${result.trials} complete trials.`)];
}

function trialsTable(detail, front) {
  const params = [...new Set(detail.trials.flatMap((t) => Object.keys(t.params)))].sort();
  const multi = detail.objectives.length > 1;
  const body = h('tbody');
  const more = h('button', {type: 'button', onclick: () => show(shown + PAGE)});
  let shown = 0;
  function show(n) {
    const rows = detail.trials.slice(shown, n);
    body.append(...rows.map((t) => h('tr', {'data-trial': t.number},
      h('td', {class: 'number'}, String(t.number)),
      h('td', {}, t.state, t.error ? h('span', {class: 'muted', title: t.error}, ' ⚠') : null),
      h('td', {}, front.has(t.number) ? (multi ? 'Pareto' : 'best') : ''),
      detail.objectives.map((_, k) => h('td', {class: 'number'}, num(t.values?.[k]))),
      params.map((p) => h('td', {}, t.params[p] === undefined ? '—' : String(t.params[p]))),
      h('td', {}, t.run_id ? h('a', {href: `#/runs/${encodeURIComponent(t.run_id)}`}, t.run_id.slice(0, 12)) : '—'),
      h('td', {class: 'number'}, t.started && t.completed ? duration(t.completed - t.started) : '—'))));
    shown = Math.min(n, detail.trials.length);
    more.hidden = shown >= detail.trials.length;
    more.textContent = `Show ${Math.min(PAGE, detail.trials.length - shown)} more of ${detail.trials.length - shown}`;
  }
  show(PAGE);
  return [h('div', {class: 'scroll'}, h('table', {class: 'trials'},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col', class: 'number'}, 'Trial'), h('th', {scope: 'col'}, 'State'),
      h('th', {scope: 'col'}, multi ? 'Front' : 'Best'),
      detail.objectives.map((o) => h('th', {scope: 'col', class: 'number'}, o)),
      params.map((p) => h('th', {scope: 'col'}, p)), h('th', {scope: 'col'}, 'Run'),
      h('th', {scope: 'col', class: 'number'}, 'Duration'))), body)), more];
}

export async function studyPage(main, {params, signal}) {
  const name = decodeURIComponent(params[0]);
  busy(main);
  const detail = await api(`/studies/detail?${q(name)}`, {signal});
  const {summary, objectives} = detail;
  const front = new Set(detail.best);
  const done = detail.trials.filter((t) => t.state === 'complete' && t.values);
  const width = Math.min(main.clientWidth - 40, 900);
  const pick = (id, label, chosen, onchange) => [h('label', {for: id}, label),
    h('select', {id, onchange: (e) => onchange(Number(e.target.value))},
      objectives.map((o, k) => h('option', {value: k, selected: k === chosen}, `${o} (${summary.directions[k]})`)))];

  const history = h('div');
  const drawHistory = (k) => put(history, historyChart(done, k, objectives[k], summary.directions[k], width));
  const importances = h('div', {'aria-live': 'polite'});
  const loadImportances = async (k) => {
    put(importances, h('p', {class: 'muted', role: 'status'}, 'Computing…'));
    try {
      put(importances, importanceBars(await api(`/studies/importances?${q(name, `&objective=${k}`)}`, {signal}), width));
    } catch (e) {
      if (e.name !== 'AbortError') put(importances, h('p', {class: 'error', role: 'alert'}, e.message));
    }
  };
  const axes = [0, 1];
  const pareto = h('div');
  const drawPareto = () => put(pareto, paretoChart(done, front, axes, objectives, width));
  drawHistory(0);
  if (objectives.length > 1) drawPareto();

  put(main, h('p', {}, h('a', {href: '#/studies'}, '← Studies')), h('h1', {}, summary.name),
    facts([['Objectives', objectives.map((o, k) => `${o} (${summary.directions[k]})`).join(', ')],
      ['Trials', `${summary.trials}: ${summary.complete} complete, ${summary.pruned} pruned, ${summary.failed} failed`],
      ['Best', summary.best_values ? summary.best_values.map(num).join(', ') : null],
      ['Storage', summary.storage]]),
    section('Optimization history', objectives.length > 1 ? h('div', {class: 'toolbar'},
      pick('history-objective', 'Objective', 0, drawHistory)) : null, history),
    objectives.length > 1 ? section('Pareto front', h('div', {class: 'toolbar'},
      pick('pareto-x', 'x', 0, (k) => { axes[0] = k; drawPareto(); }),
      pick('pareto-y', 'y', 1, (k) => { axes[1] = k; drawPareto(); })), pareto,
    h('p', {class: 'muted'}, `${front.size} of ${done.length} complete trials are on the front (no other trial is as good in every objective and better in one).`)) : null,
    section('Parameter importances', objectives.length > 1 ? h('div', {class: 'toolbar'},
      pick('importance-objective', 'Objective', 0, loadImportances)) : null, importances),
    section('Trials', trialsTable(detail, front)));
  await loadImportances(0);
}
