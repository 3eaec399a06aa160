// The daemon's health: its status, and the reasons when it is degraded or unhealthy.

import * as api from './api.js';
import { badge, h, kv, replace } from './dom.js';

export async function render(root, params, ctx) {
  const box = h('div', { id: 'health' });
  replace(root, h('h1', null, 'Daemon health'), box);

  async function load() {
    const data = await api.get('health');
    replace(
      box,
      h('p', null, badge(data.status)),
      data.reasons.length
        ? h('div', { class: 'card' }, h('h2', null, 'Why'), h('ul', { class: 'reasons' }, data.reasons.map((r) => h('li', null, h('strong', null, r.code), ': ', r.message))))
        : h('p', { class: 'muted' }, 'Nothing to report.'),
      h(
        'div',
        { class: 'card' },
        kv([
          ['jobs', Object.entries(data.jobs).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'],
          ['open runs', Object.entries(data.open_runs).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'],
          ['in flight', data.in_flight === null || data.in_flight === undefined ? '—' : String(data.in_flight)],
          ['tick lag', data.tick_lag_seconds === null || data.tick_lag_seconds === undefined ? '—' : `${Number(data.tick_lag_seconds).toFixed(2)} s`],
          ['store', data.store_accessible ? 'readable' : 'NOT readable'],
        ]),
      ),
    );
  }

  await load();
  const timer = setInterval(() => load().catch((e) => ctx.fail(e)), 5000); // an ended session disposes of it
  return { refresh: load, dispose: () => clearInterval(timer) };
}
