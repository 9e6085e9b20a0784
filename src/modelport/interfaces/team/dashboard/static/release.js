// The model page's releasing actions: export a version to ONNX (the server converts it and
// checks parity), and start a rollout of a version onto an endpoint — canary, blue-green or
// shadow — through the same routes `modelport rollout` uses. Each asks for confirmation
// naming exactly what changes; a refusal (409 a rollout is running, 400/422 bad steps)
// shows as one line in the page's alert.
import {api, path} from './api.js';
import {h, num} from './dom.js';

/** The alert line every action writes its refusal to (hidden until one comes). */
export function alertLine(message) {
  const line = h('p', {class: 'error', role: 'alert', hidden: true});
  line.say = (text) => { line.textContent = text ?? ''; line.hidden = !text; };
  line.say(message);
  return line;
}

/** A button exporting `v` to ONNX, for a version without a copy that passed its check;
 * `after(message)` re-reads the page, with the refusal to show if there was one. */
export function exportButton(model, v, after) {
  if (v.format === 'onnx' || v.onnx?.passed) return null;
  const ref = `${model}:${v.version}`;
  const button = h('button', {type: 'button', 'data-action': 'export-onnx', onclick: async () => {
    if (!confirm(`Export ${ref} to ONNX? The server converts it, checks the copy predicts what ` +
      `${ref} does on its example and sample rows, and records the copy on ${ref}; ` +
      'serving then uses onnxruntime for it.')) return;
    button.disabled = true;
    button.textContent = 'Converting…';
    let refused = null;
    try {
      await api(`/models/${path(model)}/versions/${v.version}/export-onnx`, {method: 'POST'});
    } catch (err) {
      refused = err.message;
    }
    await after(refused, v.version);  // a failed check is recorded on the version: the page shows it too
  }}, `Export v${v.version} to ONNX`);
  return button;
}

const stableOf = (policy) => [...policy.routes].sort((a, b) => b.weight - a.weight)[0]?.version;
const field = (id, label, input) => h('span', {class: 'field', 'data-for': id}, h('label', {for: id}, label), input);

/** What the confirmation names: the candidate, the endpoint, and how traffic will move. */
export function change(kind, to, endpoint, stable, o) {
  if (kind === 'canary') {
    return `Start a canary of ${to} on endpoint ${endpoint}: ${o.steps.map((p) => `${num(p)} %`).join(' → ')}, ` +
      `a step every ${num(o.interval_s)} s?`;
  }
  if (kind === 'bluegreen') {
    return `Start a blue-green switch to ${to} on endpoint ${endpoint}: load it beside ${stable}, then ` +
      `move all traffic to it at once, keeping ${stable} warm for ${num(o.grace_s)} s?`;
  }
  return `Start a shadow of ${to} on endpoint ${endpoint}: copy ${num(o.percent)} % of requests to it; ` +
    `${stable} still answers every one?`;
}

/** The form starting a rollout of one of `versions` onto one of `endpoints`. */
export function rolloutForm(model, versions, endpoints, alert) {
  if (!endpoints.length) return h('p', {class: 'muted'}, 'No endpoint to roll out to — create one with: modelport endpoints create NAME --model MODEL');
  const version = h('select', {id: 'rollout-version'}, versions.map((v) => h('option', {value: v.version}, `v${v.version}`)));
  const endpoint = h('select', {id: 'rollout-endpoint'}, endpoints.map((e) =>
    h('option', {value: e.name}, `${e.name} (serves ${stableOf(e.policy) ?? '—'})`)));
  const kind = h('select', {id: 'rollout-kind'}, [['canary', 'Canary'], ['bluegreen', 'Blue-green'], ['shadow', 'Shadow']]
    .map(([value, label]) => h('option', {value}, label)));
  const steps = h('input', {id: 'rollout-steps', value: '10, 50, 100', size: 14, spellcheck: 'false',
    'aria-describedby': 'rollout-steps-help'});
  const interval = h('input', {id: 'rollout-interval', type: 'number', min: 1, step: 'any', value: 300, required: true});
  const grace = h('input', {id: 'rollout-grace', type: 'number', min: 0, step: 'any', value: 60, required: true});
  const percent = h('input', {id: 'rollout-percent', type: 'number', min: 0, max: 100, step: 'any', value: 100, required: true});
  const fields = {canary: [field('rollout-steps', 'Steps (%)', steps), field('rollout-interval', 'every (s)', interval)],
    bluegreen: [field('rollout-grace', 'keep the old one warm (s)', grace)],
    shadow: [field('rollout-percent', 'Share mirrored (%)', percent)]};
  const show = () => {
    for (const [k, els] of Object.entries(fields)) {
      for (const el of els) {
        el.hidden = k !== kind.value;
        for (const input of el.querySelectorAll('input')) input.disabled = k !== kind.value;
      }
    }
  };
  kind.addEventListener('change', show);
  const started = h('p', {role: 'status'});
  const form = h('form', {class: 'toolbar', 'aria-label': 'Start a rollout', onsubmit: async (e) => {
    e.preventDefault();
    const to = `${model}:${version.value}`;
    const ep = endpoints.find((x) => x.name === endpoint.value);
    // the server checks the steps (increasing, in (0, 100]); text that is no number goes as
    // null and comes back as the server's own 422
    const options = {canary: {steps: steps.value.split(',').filter((x) => x.trim()).map((x) => (/^\s*[\d.]+\s*$/.test(x) ? Number(x) : null)),
      interval_s: Number(interval.value)}, bluegreen: {grace_s: Number(grace.value)},
    shadow: {percent: Number(percent.value)}}[kind.value];
    if (!confirm(change(kind.value, to, ep.name, stableOf(ep.policy), options))) return;
    try {
      const r = await api(`/endpoints/${path(ep.name)}/rollout/${kind.value}`, {method: 'POST', body: {to, ...options}});
      alert.say('');
      started.replaceChildren(`Started: ${r.kind} of ${r.candidate} over ${r.stable} on `,
        h('a', {href: `#/endpoints/${encodeURIComponent(ep.name)}`}, `endpoint ${ep.name}`), '.');
    } catch (err) {
      alert.say(err.message);
    }
  }},
  field('rollout-version', 'Version', version), field('rollout-endpoint', 'onto endpoint', endpoint),
  field('rollout-kind', 'as', kind), Object.values(fields),
  h('button', {type: 'submit'}, 'Start rollout'));
  show();
  return [form, h('p', {id: 'rollout-steps-help', class: 'muted'},
    'Canary: the share of traffic at each step, moved on when the analysis passes. Blue-green: all at once once loaded. Shadow: a copy of requests, answers unused.'), started];
}
