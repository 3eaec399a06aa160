// Runs waiting for approval, oldest first, with the policy that asked; approve, or deny with a reason. The
// decision is recorded in the audit log as the dashboard's user (ui:NAME).

import * as api from './api.js';
import { countdown, h, kv, replace, wall } from './dom.js';

export async function render(root, params, ctx) {
  const list = h('div', { id: 'approvals' });
  replace(root, h('h1', null, 'Approvals'), list);

  async function load() {
    const data = await api.get('approvals');
    if (!data.pending.length) {
      replace(list, h('p', { class: 'muted' }, 'No run is waiting for approval.'));
      return;
    }
    replace(list, data.pending.map(card));
  }

  function card(p) {
    const reason = h('input', { type: 'text', placeholder: 'Reason (for a denial)', 'aria-label': 'reason', size: 40, maxlength: 500 });
    const decide = (verb) => async (event) => {
      event.target.disabled = true;
      try {
        await api.post(`runs/${api.path(p.run_id)}/${verb}`, verb === 'deny' ? { reason: reason.value } : {});
        ctx.notify(`${p.job_name}: run ${p.run_id.slice(0, 8)} ${verb === 'approve' ? 'approved' : 'denied'}`);
        await load();
      } catch (e) {
        ctx.fail(e, `Could not ${verb} the run of ${p.job_name}`);
        event.target.disabled = false;
      }
    };
    return h(
      'div',
      { class: 'card', 'data-run': p.run_id },
      h('h2', null, h('a', { href: `#/jobs/${encodeURIComponent(p.job_id)}/runs/${encodeURIComponent(p.run_id)}` }, p.job_name), ' ', h('span', { class: 'muted' }, `run ${p.run_id.slice(0, 8)}`)),
      kv([
        ['slot', `${wall(p.scheduled_for, true)} (${p.timezone})`],
        ['trigger', p.trigger],
        ['asked', wall(p.requested_at, true)],
        ['expires', p.expires_at ? h('span', null, wall(p.expires_at, true), ' ', countdown(p.expires_at)) : 'never'],
        ['approvers', p.approvers.length ? p.approvers.join(', ') : 'anyone allowed to run it'],
        ['policy', p.policy],
      ]),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', 'data-action': 'approve', onclick: decide('approve') }, 'Approve'), reason, h('button', { type: 'button', class: 'danger', 'data-action': 'deny', onclick: decide('deny') }, 'Deny')),
    );
  }

  await load();
  return { refresh: async () => { if (![...list.querySelectorAll("input")].some((i) => i.value)) await load(); } };
}
