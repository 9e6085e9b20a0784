// The one way the page talks to /api/v1: the key from this tab's sessionStorage in a header
// (no cookie is ever set or sent, so another site cannot make the browser act with it).
const KEY = 'modelport.key';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) { sessionStorage.setItem(KEY, value); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** The project every call is about (projects.js picks it from the ones the key reaches);
 *  null before that: the server's default. */
export const project = {name: null};

/** Who is calling and about what: the key, the project, and X-Modelport-Local — modelport ui
 *  trusts its own page only with it (a cross-site page cannot add a custom header); the team
 *  server wants the key. */
export function headers() {
  const out = {'X-Modelport-Local': '1'};
  const key = session.key;
  if (key) out['X-API-Key'] = key;
  if (project.name) out['X-Modelport-Project'] = project.name;
  return out;
}

export async function api(path, {method = 'GET', body, signal} = {}) {
  const sent = {...headers(), Accept: 'application/json'};
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method, headers: sent, signal, credentials: 'omit', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.code ?? 'http_error',
      data?.error ?? `${response.status} ${response.statusText}`);
  }
  return data;
}

export const path = (...parts) => parts.map((p) => encodeURIComponent(String(p))).join('/');

/** A blob's bytes (an artifact), the key in a header like every other call. */
export async function blob(path, {signal} = {}) {
  const response = await fetch(`/api/v1${path}`, {headers: headers(), signal, credentials: 'omit'});
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, data?.code ?? 'http_error', data?.error ?? `${response.status}`);
  }
  return response.blob();
}
