// The timeline: one lane per job (a page of jobs by name), its runs of the last 24 hours or 7 days as bars on a
// time axis coloured by status, and its fires of the next 24 hours as marks after the red "now" line. A bar
// leads to its run. Drawn with SVG (no chart library).

import * as api from './api.js';
import { h, replace, s, wallIn } from './dom.js';

const LABEL = 200;
const LANE = 22;
const AXIS = 24;
const state = { hours: 24, name: '', pages: [null] };
const STATUSES = ['succeeded', 'failed', 'timed_out', 'running', 'queued', 'pending_approval', 'denied', 'cancelled', 'skipped', 'missed', 'interrupted'];

export async function render(root, params, ctx) {
  const range = h('select', { 'aria-label': 'window', id: 'timeline-window' }, h('option', { value: '24' }, 'last 24 hours'), h('option', { value: '168' }, 'last 7 days'));
  range.value = String(state.hours);
  const nameInput = h('input', { type: 'search', placeholder: 'Filter by name', value: state.name, 'aria-label': 'name' });
  const summary = h('span', { class: 'muted' });
  const chart = h('div', { class: 'card', id: 'timeline' });
  const pager = h('div', { class: 'pager' });
  replace(
    root,
    h('h1', null, 'Timeline'),
    h('div', { class: 'filters' }, range, nameInput, summary),
    h('div', { class: 'legend' }, STATUSES.slice(0, 7).map((st) => h('span', null, h('i', { class: `s-${st}` }), st)), h('span', null, '◇ upcoming fire')),
    chart,
    pager,
  );

  async function load() {
    const data = await api.get('timeline', { hours: state.hours, name: state.name, after: state.pages[state.pages.length - 1], limit: 50 });
    replace(summary, `${data.total.toLocaleString('en-US')} jobs`);
    draw(data);
    replace(
      pager,
      h('button', { type: 'button', disabled: state.pages.length === 1, onclick: () => show({ pages: state.pages.slice(0, -1) }, 'Could not show the previous jobs') }, 'Previous jobs'),
      h('button', { type: 'button', disabled: !data.next, onclick: () => show({ pages: [...state.pages, data.next] }, 'Could not show the next jobs') }, 'Next jobs'),
    );
  }

  /** Show the timeline with ``change`` (window, page); when it cannot be read, the controls go back to what is
   * shown and the notice says why. */
  async function show(change, doing) {
    const shown = { ...state };
    Object.assign(state, change);
    try {
      await load();
    } catch (e) {
      Object.assign(state, shown);
      range.value = String(state.hours);
      ctx.fail(e, doing);
    }
  }

  function draw(data) {
    const width = Math.max(700, chart.clientWidth - 32);
    // Every time in the answer is whole seconds after data.start (a compact answer: thousands of bars and marks).
    const t0 = Date.parse(data.start);
    const at = (seconds) => t0 + seconds * 1000;
    const tNow = at(data.now);
    const t1 = at(data.end);
    const x = (t) => LABEL + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * (width - LABEL - 8);
    const height = AXIS + data.lanes.length * LANE + 4;
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'runs and upcoming fires' });
    const stepH = state.hours === 24 ? 3 : 24;
    const first = Math.ceil(t0 / (stepH * 3600000)) * stepH * 3600000;
    for (let t = first; t <= t1; t += stepH * 3600000) {
      const d = new Date(t);
      const label = state.hours === 24 ? `${String(d.getHours()).padStart(2, '0')}:00` : d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric' });
      svg.append(s('line', { class: 'grid', x1: x(t), x2: x(t), y1: AXIS - 4, y2: height }), s('text', { x: x(t) + 2, y: 12 }, label));
    }
    data.lanes.forEach((lane, i) => {
      const y = AXIS + i * LANE;
      const link = `#/jobs/${encodeURIComponent(lane.id)}`;
      const label = s('text', { class: 'lane-label', x: 4, y: y + 15 }, lane.name.length > 28 ? `${lane.name.slice(0, 27)}…` : lane.name);
      const a = s('a', { href: link }, label, s('title', null, `${lane.name} (${lane.status}, ${lane.timezone})`));
      svg.append(s('line', { class: 'grid', x1: LABEL, x2: width, y1: y + LANE, y2: y + LANE }), a);
      for (const [id, status, began, took] of lane.runs) {
        const start = at(began);
        const end = took === null ? tNow : start + took * 1000;
        const bx = x(start);
        const bar = s(
          'a',
          { href: `${link}/runs/${encodeURIComponent(id)}` },
          s('rect', { class: `bar s-${status}`, x: bx, y: y + 4, width: Math.max(2, x(end) - bx), height: LANE - 8, rx: 1 }),
          s('title', null, `${lane.name}: ${status}, ${wallIn(start, lane.timezone)}${took === null ? ' (running)' : ` → ${wallIn(end, lane.timezone)}`}`),
        );
        svg.append(bar);
      }
      if (lane.runs_total > lane.runs.length) {
        svg.append(s('text', { x: x(t0) + 2, y: y + 15 }, `${lane.runs_total - lane.runs.length} earlier runs not drawn`));
      }
      for (const fire of lane.upcoming) {
        const fx = x(at(fire));
        svg.append(s('path', { class: 'fire', d: `M${fx} ${y + 5} l5 6 l-5 6 l-5 -6 z` }, s('title', null, `${lane.name}: fires at ${wallIn(at(fire), lane.timezone)}`)));
      }
    });
    svg.append(s('line', { class: 'now', x1: x(tNow), x2: x(tNow), y1: AXIS - 6, y2: height }), s('text', { x: x(tNow) + 3, y: AXIS - 8 }, 'now'));
    replace(chart, data.lanes.length ? svg : h('p', { class: 'muted' }, 'No jobs match.'));
  }

  range.addEventListener('change', () => show({ hours: Number(range.value) }, `Could not show the ${range.selectedOptions[0].textContent}`));
  let timer = null;
  nameInput.addEventListener('input', () => {
    clearTimeout(timer);
    // A typed filter stays (it applies once the timeline can be read): only the notice says it failed.
    timer = setTimeout(() => { state.name = nameInput.value.trim(); state.pages = [null]; load().catch((e) => ctx.fail(e, 'Could not filter the timeline')); }, 200);
  });
  await load();
  return { refresh: load, dispose: () => clearTimeout(timer) };
}
