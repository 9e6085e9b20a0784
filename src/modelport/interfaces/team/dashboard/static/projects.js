// The project picker: every page shows one project's objects, the one chosen here among those
// GET /api/v1/projects lists for this key. The choice travels in the URL (?project=NAME before
// the fragment: a link to any page is shareable, and the pages' own '#/…' links keep it) and is
// remembered in localStorage for the next visit. Neither is trusted: a name is used only if the
// listing holds it. A stale name, another key's project or markup in a crafted link falls back
// to default (or, for a key that does not reach default, to the first project it reaches).
import {project} from './api.js';
import {h, put} from './dom.js';

const REMEMBERED = 'modelport.project';
const DEFAULT = 'default';
const KINDS = [['runs', 'run'], ['models', 'model'], ['endpoints', 'endpoint'], ['jobs', 'job'],
  ['streams', 'stream']];

const picker = document.getElementById('project');
const note = document.getElementById('project-note');

function remembered() {
  try { return localStorage.getItem(REMEMBERED); } catch { return null; }  // storage may be off
}

function remember(name) {
  try { localStorage.setItem(REMEMBERED, name); } catch { /* then it is only in the URL */ }
}

/** The project to show: the URL's, else the remembered one, else default, each only if `listed`
 *  holds it; `refused`: the URL named one it does not. */
export function pick(listed, asked, stored) {
  const names = new Set(listed.map((p) => p.name));
  const name = [asked, stored, DEFAULT].find((n) => typeof n === 'string' && names.has(n));
  return {name: name ?? listed[0]?.name ?? DEFAULT, refused: asked != null && !names.has(asked)};
}

const counts = (p) => KINDS.filter(([k]) => p[k] > 0)
  .map(([k, one]) => `${p[k]} ${p[k] === 1 ? one : k}`).join(', ') || 'empty';

/** This page's URL for project `name` at `fragment` ('#/models'). */
export function inProject(name, fragment) {
  const query = new URLSearchParams(location.search);
  query.set('project', name);
  return `${location.pathname}?${query}${fragment}`;
}

/** Choose the project among `listed` (null: the key may not list them — the server's default,
 *  no picker) and show the picker; choosing another loads `page()` (a fragment, '#/runs') of
 *  that project afresh, so nothing the pages kept of the old one stays. */
export function chooseProject(listed, page) {
  if (listed == null) {
    project.name = null;
    picker.parentElement.hidden = true;
    return;
  }
  const asked = new URLSearchParams(location.search).get('project');
  const {name, refused} = pick(listed, asked, remembered());
  project.name = name;
  remember(name);
  history.replaceState(history.state, '', inProject(name, location.hash));
  document.title = `${name} · modelport`;
  put(picker, listed.map((p) => h('option', {value: p.name, selected: p.name === name},
    `${p.name} (${counts(p)})`)));
  picker.onchange = () => location.assign(inProject(picker.value, page()));
  picker.parentElement.hidden = false;
  note.textContent = refused ? `The link names a project this key does not reach: showing ${name}.` : '';
  note.hidden = !refused;
}

/** Logged out: no project until the next key's are listed. */
export function forgetProject() {
  project.name = null;
  picker.parentElement.hidden = true;
  note.hidden = true;
}
