// Parallel coordinates of the compared runs: one vertical axis per param or metric, one
// line per run. A text param gets one position per distinct value. Past MAX_AXES the
// columns whose values differ most between the runs are kept (the rest are the same or
// nearly so, and would only crowd the chart); the caption says how many were left off.
import {h, s, tick} from './dom.js';

const MAX_AXES = 12;
const M = {left: 24, right: 24, top: 34, bottom: 22};

function axisOf(runs, kind, key) {
  const raw = runs.map((r) => r[kind][key]);
  const numbers = raw.map((v) => (typeof v === 'number' ? v : v == null || v === '' ? NaN : Number(v)));
  if (raw.every((v, i) => v == null || Number.isFinite(numbers[i]))) {
    const present = numbers.filter(Number.isFinite);
    if (!present.length) return null;
    const lo = Math.min(...present);
    const hi = Math.max(...present);
    return {id: `${kind}.${key}`, label: key, kind, values: numbers.map((v) => (Number.isFinite(v) ? v : null)),
      lo, hi, spread: hi === lo ? 0 : 1 + (hi - lo) / (Math.abs(hi) + Math.abs(lo) || 1),
      ticks: hi === lo ? [lo] : [lo, hi], format: tick};
  }
  const categories = [...new Set(raw.filter((v) => v != null).map(String))].sort();
  const index = new Map(categories.map((c, i) => [c, i]));
  return {id: `${kind}.${key}`, label: key, kind, values: raw.map((v) => (v == null ? null : index.get(String(v)))),
    lo: 0, hi: Math.max(categories.length - 1, 0), spread: categories.length > 1 ? 2 : 0,
    ticks: categories.map((_, i) => i), format: (i) => categories[i]};
}

/** runs: run records; series: [{name, color}] in the same order. */
export function parallelChart(runs, series, {width = 720, height = 300} = {}) {
  const keys = (kind) => [...new Set(runs.flatMap((r) => Object.keys(r[kind])))].sort();
  const all = [...keys('params').map((k) => axisOf(runs, 'params', k)),
    ...keys('metrics').map((k) => axisOf(runs, 'metrics', k))].filter(Boolean);
  if (all.length < 2 || runs.length < 2) {
    return h('p', {class: 'muted'}, 'Parallel coordinates need two runs and two params or metrics.');
  }
  const kept = new Set([...all].sort((a, b) => b.spread - a.spread).slice(0, MAX_AXES).map((a) => a.id));
  const axes = all.filter((a) => kept.has(a.id));  // params first, then metrics, as they were
  const step = (width - M.left - M.right) / Math.max(axes.length - 1, 1);
  const xs = axes.map((_, i) => M.left + i * step);
  const y = (axis, v) => {
    if (axis.hi === axis.lo) return (M.top + height - M.bottom) / 2;
    return height - M.bottom - ((v - axis.lo) / (axis.hi - axis.lo)) * (height - M.top - M.bottom);
  };
  const label = `Parallel coordinates of ${runs.length} runs over ${axes.length} params and metrics`;
  const svg = s('svg', {width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label,
    class: 'parallel'}, s('title', {}, label));
  const lines = s('g', {class: 'lines'});
  runs.forEach((run, i) => {
    // a run without a value on an axis breaks its line there rather than inventing one
    let d = '';
    let pen = false;
    axes.forEach((axis, j) => {
      const v = axis.values[i];
      if (v == null) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${xs[j].toFixed(1)},${y(axis, v).toFixed(1)}`;
      pen = true;
    });
    lines.append(s('path', {d, fill: 'none', stroke: series[i].color, 'stroke-width': 2, 'data-run': run.id},
      s('title', {}, series[i].name)));
  });
  const frame = s('g', {class: 'axes'});
  axes.forEach((axis, j) => {
    const anchor = j === 0 ? 'start' : j === axes.length - 1 ? 'end' : 'middle';
    frame.append(s('line', {x1: xs[j], x2: xs[j], y1: M.top, y2: height - M.bottom}),
      s('text', {x: xs[j], y: 12, 'text-anchor': anchor, class: 'label'},
        s('title', {}, axis.id), axis.label.length > 18 ? `${axis.label.slice(0, 17)}…` : axis.label),
      s('text', {x: xs[j], y: 26, 'text-anchor': anchor}, axis.kind === 'metrics' ? 'metric' : 'param'));
    for (const t of axis.ticks.length > 6 ? [axis.ticks[0], axis.ticks.at(-1)] : axis.ticks) {
      const last = j === axes.length - 1;  // its ticks go inside the chart, not past its edge
      frame.append(s('text', {x: xs[j] + (last ? -4 : 4), y: y(axis, t) + 4, class: 'tick',
        'text-anchor': last ? 'end' : 'start'}, String(axis.format(t))));
    }
  });
  svg.append(frame, lines);
  const left = all.length - axes.length;
  return h('figure', {class: 'panel'}, svg,
    left ? h('figcaption', {class: 'muted'}, `${left} more column${left === 1 ? '' : 's'} left off (the same, or nearly, in every run)`) : null);
}
