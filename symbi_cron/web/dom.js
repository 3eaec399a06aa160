// Building the page: every piece of data becomes a text node or an attribute, never markup. There is no
// markup parsing here (the Content-Security-Policy requires Trusted Types, so the browser would refuse it),
// and links only ever point inside the dashboard.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An internal link (#/...) or nothing: a job name such as "javascript:..." never becomes a URL. */
export function safeHref(value) {
  const text = String(value);
  return text.startsWith('#/') ? text : '#/';
}

function set(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.setAttribute('class', String(value));
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'href') el.setAttribute('href', safeHref(value));
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h('td', {class: 'name'}, job.name): an element whose children are nodes or text. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  set(el, attrs);
  add(el, children);
  return el;
}

/** The same for SVG. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  set(el, attrs);
  add(el, children);
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

export function badge(status) {
  return h('span', { class: `badge s-${String(status || 'none').replace(/[^a-z_]/g, '')}` }, status || '—');
}

/** "2026-11-29T09:00:00+01:00" -> "2026-11-29 09:00:00" (the wall time of the zone the server used). */
export function wall(iso, seconds = false) {
  if (!iso) return '—';
  const text = String(iso).replace('T', ' ');
  return seconds ? text.slice(0, 19) : text.slice(0, 16);
}

/** An instant as UTC wall time, said so: "2026-11-29 11:56:02 UTC" (the audit log's times, which have no job and
 * so no job's zone; every other time on the pages is in its job's zone). */
export function utc(iso) {
  if (!iso) return '—';
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? String(iso) : `${t.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

const zoned = new Map(); // a time zone's formatter: made once, used for thousands of marks

/** An instant (ms since the epoch) as the wall time of a time zone, named: "2026-11-29 09:00:00 Europe/Madrid"
 * (UTC, said so, for a zone this browser does not know). */
export function wallIn(ms, zone) {
  let format = zoned.get(zone);
  if (format === undefined) {
    try {
      const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone || 'UTC', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
      format = (t) => {
        const p = Object.fromEntries(parts.formatToParts(t).map((x) => [x.type, x.value]));
        return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${zone || 'UTC'}`;
      };
    } catch (e) {
      format = null; // RangeError: a zone name this browser's time zone data lacks
    }
    zoned.set(zone, format);
  }
  return format ? format(ms) : utc(new Date(ms).toISOString());
}

/** How long until (or since) an instant, in words: "in 3h 12m", "5m ago". */
export function until(iso, now = Date.now()) {
  if (!iso) return '';
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const d = Math.floor(abs / 86400000);
  const hr = Math.floor((abs % 86400000) / 3600000);
  const m = Math.floor((abs % 3600000) / 60000);
  const sec = Math.floor((abs % 60000) / 1000);
  const text = d ? `${d}d ${hr}h` : hr ? `${hr}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** A span whose text says how long until the instant, kept current by the page's clock (app.js). */
export function countdown(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'countdown muted', dataset: { at: iso } }, until(iso));
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)}m ${Math.round((ms % 60000) / 1000)}s`;
}

export function number(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

export function dollars(n) {
  return n === null || n === undefined ? '—' : `$${Number(n).toFixed(n >= 100 ? 0 : 4)}`;
}

export function kv(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    dl.append(h('dt', null, k), h('dd', null, typeof v === 'string' || v instanceof Node ? v : JSON.stringify(v)));
  }
  return dl;
}
