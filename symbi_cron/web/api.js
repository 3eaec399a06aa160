// Talking to /ui/api: the session cookie rides along by itself (HttpOnly: this code never sees it); every change
// carries the session's CSRF token, which lives in this module's memory only (never in storage).

let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

/** The code of an ApiError when the daemon does not answer at all (stopped, or restarting). */
export const UNREACHABLE = 'unreachable';
export const UNREACHABLE_MESSAGE = 'The daemon does not answer (stopped or restarting?): trying again…';

/** fetch, with "the daemon does not answer" as an ApiError (status 0) instead of the browser's "Failed to fetch". */
async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, { error: UNREACHABLE_MESSAGE, code: UNREACHABLE });
  }
}

export function setCsrf(token) {
  csrf = token;
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function get(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== '') params.set(k, v);
  const qs = params.toString();
  const response = await send(`/ui/api/${path}${qs ? `?${qs}` : ''}`, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    cache: 'no-store',
  });
  return answer(response);
}

export async function post(path, body) {
  const response = await send(`/ui/api/${path}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf || '' },
    body: JSON.stringify(body || {}),
  });
  return answer(response);
}

export const path = (...parts) => parts.map((p) => encodeURIComponent(String(p))).join('/');
