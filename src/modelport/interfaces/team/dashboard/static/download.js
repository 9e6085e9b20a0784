// Downloading an artifact: fetched with the key in a header (a plain link could not carry
// it; the page's CSP allows no inline script either), then handed to the browser as a file.
import {blob, path} from './api.js';
import {h} from './dom.js';

/** The artifact fetched with the key in a header (a plain link could not carry it), handed
 *  to the browser as a file named after its path. */
export function downloadButton(artifactPath, sha256, label = 'Download') {
  const name = artifactPath.split('/').pop() || sha256;
  const error = h('span', {class: 'error', role: 'alert', hidden: true});
  const button = h('button', {type: 'button', 'aria-label': `Download ${name}`, title: artifactPath, onclick: async () => {
    button.disabled = true;
    error.hidden = true;
    try {
      const url = URL.createObjectURL(await blob(`/artifacts/${path(sha256)}`));
      const a = h('a', {href: url, download: name, hidden: true});
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }}, label);
  return h('span', {}, button, ' ', error);
}
