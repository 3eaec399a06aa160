// The jobs page: a page of jobs by name, filtered on the server (name, status, agent), each with its schedule in
// words, its zone, its next run in that zone with the time left, its last outcome and a strip of its last 20 runs.

import * as api from './api.js';
import { jobActions } from './actions.js';
import { badge, countdown, h, replace, wall } from './dom.js';

const STATUSES = ['', 'active', 'paused', 'completed', 'failed', 'dead_letter'];
const state = { name: '', status: '', agent: '', pages: [null] };

export async function render(root, params, ctx) {
  const nameInput = h('input', { type: 'search', placeholder: 'Filter by name', value: state.name, 'aria-label': 'name', id: 'filter-name' });
  const statusSelect = h('select', { 'aria-label': 'status', id: 'filter-status' }, STATUSES.map((s) => h('option', { value: s }, s || 'any status')));
  statusSelect.value = state.status;
  const agentSelect = h('select', { 'aria-label': 'agent', id: 'filter-agent' }, h('option', { value: '' }, 'any agent'));
  const summary = h('span', { class: 'muted' });
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  replace(
    root,
    h('h1', null, 'Jobs'),
    h('div', { class: 'filters' }, nameInput, statusSelect, agentSelect, summary),
    h(
      'table',
      { id: 'jobs' },
      h('thead', null, h('tr', null, ['Name', 'Schedule', 'Zone', 'Next run', 'Last', 'Last 20 runs', ''].map((t) => h('th', null, t)))),
      body,
    ),
    pager,
  );

  let agents = [];
  async function load() {
    const page = state.pages[state.pages.length - 1];
    const data = await api.get('jobs', { name: state.name, status: state.status, agent: state.agent, after: page, limit: 50 });
    if (data.agents.join('\n') !== agents.join('\n')) {
      agents = data.agents;
      replace(agentSelect, h('option', { value: '' }, 'any agent'), agents.map((a) => h('option', { value: a }, a)));
      agentSelect.value = state.agent;
    }
    const first = (state.pages.length - 1) * 50;
    replace(summary, data.total ? `${first + 1}–${first + data.jobs.length} of ${data.total.toLocaleString('en-US')} jobs` : 'no jobs match');
    replace(body, data.jobs.map((job) => row(job)));
    replace(
      pager,
      h('button', { type: 'button', disabled: state.pages.length === 1, onclick: () => turn([null], 'Could not show the first page') }, 'First page'),
      h('button', { type: 'button', disabled: state.pages.length === 1, onclick: () => turn(state.pages.slice(0, -1), 'Could not show the previous page') }, 'Previous'),
      h('button', { type: 'button', disabled: !data.next, onclick: () => turn([...state.pages, data.next], 'Could not show the next page') }, 'Next'),
    );
  }

  /** Show another page of jobs; when it cannot be read, the pager stays on the page shown and the notice says why. */
  async function turn(pages, doing) {
    const shown = state.pages;
    state.pages = pages;
    try {
      await load();
    } catch (e) {
      state.pages = shown;
      ctx.fail(e, doing);
    }
  }

  function row(job) {
    const link = `#/jobs/${encodeURIComponent(job.id)}`;
    return h(
      'tr',
      { 'data-job': job.id },
      h('td', { class: 'name' }, h('a', { href: link }, job.name), h('div', { class: 'muted' }, job.agent_id)),
      h('td', null, job.schedule, h('div', { class: 'muted' }, job.cron_expr || job.at)),
      h('td', null, job.timezone),
      h('td', null, job.next_run ? [wall(job.next_run), h('div', null, countdown(job.next_run))] : h('span', { class: 'muted' }, '—')),
      h('td', null, badge(job.status), ' ', job.running ? badge('running') : job.last_status ? badge(job.last_status) : null),
      h(
        'td',
        null,
        h(
          'div',
          { class: 'strip' },
          job.strip.map((r) =>
            h('a', { class: `s-${r.status}`, href: `${link}/runs/${encodeURIComponent(r.id)}`, title: `${r.status} · ${wall(r.scheduled_for)} · ${r.trigger}` }),
          ),
        ),
      ),
      h('td', null, jobActions(job, ctx, () => load())),
    );
  }

  let timer = null;
  nameInput.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.name = nameInput.value.trim();
      state.pages = [null];
      load().catch((e) => ctx.fail(e, 'Could not filter the jobs'));
    }, 200);
  });
  for (const [el, key] of [[statusSelect, 'status'], [agentSelect, 'agent']]) {
    el.addEventListener('change', () => {
      state[key] = el.value;
      state.pages = [null];
      load().catch((e) => ctx.fail(e, 'Could not filter the jobs'));
    });
  }
  await load();
  return { refresh: load, dispose: () => clearTimeout(timer) };
}
