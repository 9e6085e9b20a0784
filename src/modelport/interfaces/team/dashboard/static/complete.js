// Completion of metric, param and tag names in the filter box: an ARIA combobox over the
// word at the caret (arrows move, Enter or Tab takes, Escape closes).
import {h} from './dom.js';

const PLAIN = /^[A-Za-z_][\w.\-/]*$/;

/** `metrics.acc`, or `metrics.\`odd key\`` when the key needs quoting in the filter language. */
export const term = (kind, key) => (PLAIN.test(key) ? `${kind}.${key}` : `${kind}.\`${key}\``);

const ATTRIBUTES = ['attributes.name', 'attributes.status', 'attributes.start_time',
  'attributes.duration', 'attributes.experiment', 'attributes.dataset_digest',
  'attributes.git_commit'];

export function attachCompletion(input, names) {
  const list = h('ul', {id: `${input.id}-options`, role: 'listbox', class: 'completion', hidden: true});
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', list.id);
  let options = [];
  let active = -1;

  const word = () => {
    const before = input.value.slice(0, input.selectionStart ?? input.value.length);
    const m = before.match(/[\w.`\-/]*$/);
    return {start: before.length - m[0].length, text: m[0]};
  };
  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    options = [];
    active = -1;
  };
  const mark = () => {
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === active)));
    if (active >= 0) input.setAttribute('aria-activedescendant', `${list.id}-${active}`);
  };
  const take = (i) => {
    const {start, text} = word();
    const value = options[i];
    input.value = input.value.slice(0, start) + value + ' ' + input.value.slice(start + text.length);
    const caret = start + value.length + 1;
    input.setSelectionRange(caret, caret);
    close();
    input.focus();
  };
  const open = () => {
    const {text} = word();
    if (text.length < 1) return close();
    const lower = text.toLowerCase();
    options = [...names(), ...ATTRIBUTES]
      .filter((n) => n.toLowerCase().startsWith(lower) && n !== text).slice(0, 10);
    if (!options.length) return close();
    active = -1;
    list.replaceChildren(...options.map((n, i) => h('li', {
      id: `${list.id}-${i}`, role: 'option', 'aria-selected': 'false',
      onmousedown: (e) => { e.preventDefault(); take(i); },
    }, n)));
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  };

  input.addEventListener('input', open);
  input.addEventListener('blur', () => setTimeout(close, 100));
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = options.length;
      active = (active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      mark();
    } else if ((e.key === 'Enter' || e.key === 'Tab') && active >= 0) {
      e.preventDefault();
      take(active);
    } else if (e.key === 'Tab' && options.length === 1) {
      e.preventDefault();
      take(0);
    } else if (e.key === 'Escape') {
      close();
    }
  });
  return list;
}
