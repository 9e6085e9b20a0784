// Jobs: batch predictions, forecasts and monitoring checks (the store's job records,
// updated live from the change feed; a check shows its decision), and the searches (tune,
// automl) and retrains, whose trials and decisions are runs.
import {api} from './api.js';
import {duration, h, num, put, section, table, when} from './dom.js';
import {follow} from './feed.js';

const LIMIT = 200;
const RUNS_EVERY_MS = 5000;  // searches and retrains are runs: re-read, they have no feed

function badge(status) {
  return h('span', {class: `chip status-${String(status).replace(/[^a-z_]/g, '')}`}, status);
}

function progress(job) {
  const done = job.rows + job.rows_failed;
  const expected = Number(job.options?.expected_rows) || null;
  const bar = job.status === 'running'
    ? h('progress', {max: expected ?? null, value: expected ? Math.min(done, expected) : null,
      'aria-label': `Progress of job ${job.id.slice(0, 12)}`})
    : null;
  const rate = job.status === 'running' && job.started
    ? ` · ${num(Math.round(done / Math.max(Date.now() / 1000 - job.started, 1e-3)))} rows/s` : '';
  return h('div', {class: 'progress'}, bar,
    h('span', {}, `${num(job.rows)} rows`, job.rows_failed ? `, ${num(job.rows_failed)} failed` : '',
      ` · ${num(job.parts)} parts${rate}`));
}

/** What a monitoring check looked at: an endpoint (its page) or a model reference. */
function checked(job) {
  const target = String(job.options?.target ?? job.model);
  const endpoint = target !== job.model && !/[:@]/.test(target);
  return h('a', {href: endpoint ? `#/endpoints/${encodeURIComponent(target)}`
    : `#/models/${encodeURIComponent(job.model)}`}, target);
}

/** A monitoring check's decision and the numbers it was taken on (its job's result). */
function decision(job) {
  const r = job.result;
  if (!r) return h('span', {title: job.input}, job.input);
  const drifted = Array.isArray(r.drifted) ? r.drifted.map(String) : [];  // any client may write one
  const scores = r.challenger
    ? ` · ${r.challenger} ${num(r.challenger_score)} vs champion ${num(r.champion_score)}${r.metric ? ` (${r.metric})` : ''}`
    : '';
  return h('span', {class: 'decision'}, badge(r.action),
    h('span', {title: drifted.join('\n')}, ` ${drifted.length} drifted`), scores,
    r.run_id ? [' · ', h('a', {href: `#/runs/${encodeURIComponent(r.run_id)}`, title: 'The run holding the reports'}, 'run')] : null);
}

function jobRow(job) {
  const monitor = job.kind === 'monitor';
  return h('tr', {'data-job': job.id},
    h('td', {}, h('code', {title: job.id}, job.id.slice(0, 12))), h('td', {}, job.kind),
    h('td', {}, monitor ? checked(job)
      : h('a', {href: `#/models/${encodeURIComponent(job.model)}`}, `${job.model}:${job.version}`)),
    h('td', {}, badge(job.status)),
    h('td', {}, monitor ? `${num(job.rows)} logged rows` : progress(job)),
    h('td', {}, monitor ? decision(job)
      : [h('span', {title: job.input}, job.input), ' → ', h('span', {title: job.output}, job.output)]),
    h('td', {}, when(job.started)), h('td', {}, duration(job.duration)),
    h('td', {class: 'error'}, job.error ?? ''));
}

const HEAD = ['Job', 'Kind', 'Model', 'Status', 'Progress', 'Input → output or decision', 'Started', 'Duration', 'Error'];

/** tune and automl trials grouped by study: one row a search. */
function searches(runs) {
  const studies = new Map();
  for (const run of runs) {
    const name = run.tags.study ?? run.experiment;
    const s = studies.get(name) ?? {name, kind: run.tags.kind, trials: 0, running: 0, failed: 0,
      started: run.start_time, last: run.start_time, runs: []};
    s.trials += 1;
    s.running += run.status === 'RUNNING' ? 1 : 0;
    s.failed += run.status === 'FAILED' ? 1 : 0;
    s.started = Math.min(s.started, run.start_time);
    s.last = Math.max(s.last, run.start_time + (run.duration ?? 0));
    studies.set(name, s);
  }
  return [...studies.values()].sort((a, b) => b.last - a.last);
}

async function runsOf(kind, signal) {
  const page = await api('/runs/search', {method: 'POST', signal,
    body: {filter: `tags.kind = '${kind}'`, order_by: ['attributes.start_time DESC'], max_results: 1000}});
  return page.runs;
}

export async function jobsPage(main, {signal}) {
  const rows = new Map();  // job id → record
  const body = h('tbody', {});
  const live = h('span', {class: 'muted', role: 'status'}, 'Live');
  const studies = h('div', {});
  const retrains = h('div', {});
  put(main, h('h1', {}, 'Jobs'),
    section('Batch predictions, forecasts and monitoring checks', h('div', {class: 'toolbar'}, live),
      h('div', {class: 'scroll'}, h('table', {class: 'jobs'},
        h('thead', {}, h('tr', {}, HEAD.map((x) => h('th', {scope: 'col'}, x)))), body))),
    section('Searches (tune, automl)', studies), section('Retrains', retrains));

  function render() {
    const jobs = [...rows.values()].sort((a, b) => b.started - a.started).slice(0, LIMIT);
    body.replaceChildren(...(jobs.length ? jobs.map(jobRow)
      : [h('tr', {}, h('td', {colspan: HEAD.length, class: 'muted'},
        'No jobs yet — start one with: modelport batch predict MODEL DATA OUT'))]));
  }

  async function reload() {
    const jobs = await api(`/jobs?limit=${LIMIT}`, {signal});
    rows.clear();
    for (const job of jobs) rows.set(job.id, job);
    render();
  }

  async function reloadRuns() {
    const [tune, automl, retrain] = await Promise.all(
      ['tune', 'automl', 'retrain'].map((k) => runsOf(k, signal)));
    const found = searches([...tune, ...automl]);
    studies.replaceChildren(found.length ? table(['Study', 'Kind', 'Trials', 'Running', 'Failed', 'Started', 'Last activity'],
      found.map((s) => [h('a', {href: `#/runs?filter=${encodeURIComponent(`tags.study = '${s.name.replaceAll("'", "''")}'`)}`}, s.name),
        s.kind, String(s.trials), s.running ? badge(`${s.running} running`) : '0', String(s.failed),
        when(s.started), when(s.last)]))
      : h('p', {class: 'muted'}, 'No searches yet — start one with: modelport tune'));
    retrains.replaceChildren(retrain.length ? table(['Run', 'Model', 'Decision', 'Metric', 'Champion', 'Challenger', 'Started'],
      retrain.map((r) => [h('a', {href: `#/runs/${encodeURIComponent(r.id)}`}, r.name || r.id), r.tags.model ?? '—',
        badge(r.tags.decision ?? r.status), r.tags.metric ?? '—',
        `${r.tags.champion ?? '—'} (${num(r.metrics.champion_score)})`,
        `${r.tags.challenger ?? '—'} (${num(r.metrics.challenger_score)})`, when(r.start_time)]))
      : h('p', {class: 'muted'}, 'No retrains yet.'));
  }

  await Promise.all([reload(), reloadRuns()]);
  const reread = () => reload().catch(() => {});
  follow('topics=job', {signal,
    // (re)connected: re-read, so nothing is lost between the first read and the stream
    onState: (state) => {
      if (state === 'live') reread();
      live.textContent = state === 'live' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : state;
    },
    onEvent: (kind, job) => {
      if (kind === 'reset') return reread();  // the server lost our place: read it all again
      rows.set(job.id, job);
      live.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
      render();
    }});
  const timer = setInterval(() => reloadRuns().catch(() => {}), RUNS_EVERY_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
}
