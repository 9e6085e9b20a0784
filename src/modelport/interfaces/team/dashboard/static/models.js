// Models: every registered name, then one model's versions with their aliases, tags,
// signature, digests, ONNX copy and the run each came from. A key that may do it moves an
// alias, exports a version to ONNX or starts a rollout of one (release.js).
import {api, path} from './api.js';
import {busy, digest, facts, h, num, put, section, table, when} from './dom.js';
import {alertLine, exportButton, rolloutForm} from './release.js';

const modelLink = (name) => h('a', {href: `#/models/${encodeURIComponent(name)}`}, name);
const aliasList = (aliases) => Object.entries(aliases).sort()
  .map(([a, v]) => h('span', {class: 'chip'}, `${a} → v${v}`));

export async function modelsPage(main, {signal}) {
  busy(main);
  const models = await api('/models', {signal});
  put(main, h('h1', {}, 'Models'), models.length
    ? table(['Model', 'Versions', 'Latest', 'Aliases', 'Updated'], models.map((m) => [
      modelLink(m.name), String(m.versions), m.latest_version == null ? '—' : `v${m.latest_version}`,
      aliasList(m.aliases), when(m.updated)]))
    : h('p', {class: 'muted'}, 'No models yet — register one with: modelport models register'));
}

function signature(sig) {
  const rows = (io) => (sig?.[io] ?? []).map((t) => [t.name ?? '—', t.type ?? t.dtype ?? '—',
    t.shape ? JSON.stringify(t.shape) : '—']);
  const inputs = rows('inputs');
  const outputs = rows('outputs');
  if (!inputs.length && !outputs.length) return h('p', {class: 'muted'}, 'No signature.');
  return h('div', {}, table(['Input', 'Type', 'Shape'], inputs), outputs.length
    ? table(['Output', 'Type', 'Shape'], outputs) : null);
}

/** The ONNX copy in one line: its check, or why there is none. */
function onnxFact(v) {
  const o = v.onnx;
  if (v.format === 'onnx') return 'the artifact itself';
  if (!o) return 'no copy — the native runtime serves it';
  if (!o.passed) return h('span', {class: 'error'}, `no copy: ${o.error ?? `parity check failed (max abs difference ${num(o.max_abs_diff)})`}`);
  return h('span', {class: 'onnx-copy'}, `checked copy, ${num(o.size)} bytes: max abs difference ${num(o.max_abs_diff)} ` +
    `over ${o.rows} rows, labels agree ${num(+(100 * o.labels_agree).toFixed(2))} % `, digest(o.digest));
}

function version(v, action, open) {
  return h('details', {class: 'version', id: `v${v.version}`, open},
    h('summary', {}, h('strong', {}, `v${v.version}`), ' ', v.format, ' ',
      v.aliases.map((a) => h('span', {class: 'chip'}, a)), ' ', h('span', {class: 'muted'}, when(v.created))),
    facts([
      ['Run', v.run_id ? h('a', {href: `#/runs/${encodeURIComponent(v.run_id)}`}, v.run_id) : null],
      ['Dataset digest', digest(v.dataset_digest)],
      ['Artifact SHA-256', digest(v.artifact_digest)], ['Artifact size', `${num(v.artifact_size)} bytes`],
      ['Sample digest', digest(v.sample_digest)], ['Profile digest', digest(v.profile_digest)],
      ['ONNX', [onnxFact(v), action ? [' ', action] : null]], ['Description', v.description]]),
    Object.keys(v.metrics).length ? table(['Metric', 'Value'],
      Object.entries(v.metrics).sort().map(([k, x]) => [k, num(x)])) : null,
    Object.keys(v.tags).length ? table(['Tag', 'Value'], Object.entries(v.tags).sort()) : null,
    h('h3', {}, 'Signature'), signature(v.signature));
}

export async function modelPage(main, {params, signal, me, notice, opened}) {
  const name = decodeURIComponent(params[0]);
  busy(main);
  const [model, versions, endpoints] = await Promise.all([api(`/models/${path(name)}`, {signal}),
    api(`/models/${path(name)}/versions`, {signal}), me.canRelease() ? api('/endpoints', {signal}) : []]);
  versions.sort((a, b) => b.version - a.version);
  const alert = alertLine(notice);
  // re-read after an action, its refusal (if any) shown and the version it was about open
  const reload = (message, v) => modelPage(main, {params, signal, me, notice: message, opened: v});
  put(main,
    h('p', {}, h('a', {href: '#/models'}, '← Models')), h('h1', {}, model.name), alert,
    facts([['Description', model.description], ['Versions', String(model.versions)],
      ['Aliases', aliasList(model.aliases)], ['Created', when(model.created)], ['Updated', when(model.updated)]]),
    Object.keys(model.tags).length ? section('Tags', table(['Tag', 'Value'], Object.entries(model.tags).sort())) : null,
    me.canRelease() ? aliasForm(model, versions, () => modelPage(main, {params, signal, me})) : null,
    me.canRelease() ? section('Start a rollout', rolloutForm(model.name, versions, endpoints, alert)) : null,
    section('Versions', versions.map((v) => version(v, me.canExport() ? exportButton(model.name, v, reload) : null, v.version === opened))));
}

function aliasForm(model, versions, reload) {
  const alias = h('input', {id: 'alias', required: true, list: 'aliases', maxlength: 250, spellcheck: 'false'});
  const target = h('select', {id: 'alias-version'}, versions.map((v) => h('option', {value: v.version}, `v${v.version}`)));
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  return section('Move an alias', h('form', {class: 'toolbar', onsubmit: async (e) => {
    e.preventDefault();
    const a = alias.value.trim();
    const from = model.aliases[a];
    const change = from == null ? `Point new alias ${a} of ${model.name} at v${target.value}?`
      : `Move alias ${a} of ${model.name} from v${from} to v${target.value}?`;
    if (!confirm(change)) return;
    try {
      await api(`/models/${path(model.name, 'aliases', a)}`, {method: 'PUT', body: {version: Number(target.value)}});
      await reload();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }}, h('label', {for: 'alias'}, 'Alias'), alias,
  h('datalist', {id: 'aliases'}, Object.keys(model.aliases).map((a) => h('option', {value: a}))),
  h('label', {for: 'alias-version'}, 'to'), target, h('button', {type: 'submit'}, 'Move alias'), error));
}
