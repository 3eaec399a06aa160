// One job: its settings and policy, the next 10 fire times (daylight-saving changes marked), its runs (a page at a
// time) and, for the run chosen, its output, stderr tail, deliveries and receipts, iterations and tokens; a
// running run's output as it arrives.

import * as api from './api.js';
import { jobActions } from './actions.js';
import { badge, dollars, duration, h, kv, number, replace, wall } from './dom.js';

const LOG_POLL_MS = 1000;

export async function render(root, params, ctx) {
  const head = h('div');
  const settings = h('div', { class: 'card' });
  const fires = h('div', { class: 'card' });
  const runsBody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const runPanel = h('div', { id: 'run' });
  replace(
    root,
    head,
    h('div', { class: 'grid2' }, h('div', null, h('h2', null, 'Settings and policy'), settings), h('div', null, h('h2', null, 'Next 10 fire times'), fires)),
    h('h2', null, 'Runs'),
    h(
      'table',
      { id: 'runs' },
      h('thead', null, h('tr', null, ['Slot', 'Status', 'Trigger', 'Duration', 'Exit', 'Iterations', 'Tokens', 'Deliveries', 'Output'].map((t) => h('th', null, t)))),
      runsBody,
    ),
    pager,
    runPanel,
  );

  let job = null;
  const pages = [null];
  let selected = params.run || null;
  let live = null; // {runId, offset, timer}

  async function loadJob() {
    const data = await api.get(`jobs/${api.path(params.id)}`);
    job = data.job;
    replace(
      head,
      h('h1', null, job.name, ' ', badge(job.status)),
      h('p', { class: 'muted' }, data.schedule, ' · ', job.timezone, ' · agent ', job.agent_id),
      jobActions(job, ctx, async (action, answer) => {
        await loadJob();
        if (action === 'run') {
          await loadRuns();
          ctx.go(`#/jobs/${encodeURIComponent(job.id)}/runs/${encodeURIComponent(answer.run_id)}`);
        }
      }),
    );
    const policy = job.policy || {};
    replace(
      settings,
      kv([
        ['id', job.id],
        ['agent', job.agent_id],
        ['schedule', job.cron_expr || `at ${job.at}`],
        ['time zone', job.timezone],
        ['next run', job.next_run ? wall(job.next_run, true) : '—'],
        ['runs / failures in a row', `${job.run_count} / ${job.failure_count}`],
        ['max retries', String(job.max_retries)],
        ['max runtime', job.max_runtime ? String(job.max_runtime) : '—'],
        ['session mode', job.session_mode],
        ['delivery', (job.delivery || []).join(', ') || '—'],
        ['one shot', String(!!job.one_shot)],
        ['jitter', job.jitter_seconds ? `${job.jitter_seconds} s` : undefined],
        ['heartbeat', job.heartbeat && job.heartbeat.enabled ? job.heartbeat : undefined],
        ['policy', Object.keys(policy).length ? policy : 'none'],
        ['agent command', data.agent ? data.agent.command || data.agent.model || '—' : 'not registered'],
      ]),
    );
    replace(
      fires,
      data.fire_times.length
        ? h(
            'ol',
            { id: 'fire-times' },
            data.fire_times.map((f) =>
              h('li', null, wall(f.at, true), ' ', h('span', { class: 'muted' }, f.at.slice(19)), f.dst_change ? h('span', { class: 'dst' }, ` ⟳ clocks change: ${f.dst_change.from} → ${f.dst_change.to}`) : null),
            ),
          )
        : h('p', { class: 'muted' }, job.status === 'active' ? 'No more fire times.' : `No fire times: the job is ${job.status}.`),
    );
  }

  async function loadRuns() {
    const data = await api.get(`jobs/${api.path(params.id)}/runs`, { before: pages[pages.length - 1], limit: 20 });
    replace(runsBody, data.runs.map(runRow));
    replace(
      pager,
      h('button', { type: 'button', disabled: pages.length === 1, onclick: () => turn(() => pages.pop(), (cursor) => pages.push(cursor), 'Could not show the newer runs') }, 'Newer'),
      h('button', { type: 'button', disabled: !data.next, onclick: () => turn(() => pages.push(data.next), () => pages.pop(), 'Could not show the older runs') }, 'Older'),
    );
  }

  /** Turn the runs' page (``forth``); when it cannot be read, ``back`` leaves the pager on the page shown and the
   * notice says why. */
  async function turn(forth, back, doing) {
    const moved = forth();
    try {
      await loadRuns();
    } catch (e) {
      back(moved);
      ctx.fail(e, doing);
    }
  }

  function runRow(r) {
    const tokens = r.input_tokens === null || r.input_tokens === undefined ? '—' : `${number(r.input_tokens)} in / ${number(r.output_tokens)} out`;
    const deliveries = r.deliveries.length ? r.deliveries.map((d) => `${d.channel} ${d.ok ? '✓' : '✗'}`).join(', ') : '—';
    return h(
      'tr',
      { class: r.id === selected ? 'selected' : null, 'data-run': r.id },
      h('td', null, h('a', { href: `#/jobs/${encodeURIComponent(params.id)}/runs/${encodeURIComponent(r.id)}` }, wall(r.scheduled_for, true))),
      h('td', null, badge(r.status)),
      h('td', null, r.trigger, r.attempt > 1 ? ` #${r.attempt}` : ''),
      h('td', null, duration(r.execution_time_ms)),
      h('td', null, r.exit_code === null ? '—' : String(r.exit_code)),
      h('td', null, String(r.iterations ?? '—')),
      h('td', null, tokens),
      h('td', null, deliveries),
      h('td', { class: 'muted' }, r.error_message || r.output_preview || ''),
    );
  }

  function stopLive() {
    if (live) clearTimeout(live.timer);
    live = null;
  }

  async function loadRun() {
    if (!selected) {
      stopLive();
      replace(runPanel);
      return;
    }
    const r = await api.get(`runs/${api.path(selected)}`);
    const output = h('pre', { id: 'run-output' });
    const status = h('span', null, badge(r.status));
    const final = !['queued', 'running', 'pending_approval'].includes(r.status);
    replace(
      runPanel,
      h('h2', null, 'Run ', r.id.slice(0, 8), ' ', status, final ? null : h('span', { class: 'live' }, ' · live')),
      h(
        'div',
        { class: 'card' },
        kv([
          ['slot', wall(r.scheduled_for, true)],
          ['started', wall(r.started_at, true)],
          ['finished', wall(r.finished_at, true)],
          ['duration', duration(r.execution_time_ms)],
          ['trigger', `${r.trigger} (attempt ${r.attempt})`],
          ['exit code', r.exit_code === null ? '—' : String(r.exit_code)],
          ['iterations', String(r.iterations ?? '—')],
          ['tokens', r.input_tokens === null ? '—' : `${number(r.input_tokens)} in / ${number(r.output_tokens)} out, ${dollars(r.cost_usd)}`],
          ['input', r.input || undefined],
          ['error', r.error_message || undefined],
          ['approval', r.approval || undefined],
        ]),
      ),
      h('h2', null, final ? 'Output' : 'Output (live)'),
      output,
      r.summary ? [h('h2', null, 'Summary'), h('pre', null, r.summary)] : null,
      r.stderr_tail.length ? [h('h2', null, 'stderr (last lines)'), h('pre', { id: 'run-stderr' }, r.stderr_tail.join('\n'))] : null,
      h('h2', null, 'Deliveries'),
      r.deliveries.length
        ? h(
            'table',
            { id: 'deliveries' },
            h('thead', null, h('tr', null, ['Channel', 'Result', 'Attempts', 'At', 'Receipt'].map((t) => h('th', null, t)))),
            h('tbody', null, r.deliveries.map((d) => h('tr', null, h('td', null, d.channel), h('td', null, d.ok ? 'delivered' : 'failed'), h('td', null, String(d.attempts)), h('td', null, wall(d.at, true)), h('td', { class: 'muted' }, typeof d.detail === 'string' ? d.detail : JSON.stringify(d.detail))))),
          )
        : h('p', { class: 'muted' }, final ? 'None.' : 'After the run.'),
    );
    if (final) {
      stopLive();
      output.textContent = r.output || '(no output)';
    } else {
      startLive(r.id, output);
    }
  }

  function startLive(runId, output) {
    stopLive();
    live = { runId, offset: 0, timer: null };
    const mine = live;
    const step = async () => {
      if (live !== mine) return;
      try {
        const chunk = await api.get(`runs/${api.path(runId)}/log`, { offset: mine.offset });
        if (live !== mine) return;
        if (chunk.offset < mine.offset) output.textContent = '';
        if (chunk.text) output.append(document.createTextNode(chunk.text));
        mine.offset = chunk.offset;
        if (chunk.final) {
          live = null;
          await Promise.all([loadRun(), loadRuns(), loadJob()]);
          return;
        }
      } catch (e) {
        ctx.fail(e, 'Could not read the run\'s output');
        // Only a daemon that does not answer (or fails for a moment) is worth asking again; an ended session
        // or a run removed since is not.
        const passing = e instanceof api.ApiError && (e.code === api.UNREACHABLE || e.status >= 500);
        if (!passing) {
          if (live === mine) live = null;
          return;
        }
      }
      mine.timer = setTimeout(step, LOG_POLL_MS);
    };
    step();
  }

  try {
    await Promise.all([loadJob(), loadRuns()]);
  } catch (e) {
    if (!(e instanceof api.ApiError && e.status === 404)) throw e;
    // A link to a job removed since, or a name mistyped: say so, not empty panels under an error.
    replace(root, h('h1', null, 'No such job'), h('p', { class: 'muted', id: 'no-job' }, e.message), h('p', null, h('a', { href: '#/jobs' }, 'All jobs')));
    return {};
  }
  await loadRun();
  return {
    refresh: async () => {
      await Promise.all([loadJob(), loadRuns()]);
      if (!live) await loadRun();
    },
    dispose: stopLive,
  };
}
