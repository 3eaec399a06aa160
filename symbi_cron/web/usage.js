// Usage of model agents: tokens per day stacked by model (an SVG chart), cost per day, and the totals per job
// and model. Days are UTC days.

import * as api from './api.js';
import { dollars, h, number, replace, s } from './dom.js';

const state = { days: 14 };

export async function render(root, params, ctx) {
  const range = h('select', { 'aria-label': 'days', id: 'usage-days' }, [7, 14, 30, 90].map((d) => h('option', { value: String(d) }, `last ${d} days`)));
  range.value = String(state.days);
  const totals = h('p', { class: 'muted' });
  const chart = h('div', { class: 'card', id: 'usage-chart' });
  const table = h('tbody');
  replace(
    root,
    h('h1', null, 'Usage'),
    h('div', { class: 'filters' }, range, totals),
    h('h2', null, 'Tokens per day, by model (UTC days)'),
    chart,
    h('h2', null, 'Per job and model'),
    h('table', { id: 'usage-jobs' }, h('thead', null, h('tr', null, ['Job', 'Agent', 'Model', 'Runs', 'Input tokens', 'Output tokens', 'Cost'].map((t) => h('th', null, t)))), table),
  );

  async function load() {
    const data = await api.get('usage', { days: state.days });
    const t = data.totals;
    replace(totals, `${number(t.runs)} model runs · ${number(t.input_tokens)} tokens in · ${number(t.output_tokens)} out · ${dollars(t.cost_usd)}${t.unpriced_runs ? ` (${t.unpriced_runs} runs without a price)` : ''}`);
    draw(data);
    replace(
      table,
      data.by_job.length
        ? data.by_job.map((r) => h('tr', null, h('td', { class: 'name' }, r.job), h('td', null, r.agent), h('td', null, r.model || '(not recorded)'), h('td', null, number(r.runs)), h('td', null, number(r.input_tokens)), h('td', null, number(r.output_tokens)), h('td', null, dollars(r.cost_usd))))
        : h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No model agent ran in this period.')),
    );
  }

  function draw(data) {
    const models = [...new Set(data.by_model_day.map((r) => r.model || '(not recorded)'))].sort();
    const perDay = new Map(data.days.map((d) => [d, new Map()]));
    const cost = new Map(data.days.map((d) => [d, 0]));
    for (const r of data.by_model_day) {
      const day = perDay.get(r.day);
      if (!day) continue;
      day.set(r.model || '(not recorded)', r.input_tokens + r.output_tokens);
      cost.set(r.day, cost.get(r.day) + r.cost_usd);
    }
    const most = Math.max(0, ...[...perDay.values()].map((m) => [...m.values()].reduce((a, b) => a + b, 0)));
    const step = niceStep(most / 4);
    const max = step * 4; // four steps of a round whole number: every label names its line exactly
    const width = Math.max(600, chart.clientWidth - 32);
    const height = 240;
    const left = 70;
    const bottom = 30;
    const slot = (width - left) / data.days.length;
    const y = (v) => height - bottom - (v / max) * (height - bottom - 16);
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'tokens per day by model' });
    for (let i = 0; i <= 4; i++) {
      const v = step * i;
      svg.append(s('line', { class: 'grid', x1: left, x2: width, y1: y(v), y2: y(v) }), s('text', { class: 'y-label', x: 4, y: y(v) + 4 }, number(v)));
    }
    data.days.forEach((day, i) => {
      let base = 0;
      const bx = left + i * slot + slot * 0.15;
      models.forEach((m, k) => {
        const v = perDay.get(day).get(m) || 0;
        if (!v) return;
        svg.append(s('rect', { class: `series-${k % 6}`, x: bx, y: y(base + v), width: slot * 0.7, height: y(base) - y(base + v) }, s('title', null, `${day} · ${m}: ${number(v)} tokens`)));
        base += v;
      });
      if (data.days.length <= 31 || i % Math.ceil(data.days.length / 15) === 0) svg.append(s('text', { x: bx, y: height - 12 }, day.slice(5)));
      if (cost.get(day)) svg.append(s('text', { x: bx, y: y(base) - 3 }, dollars(cost.get(day))));
    });
    replace(chart, h('div', { class: 'legend' }, models.map((m, k) => h('span', null, h('i', { class: `series-${k % 6}` }), m))), svg);
  }

  range.addEventListener('change', async () => {
    const shown = state.days;
    state.days = Number(range.value);
    try {
      await load();
    } catch (e) {
      // The chart still shows the days before: the selector says so again, the notice says why.
      ctx.fail(e, `Could not show the last ${state.days} days`);
      state.days = shown;
      range.value = String(shown);
    }
  });
  await load();
  return { refresh: load };
}

/** The smallest of 1, 2, 5, 10, 20, 50... tokens at least ``least``: the chart's gridline step. */
function niceStep(least) {
  let step = 1;
  for (;;) {
    for (const m of [1, 2, 5]) if (step * m >= least) return step * m;
    step *= 10;
  }
}
