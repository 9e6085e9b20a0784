// Edge devices: the fleet as last recorded (`modelport edge devices --record` copies the
// devices' MQTT statuses into the store): what each runs, its place in its group's
// rollout (full release, canary, fallback, behind), health, rollbacks and last sighting.
import {api} from './api.js';
import {digest, h, num, put, when} from './dom.js';

const EVERY_MS = 5000;
const chip = (text, kind) => h('span', {class: `chip status-${String(kind ?? text).replace(/[^a-z_]/g, '')}`}, text);

function row(d) {
  const m = d.metrics ?? {};
  return h('tr', {'data-device': `${d.group}/${d.device}`},
    h('th', {scope: 'row'}, d.device), h('td', {}, d.group), h('td', {}, chip(d.role)),
    h('td', {}, d.model ? h('a', {href: `#/models/${encodeURIComponent(d.model)}`}, `${d.model}:${d.version}`) : '—'),
    h('td', {}, digest(d.digest)), h('td', {}, chip(d.state)),
    h('td', {}, chip(d.healthy ? 'healthy' : 'unhealthy', d.healthy ? 'ok' : 'drift')),
    h('td', {}, d.online ? 'online' : chip('offline', 'warn')),
    h('td', {class: 'number'}, String(d.rollbacks)),
    h('td', {class: 'number'}, num(m.predictions)), h('td', {class: 'number'}, num(m.latency_ms_p99)),
    h('td', {class: 'error'}, d.last_error ?? ''), h('td', {}, when(d.last_seen)));
}

const HEAD = ['Device', 'Group', 'Rollout role', 'Model', 'Bundle', 'State', 'Health', 'Online',
  'Rollbacks', 'Predictions', 'p99 ms', 'Last error', 'Last seen'];

export async function devicesPage(main, {signal}) {
  const body = h('tbody', {});
  const summary = h('p', {class: 'muted', role: 'status'});
  put(main, h('h1', {}, 'Edge devices'), summary, h('div', {class: 'scroll'}, h('table', {class: 'devices'},
    h('thead', {}, h('tr', {}, HEAD.map((x) => h('th', {scope: 'col'}, x)))), body)));

  async function load() {
    const devices = await api('/devices', {signal});
    body.replaceChildren(...(devices.length ? devices.map(row) : [h('tr', {}, h('td', {colspan: HEAD.length, class: 'muted'},
      'No devices recorded yet — record them with: modelport edge devices --record'))]));
    const groups = new Set(devices.map((d) => d.group));
    const rolled = devices.reduce((n, d) => n + d.rollbacks, 0);
    summary.textContent = `${devices.length} device${devices.length === 1 ? '' : 's'} in ${groups.size} group${groups.size === 1 ? '' : 's'}`
      + ` · ${devices.filter((d) => d.role === 'canary').length} in a canary · ${rolled} rollback${rolled === 1 ? '' : 's'}`;
  }

  await load();
  const timer = setInterval(() => load().catch(() => {}), EVERY_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
}
