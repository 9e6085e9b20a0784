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

export async function api(path, {method = 'GET', body, signal} = {}) {
  // X-Modelport-Local: modelport ui trusts its own page only with it (a cross-site page
  // cannot add a custom header); the team server ignores it and wants the key.
  const headers = {Accept: 'application/json', 'X-Modelport-Local': '1'};
  const key = session.key;
  if (key) headers['X-API-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method, headers, signal, credentials: 'omit', cache: 'no-store',
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
