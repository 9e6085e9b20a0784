// Streams: every consumer's health from its heartbeats (state, events/s, lag, pending
// labels), its drift alarms and its last checkpoint. Heartbeats come every few seconds, so
// the page re-reads the list as often (streams are not on the change feed).
import {api} from './api.js';
import {h, num, put, when} from './dom.js';

const EVERY_MS = 2000;
const STALE_S = 10;  // as core/store/streams.STALE_AFTER: no heartbeat for this long = lost

function state(s) {
  const lost = s.state === 'running' && Date.now() / 1000 - s.updated >= STALE_S;
  const shown = lost ? 'lost' : s.state;
  return h('span', {class: `chip status-${shown.replace(/[^a-z_]/g, '')}`,
    title: lost ? `no heartbeat since ${when(s.updated)}` : null}, shown);
}

function alarms(drift) {
  if (!drift || (!drift.error_drifts && !Object.keys(drift.feature_drifts ?? {}).length)) {
    return h('span', {class: 'muted'}, 'none');
  }
  const features = Object.entries(drift.feature_drifts ?? {}).sort((a, b) => b[1] - a[1]);
  const last = drift.last;
  return h('div', {class: 'alarms'},
    drift.error_drifts ? h('span', {class: 'chip status-drift'}, `error ×${drift.error_drifts}`) : null,
    features.map(([name, n]) => h('span', {class: 'chip status-warn'}, `${name} ×${n}`)),
    last ? h('div', {class: 'muted'}, `last: ${last.kind === 'features' ? (last.features ?? []).join(', ') : 'error'}`,
      last.event != null ? ` at event ${num(last.event)}` : '', last.at ? `, ${when(last.at)}` : '') : null);
}

function checkpoint(c) {
  if (!c) return h('span', {class: 'muted'}, 'none yet');
  return h('div', {}, when(c.at), h('div', {class: 'muted'},
    `${num(c.events)} events, ${num(c.labels)} labels`, c.version ? ` · ${c.version}` : ''));
}

function metrics(m) {
  const entries = Object.entries(m ?? {});
  return entries.length ? entries.map(([k, v]) => h('div', {}, `${k} ${num(v)}`)) : '—';
}

const HEAD = ['Stream', 'Consumer', 'Model', 'State', 'Events', 'Events/s', 'Lag', 'Pending labels',
  'Metrics', 'Drift alarms', 'Last checkpoint', 'Last heartbeat'];

export async function streamsPage(main, {signal}) {
  const body = h('tbody', {});
  const status = h('p', {class: 'muted', role: 'status'});
  put(main, h('h1', {}, 'Streams'), status, h('div', {class: 'scroll'}, h('table', {class: 'streams'},
    h('thead', {}, h('tr', {}, HEAD.map((x) => h('th', {scope: 'col'}, x)))), body)));

  async function load() {
    const streams = await api('/streams', {signal});
    body.replaceChildren(...(streams.length ? streams.map((s) => {
      const st = s.stats ?? {};
      return h('tr', {'data-stream': `${s.name}/${s.consumer}`},
        h('th', {scope: 'row'}, s.name), h('td', {}, s.consumer),
        h('td', {}, h('a', {href: `#/models/${encodeURIComponent(s.model.split(/[:@]/)[0])}`}, s.model)),
        h('td', {}, state(s)), h('td', {class: 'number'}, num(st.events ?? 0)),
        h('td', {class: 'number'}, num(st.events_per_second == null ? null : +st.events_per_second.toFixed(1))),
        h('td', {class: 'number'}, num(st.lag)), h('td', {class: 'number'}, num(st.pending)),
        h('td', {}, metrics(st.metrics)), h('td', {}, alarms(st.drift)),
        h('td', {}, checkpoint(s.checkpoint)), h('td', {}, when(s.updated)));
    }) : [h('tr', {}, h('td', {colspan: HEAD.length, class: 'muted'},
      'No streams yet — start one with: modelport stream run MODEL --broker redis://…'))]));
    status.textContent = `${streams.length} consumer${streams.length === 1 ? '' : 's'} · read ${new Date().toLocaleTimeString()}`;
  }

  await load();
  const timer = setInterval(() => load().catch(() => {}), EVERY_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
}
