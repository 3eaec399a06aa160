// The audit log: the newest events (filtered on the server) and the chain's verify status.

import * as api from './api.js';
import { h, replace, utc } from './dom.js';

const state = { type: '', job: '' };

export async function render(root, params, ctx) {
  const typeInput = h('input', { type: 'search', placeholder: 'Event type', value: state.type, 'aria-label': 'type' });
  const jobInput = h('input', { type: 'search', placeholder: 'Job name or id', value: state.job, 'aria-label': 'job' });
  const verifyButton = h('button', { type: 'button', id: 'verify' }, 'Verify the chain');
  const status = h('div', { class: 'card', id: 'verify-status' });
  const body = h('tbody');
  replace(
    root,
    h('h1', null, 'Audit log'),
    status,
    h('div', { class: 'filters' }, typeInput, jobInput, verifyButton),
    h('table', { id: 'audit' }, h('thead', null, h('tr', null, ['Seq', 'At', 'Type', 'Actor', 'Job', 'Run', 'Details'].map((t) => h('th', null, t)))), body),
  );

  function showVerified(v) {
    if (!v) {
      replace(status, h('span', { class: 'muted' }, 'Not verified since the daemon started. Verifying reads the whole log.'));
      return;
    }
    replace(
      status,
      v.ok ? h('strong', { class: 'ok' }, '✓ chain intact') : h('strong', { class: 'dst' }, '✗ chain broken'),
      ` · ${v.count ?? '?'} events · head ${v.head ? v.head.slice(0, 16) : '—'} · verified ${utc(v.at)}`,
      v.problems && v.problems.length ? h('ul', null, v.problems.map((p) => h('li', null, p.seq ? `#${p.seq} ` : '', p.message || p.problem))) : null,
    );
  }

  async function load() {
    const data = await api.get('audit', { type: state.type, job: state.job, limit: 100 });
    showVerified(data.verified);
    replace(
      body,
      data.events.map((e) =>
        h('tr', null, h('td', null, String(e.seq)), h('td', null, utc(e.at)), h('td', null, e.type), h('td', null, e.actor), h('td', { class: 'name' }, e.job_name || ''), h('td', null, e.run_id ? e.run_id.slice(0, 8) : ''), h('td', { class: 'muted' }, JSON.stringify(e.details))),
      ),
    );
  }

  verifyButton.addEventListener('click', async () => {
    verifyButton.disabled = true;
    replace(status, 'Verifying…');
    try {
      showVerified(await api.post('audit/verify'));
    } catch (e) {
      ctx.fail(e, 'Could not verify the chain');
    } finally {
      verifyButton.disabled = false;
    }
  });
  let timer = null;
  for (const [el, key] of [[typeInput, 'type'], [jobInput, 'job']]) {
    el.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => { state[key] = el.value.trim(); load().catch((e) => ctx.fail(e, 'Could not filter the log')); }, 250);
    });
  }
  await load();
  return { refresh: load, dispose: () => clearTimeout(timer) };
}
