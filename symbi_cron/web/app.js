// The dashboard's shell: log in (trading the one-time token of the link for a session cookie), route between
// pages by the URL's fragment, and keep the page current by short polling: a cheap "pulse" every two seconds,
// and the page's data again only when it changed. Never a full reload.

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
const main = document.getElementById('main');
const notice = document.getElementById('notice');
let current = null; // {name, view: {refresh, dispose}}
let lastPulse = null;
let generation = 0;
let signedOut = false; // the session ended (logged out, expired, --logout-all): stop asking the server
let unreachable = false; // the last request found no daemon: its notice goes once the daemon answers again

export function notify(message, isError = false) {
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
  const module = name === 'job' ? await import('./job.js') : await PAGES[name]();
  if (mine !== generation) return;
  const root = h('div');
  replace(main, root);
  try {
    const view = await module.render(root, params, { notify, go: (hash) => { location.hash = hash; } });
    if (mine === generation) current = { name, view: view || {} };
  } catch (e) {
    handleError(e);
  }
}

export function handleError(e) {
  if (e instanceof api.ApiError && e.status === 401) {
    signedOut = true;
    if (current && current.view && current.view.dispose) current.view.dispose(); // a run's live output, say
    current = null;
    showLogin('Your session ended.');
    return;
  }
  if (e instanceof api.ApiError && e.code === api.UNREACHABLE) unreachable = true;
  notify(e.message || String(e), true);
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

/** Trade the one-time token of a login link (in the fragment) for a session cookie; the error when refused. */
async function loginFromLink() {
  const login = location.hash.match(LOGIN);
  if (!login) return null;
  // Out of the address bar and the history at once, whatever happens next.
  history.replaceState(null, '', `${location.pathname}#/jobs`);
  try {
    api.setCsrf((await api.post('login', { token: login[1] })).csrf);
    return null;
  } catch (e) {
    return e;
  }
}

async function loadSession() {
  const session = await api.get('session');
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
  document.getElementById('logout').addEventListener('click', async () => {
    await api.post('logout');
    signedOut = true;
    current = null;
    showLogin('You logged out.');
  });
  window.addEventListener('hashchange', () => {
    // A login link opened in a tab that shows the dashboard already: the same document, a new fragment.
    if (LOGIN.test(location.hash)) start().catch(handleError);
    else route();
  });
  await route();
  performance.mark('symbi-first-data'); // the first page painted with its data (the browser test reads it)
  await refreshNav();
  setInterval(poll, PULSE_MS);
  setInterval(tickClocks, 1000);
  setInterval(refreshNav, 15000);
}

start().catch(handleError);
