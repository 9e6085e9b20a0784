// Compare runs: their params and metrics side by side (differences marked), every metric's
// history on one chart per metric (downsampled by the server to the chart's width), and a
// scatter of any two columns.
import {api, path} from './api.js';
import {PALETTE, historyChart, legend, scatterChart} from './charts.js';
import {busy, h, num, put, section} from './dom.js';
import {parallelChart} from './parallel.js';

const MAX_RUNS = 20;

function numeric(run, column) {
  const [kind, ...rest] = column.split('.');
  const key = rest.join('.');
  const v = kind === 'metrics' ? run.metrics[key] : kind === 'params' ? parseFloat(run.params[key])
    : run[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function sideBySide(runs, kind) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r[kind])))].sort();
  if (!keys.length) return h('p', {class: 'muted'}, `No ${kind}.`);
  return h('div', {class: 'scroll'}, h('table', {class: 'compare'},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, kind === 'metrics' ? 'Metric' : 'Param'),
      runs.map((r) => h('th', {scope: 'col'}, h('a', {href: `#/runs/${encodeURIComponent(r.id)}`}, r.name || r.id))))),
    h('tbody', {}, keys.map((k) => {
      const values = runs.map((r) => r[kind][k]);
      const differ = new Set(values.map(String)).size > 1;
      return h('tr', {class: differ ? 'differ' : null}, h('th', {scope: 'row'}, k),
        values.map((v) => h('td', {class: kind === 'metrics' ? 'number' : null}, kind === 'metrics' ? num(v) : v ?? '—')));
    }))));
}

export async function comparePage(main, {params, signal}) {
  const ids = (new URLSearchParams(params[0]).get('ids') ?? '').split(',').filter(Boolean).slice(0, MAX_RUNS);
  busy(main);
  const runs = await api('/runs/get', {method: 'POST', body: {ids}, signal});
  const series = runs.map((r, i) => ({run: r, name: r.name || r.id, color: PALETTE[i % PALETTE.length]}));
  const charts = h('div', {class: 'charts'});
  const scatter = h('div', {class: 'scatter'});
  const parallel = h('div', {class: 'scroll'});
  put(main, h('h1', {}, `Compare ${runs.length} runs`), legend(series),
    section('Metric histories', charts), section('Parallel coordinates', parallel),
    section('Scatter', scatter),
    section('Metrics', sideBySide(runs, 'metrics')), section('Params', sideBySide(runs, 'params')));

  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const figures = metricKeys.map((key) => {
    const figure = h('figure', {class: 'chart'}, h('figcaption', {}, key), h('p', {class: 'muted'}, 'Loading…'));
    charts.append(figure);
    return figure;
  });
  drawScatter(scatter, runs, series, metricKeys);
  parallel.replaceChildren(parallelChart(runs, series,
    {width: Math.max(480, Math.min(1200, Math.floor(parallel.clientWidth || 720)))}));
  await Promise.all(metricKeys.map(async (key, i) => {
    const figure = figures[i];
    const width = Math.max(240, Math.floor(figure.clientWidth || 600));
    const histories = await Promise.all(series.map(({run}) => (key in run.metrics
      ? api(`/runs/${path(run.id, 'metrics', key)}/buckets?n=${width - 72}`, {signal})
      : {points: 0, buckets: []})));
    if (histories.every((x) => x.points <= 1)) {
      figure.remove(); // one value a run: the table below says it better than a chart
      return;
    }
    const lines = series.map((x, j) => ({...x, buckets: histories[j].buckets}));
    figure.lastChild.replaceWith(historyChart(lines, {width, label: `${key} by step`}));
  }));
}

function drawScatter(box, runs, series, metricKeys) {
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const columns = [...metricKeys.map((k) => `metrics.${k}`), ...paramKeys.map((k) => `params.${k}`),
    'attributes.duration', 'attributes.start_time'];
  const pick = (id, label, chosen) => {
    const select = h('select', {id}, columns.map((c) => h('option', {value: c, selected: c === chosen}, c)));
    return [h('label', {for: id}, label), select];
  };
  const [xl, xs] = pick('scatter-x', 'x', columns[1] ?? columns[0]);
  const [yl, ys] = pick('scatter-y', 'y', columns[0]);
  const plot = h('div', {});
  const draw = () => {
    const points = runs.map((r, i) => ({x: numeric(r, xs.value), y: numeric(r, ys.value),
      name: series[i].name, color: series[i].color})).filter((p) => p.x !== null && p.y !== null);
    const width = Math.max(240, Math.min(720, Math.floor(box.clientWidth || 600)));
    plot.replaceChildren(scatterChart(points, {width, xLabel: xs.value, yLabel: ys.value}));
  };
  xs.addEventListener('change', draw);
  ys.addEventListener('change', draw);
  box.replaceChildren(h('div', {class: 'toolbar'}, xl, xs, yl, ys), plot);
  draw();
}
