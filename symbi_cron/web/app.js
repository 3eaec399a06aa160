// The dashboard's shell: log in (trading the one-time token of the link for a session cookie), route between
// pages by the URL's fragment, and keep the page current by short polling: a cheap "pulse" every two seconds,
// and the page's data again only when it changed. Never a full reload.
//
// Every failure ends in the notice (or, for an ended session, the login page): a page reports a failed action
// with ctx.fail(error, 'Could not ...'), which is handleError below. A daemon that does not answer (stopped or
// restarting) is waited for: the pulse goes on and the page is read again once it answers. An ended session
// stops every request.

import * as api from './api.js';
import { h, replace, until } from './dom.js';

const PAGES = {
  jobs: () => import('./jobs.js'),
  timeline: () => import('./timeline.js'),
  approvals: () => import('./approvals.js'),
  usage: () => import('./usage.js'),
  audit: () => import('./audit.js'),
  health: () => import('./health.js'),
};
const PULSE_MS = 2000;
/** How long a login link is tried again while the daemon does not answer (a restart takes seconds). */
const LOGIN_PATIENCE_MS = 60000;
const main = document.getElementById('main');
const notice = document.getElementById('notice');
let current = null; // {name, view: {refresh, dispose}}
let lastPulse = null;
let generation = 0;
let signedOut = false; // the session ended (logged out, expired, --logout-all): stop asking the server
let unreachable = false; // the last request found no daemon: its notice goes once the daemon answers again

export function notify(message, isError = false) {
  notice.dataset.code = '';
  if (!message) {
    notice.hidden = true;
    return;
  }
  replace(notice, message);
  notice.className = isError ? 'notice error' : 'notice';
  notice.hidden = false;
  if (!isError) setTimeout(() => { if (notice.textContent === message) notice.hidden = true; }, 4000);
}

function showLogin(reason) {
  document.getElementById('logout').hidden = true;
  replace(
    main,
    h(
      'div',
      { class: 'card login' },
      h('h1', null, 'Log in to the dashboard'),
      reason ? h('p', { class: 'muted' }, reason) : null,
      h('p', null, 'On the machine running the daemon, run ', h('code', null, 'symbi ui'), ' and open the link it prints.'),
      h('p', { class: 'muted' }, 'Each link works once; a session ends after dashboard.session_hours.'),
    ),
  );
}

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const parts = hash.split('/').filter(Boolean).map(decodeURIComponent);
  const name = PAGES[parts[0]] ? parts[0] : 'jobs';
  if (name === 'jobs' && parts[1]) return { name: 'job', params: { id: parts[1], run: parts[2] === 'runs' ? parts[3] : null } };
  return { name, params: {} };
}

async function route() {
  const { name, params } = parseRoute();
  const mine = ++generation;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === (name === 'job' ? 'jobs' : name));
  if (current && current.view && current.view.dispose) current.view.dispose();
  current = null;
  let module;
  try {
    module = name === 'job' ? await import('./job.js') : await PAGES[name]();
  } catch (e) {
    // The page's script could not be fetched: the daemon went away before this page was first opened.
    if (mine === generation) handleError(new api.ApiError(0, { error: api.UNREACHABLE_MESSAGE, code: api.UNREACHABLE }));
    return;
  }
  if (mine !== generation) return;
  const root = h('div');
  replace(main, root);
  try {
    const view = await module.render(root, params, { notify, fail: handleError, go: (hash) => { location.hash = hash; } });
    if (mine === generation) current = { name, view: view || {} };
  } catch (e) {
    if (mine === generation) handleError(e);
  }
}

/** Show what went wrong (``doing``: what failed, "Could not log out"); an ended session shows the login page and
 * stops every request; a daemon that does not answer is waited for (the pulse reads the page again). */
export function handleError(e, doing = null) {
  if (e instanceof api.ApiError && e.status === 401) {
    signedOut = true;
    if (current && current.view && current.view.dispose) current.view.dispose(); // a run's live output, say
    current = null;
    showLogin('Your session ended.');
    return;
  }
  const message = e && e.message ? e.message : String(e);
  if (e instanceof api.ApiError && e.code === api.UNREACHABLE) {
    unreachable = true;
    // A click says what it could not do; the pulse failing after it would only repeat the cause.
    if (!doing && !notice.hidden && notice.dataset.code === api.UNREACHABLE) return;
    notify(doing ? `${doing}: ${message}` : message, true);
    notice.dataset.code = api.UNREACHABLE;
    return;
  }
  notify(doing ? `${doing}: ${message}` : message, true);
}

async function poll() {
  if (signedOut || document.visibilityState !== 'visible' || (!current && !unreachable)) return;
  try {
    const { pulse } = await api.get('pulse');
    const back = unreachable; // the daemon answers again (a restart): drop the notice and read the page again
    if (back) {
      unreachable = false;
      notify(null);
    }
    if (!current) {
      await route(); // the page could not load while the daemon was away
      return;
    }
    if (pulse !== lastPulse || back) {
      const first = lastPulse === null;
      lastPulse = pulse;
      refreshNav();
      if (!first && current && current.view.refresh) await current.view.refresh();
    }
  } catch (e) {
    handleError(e);
  }
}

async function refreshNav() {
  if (signedOut) return;
  try {
    const [approvals, health] = await Promise.all([api.get('approvals'), api.get('health')]);
    replace(document.getElementById('pending-count'), approvals.total ? String(approvals.total) : '');
    const dot = document.getElementById('health-dot');
    dot.className = `dot s-${health.status}`;
    dot.title = health.status;
  } catch (e) {
    handleError(e);
  }
}

function tickClocks() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.countdown')) el.textContent = until(el.dataset.at, now);
}

const LOGIN = /^#login=([A-Za-z0-9_-]{16,200})$/;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const unanswered = (e) => e instanceof api.ApiError && e.code === api.UNREACHABLE;

/** ``ask()``, asked again every PULSE_MS while the daemon does not answer (a restart), the notice saying so; the
 * last error once ``patienceMs`` passed. */
async function whenAnswered(ask, patienceMs = Infinity) {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      const answer = await ask();
      if (unreachable) {
        unreachable = false;
        notify(null);
      }
      return answer;
    } catch (e) {
      if (!unanswered(e) || Date.now() + PULSE_MS > deadline) throw e;
      handleError(e);
      await pause(PULSE_MS);
    }
  }
}

/** Trade the one-time token of a login link (in the fragment) for a session cookie; the error when refused. While
 * the daemon does not answer (it restarts) the token is tried again for a minute: it is used only once answered. */
async function loginFromLink() {
  const login = location.hash.match(LOGIN);
  if (!login) return null;
  // Out of the address bar and the history at once, whatever happens next.
  history.replaceState(null, '', `${location.pathname}#/jobs`);
  try {
    api.setCsrf((await whenAnswered(() => api.post('login', { token: login[1] }), LOGIN_PATIENCE_MS)).csrf);
    return null;
  } catch (e) {
    if (!unanswered(e)) return e;
    unreachable = false;
    notify(null);
    const gaveUp = new Error(
      'The daemon did not answer for a minute, so the login link was not used. Once the daemon runs (symbi cron daemon status), open the same link again, or run `symbi ui` for a new one.',
    );
    gaveUp.unanswered = true;
    return gaveUp;
  }
}

async function loadSession() {
  const session = await whenAnswered(() => api.get('session'));
  if (session.identity) {
    api.setCsrf(session.csrf);
    signedOut = false;
    replace(document.getElementById('who'), `${session.identity}${session.environment ? ` · ${session.environment}` : ''}`);
    document.getElementById('logout').hidden = false;
  }
  return session;
}

let started = false;

async function start() {
  const refused = await loginFromLink();
  if (refused && refused.unanswered) {
    showLogin(refused.message);
    return;
  }
  const session = await loadSession();
  if (!session.identity) {
    showLogin(refused ? refused.message : null);
    return;
  }
  if (refused) notify(refused.message, true);
  if (started) {
    await route();
    return;
  }
  started = true;
  const logout = document.getElementById('logout');
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await api.post('logout');
    } catch (e) {
      // A session that ended already (expired, --logout-all) is as logged out as this button would leave it.
      if (!(e instanceof api.ApiError && e.status === 401)) {
        handleError(e, 'Could not log out');
        return;
      }
    } finally {
      logout.disabled = false;
    }
    signedOut = true;
    if (current && current.view && current.view.dispose) current.view.dispose();
    current = null;
    notify(null);
    showLogin('You logged out.');
  });
  await route();
  performance.mark('symbi-first-data'); // the first page painted with its data (the browser test reads it)
  await refreshNav();
  setInterval(poll, PULSE_MS);
  setInterval(tickClocks, 1000);
  setInterval(refreshNav, 15000);
}

window.addEventListener('hashchange', () => {
  // A login link opened in a tab that shows the dashboard (or its login page) already: the same document, a new
  // fragment.
  if (LOGIN.test(location.hash)) start().catch(handleError);
  else if (started) route();
});
start().catch(handleError);
