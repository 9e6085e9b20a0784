// SVG charts small enough to write by hand: a metric's history (the server already cut it to
// one bucket per pixel column: min–max band and last value) and a scatter of two columns.
import {h, s, tick} from './dom.js';

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2',
  '#edc948', '#ff9da7', '#9c755f', '#8f8f8f'];
export const M = {left: 60, right: 12, top: 10, bottom: 28};

export function scale(lo, hi, from, to) {
  if (hi === lo) {
    const pad = Math.abs(lo) || 1;
    [lo, hi] = [lo - pad / 2, hi + pad / 2];
  }
  return (v) => from + ((v - lo) * (to - from)) / (hi - lo);
}

export function ticks(lo, hi, n = 4) {
  if (hi === lo) return [lo];
  return Array.from({length: n + 1}, (_, i) => lo + ((hi - lo) * i) / n);
}

export function frame(width, height, label, xs, ys, x, y, xLabel) {
  const g = s('g', {class: 'axes'});
  g.append(s('line', {x1: M.left, x2: M.left, y1: M.top, y2: height - M.bottom}),
    s('line', {x1: M.left, x2: width - M.right, y1: height - M.bottom, y2: height - M.bottom}));
  for (const v of ys) {
    g.append(s('text', {x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end'}, tick(v)));
    g.append(s('line', {class: 'grid', x1: M.left, x2: width - M.right, y1: y(v), y2: y(v)}));
  }
  for (const v of xs) g.append(s('text', {x: x(v), y: height - M.bottom + 16, 'text-anchor': 'middle'}, tick(v)));
  if (xLabel) g.append(s('text', {x: width - M.right, y: height - 2, 'text-anchor': 'end', class: 'label'}, xLabel));
  return s('svg', {width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label},
    s('title', {}, label), g);
}

/** series: [{name, color, buckets: [{first, step, min, max, last}]}] */
export function historyChart(series, {width, height = 220, label}) {
  const all = series.flatMap((x) => x.buckets);
  if (!all.length) return h('p', {class: 'muted'}, 'No values logged.');
  const x = scale(Math.min(...all.map((b) => b.first)), Math.max(...all.map((b) => b.step)), M.left, width - M.right);
  const ylo = Math.min(...all.map((b) => b.min));
  const yhi = Math.max(...all.map((b) => b.max));
  const y = scale(ylo, yhi, height - M.bottom, M.top);
  const xlo = Math.min(...all.map((b) => b.first));
  const xhi = Math.max(...all.map((b) => b.step));
  const svg = frame(width, height, label, ticks(xlo, xhi), ticks(ylo, yhi), x, y, 'step');
  for (const {name, color, buckets} of series) {
    const g = s('g', {class: 'series'}, s('title', {}, name));
    if (buckets.some((b) => b.min !== b.max)) {
      const top = buckets.map((b) => `${x(b.step).toFixed(1)},${y(b.max).toFixed(1)}`);
      const bottom = buckets.map((b) => `${x(b.step).toFixed(1)},${y(b.min).toFixed(1)}`).reverse();
      g.append(s('polygon', {points: [...top, ...bottom].join(' '), fill: color, 'fill-opacity': 0.18}));
    }
    if (buckets.length === 1) {
      g.append(s('circle', {cx: x(buckets[0].step), cy: y(buckets[0].last), r: 3, fill: color}));
    } else {
      g.append(s('polyline', {fill: 'none', stroke: color, 'stroke-width': 1.6,
        points: buckets.map((b) => `${x(b.step).toFixed(1)},${y(b.last).toFixed(1)}`).join(' ')}));
    }
    svg.append(g);
  }
  return svg;
}

/** points: [{x, y, name, color}] */
export function scatterChart(points, {width, height = 280, xLabel, yLabel}) {
  const label = `${yLabel} against ${xLabel}`;
  if (!points.length) return h('p', {class: 'muted'}, `No run has both ${xLabel} and ${yLabel}.`);
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const pad = (lo, hi) => [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05];
  const x = scale(...pad(Math.min(...xs), Math.max(...xs)), M.left, width - M.right);
  const y = scale(...pad(Math.min(...ys), Math.max(...ys)), height - M.bottom, M.top);
  const svg = frame(width, height, label, ticks(Math.min(...xs), Math.max(...xs)),
    ticks(Math.min(...ys), Math.max(...ys)), x, y, xLabel);
  for (const p of points) {
    svg.append(s('circle', {cx: x(p.x), cy: y(p.y), r: 5, fill: p.color, class: 'dot'},
      s('title', {}, `${p.name}: ${xLabel} ${tick(p.x)}, ${yLabel} ${tick(p.y)}`)));
  }
  return svg;
}

export function legend(series) {
  return h('ul', {class: 'legend'}, series.map(({name, color}) =>
    h('li', {}, s('svg', {width: 12, height: 12, 'aria-hidden': 'true'},
      s('rect', {width: 12, height: 12, rx: 2, fill: color})), name)));
}
