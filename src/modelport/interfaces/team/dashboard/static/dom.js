// Every element is built with DOM APIs and every datum enters as text: no innerHTML anywhere,
// so a '<script>' in a run name or a tag is shown, never run.
const SVG = 'http://www.w3.org/2000/svg';

function fill(el, props, children) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'checked' || k === 'value' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** h('a', {href: '#/runs'}, 'Runs'): an HTML element; strings become text nodes. */
export const h = (tag, props, ...children) => fill(document.createElement(tag), props, children);

/** Replace ``el``'s children; null and false (a section not shown) are left out. */
export const put = (el, ...children) => el.replaceChildren(...children.flat(Infinity)
  .filter((c) => c != null && c !== false));

/** An SVG element, the same way. */
export const s = (tag, props, ...children) => fill(document.createElementNS(SVG, tag), props, children);

export function table(headers, rows, caption) {
  return h('div', {class: 'scroll'}, h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

/** A definition list of [label, value] pairs, empty values shown as a dash. */
export const facts = (pairs) => h('dl', {class: 'facts'},
  pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v == null || v === '' ? '—' : v)]));

export const section = (title, ...body) => h('section', {}, h('h2', {}, title), ...body);

export function when(seconds) {
  if (seconds == null) return '—';
  const d = new Date(seconds * 1000);
  return d.toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});
}

export function duration(seconds) {
  if (seconds == null) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** An axis label: three significant digits are enough to read a chart. */
export const tick = (x) => (Number.isInteger(x) || Math.abs(x) >= 1e4 ? num(Math.round(x)) : num(+x.toPrecision(3)));

export function num(x) {
  if (x == null || x === '') return '—';
  if (typeof x !== 'number') return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(3) : String(+x.toPrecision(5));
}

/** A digest shown short, the whole value in its title and copyable as text. */
export const digest = (d) => d ? h('code', {title: d}, d.length > 16 ? `${d.slice(0, 12)}…` : d) : '—';

export function busy(el, text = 'Loading…') {
  el.replaceChildren(h('p', {class: 'muted', role: 'status'}, text));
}
