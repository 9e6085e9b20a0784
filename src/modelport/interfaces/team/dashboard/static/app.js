// The shell: who is logged in, and which page the URL's fragment names.
import {api, ApiError, session} from './api.js';
import {h, put} from './dom.js';
import {runsPage} from './runs.js';
import {runPage} from './run.js';
import {comparePage} from './compare.js';
import {modelPage, modelsPage} from './models.js';
import {endpointPage, endpointsPage} from './endpoints.js';
import {studiesPage, studyPage} from './studies.js';
import {jobsPage} from './jobs.js';
import {streamsPage} from './streams.js';
import {devicesPage} from './devices.js';
import {monitorPage} from './monitor.js';
import {chooseProject, forgetProject} from './projects.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const logout = document.getElementById('logout');

/** The key's identity; `can('write')` hides what the server would refuse. */
export const me = {
  id: null, scopes: [], local: false,
  // the server's ladder: read < write < deploy < admin, each granting those below it
  can(scope) {
    const ladder = ['read', 'write', 'deploy', 'admin'];
    const at = ladder.indexOf(scope);
    return this.scopes.some((s) => s === scope || (at >= 0 && ladder.indexOf(s) >= at));
  },
  // The one place that says who may release (start and drive a rollout, move an alias: the
  // deploy scope those routes ask for) and export a version to ONNX (the registry's write).
  canRelease() { return this.can('deploy'); },
  canExport() { return this.can('write'); },
};

const ROUTES = [
  [/^#\/runs(?:\?(.*))?$/, runsPage, 'runs'],
  [/^#\/runs\/([^/?]+)$/, runPage, 'runs'],
  [/^#\/compare\?(.*)$/, comparePage, 'runs'],
  [/^#\/models\/?$/, modelsPage, 'models'],
  [/^#\/models\/([^/?]+)$/, modelPage, 'models'],
  [/^#\/studies\/?$/, studiesPage, 'studies'], [/^#\/studies\/([^/?]+)$/, studyPage, 'studies'],
  [/^#\/endpoints\/?$/, endpointsPage, 'endpoints'], [/^#\/endpoints\/([^/?]+)$/, endpointPage, 'endpoints'],
  [/^#\/jobs\/?$/, jobsPage, 'jobs'],
  [/^#\/streams\/?$/, streamsPage, 'streams'],
  [/^#\/devices\/?$/, devicesPage, 'devices'],
  [/^#\/monitor\/?$/, monitorPage, 'monitor'],
];

/** The projects the key reaches, or null where it may not list them (a predict key). */
const reached = () => api('/projects').catch((e) => {
  if (e instanceof ApiError && e.status === 403) return null;
  throw e;
});

let nav = 'runs';  // the page the URL shows: where a change of project lands
let served = false;  // a key has been let in in this document

async function identify() {
  try {
    const [identity, listed] = await Promise.all([api('/whoami'), reached()]);
    Object.assign(me, identity);
    chooseProject(listed, () => `#/${nav}`);
    served = true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return false;
    throw e;
  }
  who.textContent = me.local ? 'local workspace' : `${me.name} · ${me.scopes.join(', ')}`;
  logout.hidden = me.local;
  return true;
}

function loginPage(message) {
  const input = h('input', {id: 'key', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', 'aria-describedby': 'key-help'});
  const form = h('form', {class: 'login', onsubmit: (event) => {
    event.preventDefault();
    session.key = input.value.trim();
    // after a log out, a fresh document: nothing the pages kept of the last key's projects
    // (the runs filter's completions) is offered to the next
    if (served) location.reload(); else route();
  }},
  h('h1', {}, 'Log in'),
  message ? h('p', {class: 'error', role: 'alert'}, message) : null,
  h('label', {for: 'key'}, 'API key'), input,
  h('p', {id: 'key-help', class: 'muted'},
    'Kept in this tab only (sessionStorage) and sent as a header. ',
    'Create one with: modelport keys create NAME --scope read'),
  h('button', {type: 'submit'}, 'Log in'));
  put(main, form);
  input.focus();
}

let running = null;

async function route() {
  const hash = location.hash && location.hash !== '#' ? location.hash : '#/runs';
  running?.abort();
  const controller = new AbortController();
  running = controller;
  try {
    if (!me.id && !(await identify())) {
      const tried = session.key;
      session.clear();
      return loginPage(tried ? 'That key is unknown or revoked.' : null);
    }
    for (const [pattern, page, where] of ROUTES) {
      const match = hash.match(pattern);
      if (!match) continue;
      nav = where;
      for (const a of document.querySelectorAll('nav a')) {
        a.toggleAttribute('aria-current', a.dataset.page === nav);
      }
      const params = match.slice(1).map((p) => p ?? '');  // still URL-encoded
      await page(main, {params, signal: controller.signal, me});
      return;
    }
    put(main, h('p', {}, 'No such page. '), h('a', {href: '#/runs'}, 'See the runs'));
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e instanceof ApiError && e.status === 401) {
      me.id = null;
      session.clear();
      return loginPage(e.message);
    }
    put(main, h('p', {class: 'error', role: 'alert'}, e.message));
  }
}

logout.addEventListener('click', () => {
  session.clear();
  me.id = null;
  forgetProject();
  who.textContent = '';
  logout.hidden = true;
  loginPage('Logged out.');
});

window.addEventListener('hashchange', () => {
  route();
  main.focus({preventScroll: true});
});
route();
