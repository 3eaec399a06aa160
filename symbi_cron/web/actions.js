// A job's actions (pause, resume, run now, reset), shared by the jobs page and a job's page.

import * as api from './api.js';
import { h } from './dom.js';

export function jobActions(job, ctx, after) {
  const act = (action, label) =>
    h(
      'button',
      {
        type: 'button',
        class: action === 'run' ? 'primary' : null,
        'data-action': action,
        onclick: async (event) => {
          event.target.disabled = true;
          try {
            const answer = await api.post(`jobs/${api.path(job.id, action)}`);
            ctx.notify(action === 'run' ? `Run ${answer.run_id.slice(0, 8)} of ${job.name} queued` : `${job.name}: ${answer.status}`);
            if (after) await after(action, answer);
          } catch (e) {
            ctx.fail(e, `Could not ${action === 'run' ? 'run' : action} ${job.name}`);
          } finally {
            event.target.disabled = false;
          }
        },
      },
      label,
    );
  const out = [];
  if (job.status === 'active') out.push(act('pause', 'Pause'));
  if (job.status === 'paused') out.push(act('resume', 'Resume'));
  if (job.status !== 'dead_letter') out.push(act('run', 'Run now'));
  if (['dead_letter', 'failed', 'completed'].includes(job.status) || job.failure_count > 0) out.push(act('reset', 'Reset'));
  return h('div', { class: 'actions' }, out);
}
