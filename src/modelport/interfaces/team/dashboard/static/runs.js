// Runs: the server's keyset search, one page at a time; sort by any column, filter in the
// filter language (with completion), choose columns, select runs to compare.
import {api} from './api.js';
import {attachCompletion, term} from './complete.js';
import {duration, h, num, put, when} from './dom.js';

const PAGE = 50;
const COLUMNS = 'modelport.columns';
const FIXED = [
  {id: 'name', label: 'Name', sort: 'attributes.name'},
  {id: 'status', label: 'Status', sort: 'attributes.status'},
  {id: 'start_time', label: 'Started', sort: 'attributes.start_time'},
  {id: 'duration', label: 'Duration', sort: 'attributes.duration'},
];
const known = {metrics: new Set(), params: new Set(), tags: new Set()};

function cell(run, column) {
  if (column.kind === 'metrics') return num(run.metrics[column.key]);
  if (column.kind === 'params') return run.params[column.key] ?? '—';
  if (column.kind === 'tags') return run.tags[column.key] ?? '—';
  if (column.id === 'name') return h('a', {href: `#/runs/${encodeURIComponent(run.id)}`}, run.name || run.id);
  if (column.id === 'start_time') return when(run.start_time);
  if (column.id === 'duration') return duration(run.duration);
  return run[column.id] ?? '—';
}

function savedColumns() {
  try { return JSON.parse(localStorage.getItem(COLUMNS)); } catch { return null; }
}

export async function runsPage(main, {params, signal}) {
  const query = new URLSearchParams(params[0]);
  const state = {
    filter: query.get('filter') ?? '',
    order: query.get('order') ?? 'attributes.start_time DESC',
    tokens: [null], // the token of each page seen so far: page i starts at tokens[i]
    page: 0,
    next: null,
    runs: [],
    chosen: savedColumns(), // ["metrics.acc", ...]; null until the first page suggests some
    selected: new Set(),
  };

  const filter = h('input', {id: 'filter', type: 'search', value: state.filter, class: 'grow',
    placeholder: "metrics.accuracy > 0.9 and params.max_depth = '5'", spellcheck: 'false',
    'aria-label': 'Filter runs'});
  const completion = attachCompletion(filter, () =>
    ['metrics', 'params', 'tags'].flatMap((k) => [...known[k]].sort().map((key) => term(k, key))));
  const message = h('p', {class: 'error', role: 'alert', hidden: true});
  const chooser = h('div', {class: 'chooser'});
  const compare = h('button', {type: 'button', disabled: true, onclick: () => {
    location.hash = `#/compare?ids=${[...state.selected].map(encodeURIComponent).join(',')}`;
  }}, 'Compare');
  const counter = h('span', {class: 'muted', role: 'status'});
  const prev = h('button', {type: 'button', onclick: () => go(state.page - 1)}, '← Previous');
  const next = h('button', {type: 'button', onclick: () => go(state.page + 1)}, 'Next →');
  const tableEl = h('table', {class: 'runs'});

  const columns = () => [...FIXED, ...(state.chosen ?? []).map((t) => {
    const [kind, ...rest] = t.split('.');
    const key = rest.join('.');
    return {id: t, kind, key, label: key, sort: term(kind, key)};
  })];

  function remember() {
    const q = new URLSearchParams();
    if (state.filter) q.set('filter', state.filter);
    if (state.order !== 'attributes.start_time DESC') q.set('order', state.order);
    const text = q.toString();
    history.replaceState(null, '', `#/runs${text ? `?${text}` : ''}`);
  }

  async function load() {
    const body = {filter: state.filter || null, order_by: [state.order], max_results: PAGE,
      page_token: state.tokens[state.page]};
    main.setAttribute('aria-busy', 'true');
    try {
      const page = await api('/runs/search', {method: 'POST', body, signal});
      message.hidden = true;
      state.runs = page.runs;
      state.next = page.next_page_token;
      for (const run of page.runs) {
        for (const kind of ['metrics', 'params', 'tags']) {
          for (const k of Object.keys(run[kind])) known[kind].add(k);
        }
      }
      if (state.chosen === null) {
        state.chosen = [...[...known.metrics].sort().slice(0, 4).map((k) => `metrics.${k}`),
          ...[...known.params].sort().slice(0, 3).map((k) => `params.${k}`)];
      }
    } catch (e) {
      if (e.name === 'AbortError' || e.status === 401) throw e;
      message.textContent = e.message;  // the last good page stays below the message
      message.hidden = false;
    } finally {
      main.removeAttribute('aria-busy');
    }
    render();
  }

  function go(page) {
    if (page > state.page) state.tokens[page] = state.next;
    state.page = page;
    return load();
  }

  function sortBy(column) {
    const [current, dir] = state.order.split(' ');
    const desc = current === column.sort ? dir !== 'DESC' : column.kind === 'metrics';
    state.order = `${column.sort}${desc ? ' DESC' : ''}`;
    state.tokens = [null];
    state.page = 0;
    remember();
    return load();
  }

  function renderChooser() {
    const boxes = ['metrics', 'params', 'tags'].flatMap((kind) => [...known[kind]].sort().map((key) => {
      const id = `${kind}.${key}`;
      return h('label', {}, h('input', {type: 'checkbox', checked: state.chosen.includes(id),
        onchange: (e) => {
          state.chosen = e.target.checked ? [...state.chosen, id] : state.chosen.filter((c) => c !== id);
          localStorage.setItem(COLUMNS, JSON.stringify(state.chosen));
          render();
        }}), ` ${kind === 'metrics' ? '' : `${kind}.`}${key}`);
    }));
    chooser.replaceChildren(h('details', {}, h('summary', {}, 'Columns'),
      h('div', {class: 'boxes'}, boxes.length ? boxes : h('span', {class: 'muted'}, 'No metrics or params yet'))));
  }

  function render() {
    const cols = columns();
    const [orderTerm, orderDir] = state.order.split(' ');
    const all = h('input', {type: 'checkbox', 'aria-label': 'Select all runs on this page',
      checked: state.runs.length > 0 && state.runs.every((r) => state.selected.has(r.id)),
      onchange: (e) => {
        for (const r of state.runs) e.target.checked ? state.selected.add(r.id) : state.selected.delete(r.id);
        render();
      }});
    tableEl.replaceChildren(
      h('thead', {}, h('tr', {}, h('th', {scope: 'col', class: 'pick'}, all), cols.map((c) => {
        const sorted = orderTerm === c.sort;
        return h('th', {scope: 'col', 'aria-sort': sorted ? (orderDir === 'DESC' ? 'descending' : 'ascending') : null,
          class: c.kind === 'metrics' ? 'number' : null, title: c.id},
        h('button', {type: 'button', class: 'sort', onclick: () => sortBy(c)}, c.label,
          sorted ? (orderDir === 'DESC' ? ' ▼' : ' ▲') : ''));
      }))),
      h('tbody', {}, state.runs.map((run) => h('tr', {'data-run': run.id},
        h('td', {class: 'pick'}, h('input', {type: 'checkbox', checked: state.selected.has(run.id),
          'aria-label': `Select run ${run.name || run.id}`,
          onchange: (e) => {
            e.target.checked ? state.selected.add(run.id) : state.selected.delete(run.id);
            renderCount();
          }})),
        cols.map((c) => h('td', {class: c.kind === 'metrics' ? 'number' : null}, cell(run, c)))))));
    if (!state.runs.length) {
      tableEl.append(h('tbody', {}, h('tr', {}, h('td', {colspan: cols.length + 1, class: 'muted'},
        'No runs match.'))));
    }
    renderChooser();
    renderCount();
  }

  function renderCount() {
    const first = state.page * PAGE + 1;
    counter.textContent = state.runs.length
      ? `Runs ${first}–${first + state.runs.length - 1}${state.next ? '' : ' (last page)'}`
      : '';
    prev.disabled = state.page === 0;
    next.disabled = !state.next;
    compare.disabled = state.selected.size < 2;
    compare.textContent = `Compare${state.selected.size ? ` (${state.selected.size})` : ''}`;
  }

  const form = h('form', {class: 'toolbar', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    state.filter = filter.value.trim();
    state.tokens = [null];
    state.page = 0;
    remember();
    load();
  }}, h('div', {class: 'combo grow'}, filter, completion), h('button', {type: 'submit'}, 'Filter'));

  put(main, h('h1', {}, 'Runs'), form, message,
    h('div', {class: 'toolbar'}, chooser, compare, h('span', {class: 'grow'}), counter, prev, next),
    h('div', {class: 'scroll'}, tableEl));
  await load();
}
