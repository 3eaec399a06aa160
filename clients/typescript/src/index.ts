/**
 * A typed client for the symbi-cron HTTP API, with the surface of the Symbiont guide's JavaScript SDK:
 *
 *     import { SymbiontClient } from "@symbi-cron/client";
 *     const client = new SymbiontClient({ baseUrl: "http://localhost:8080", apiKey: process.env.SYMBI_API_KEY });
 *     const job = await client.schedule.create({ name: "daily-backup", agentId: "backup-agent", cronExpr: "0 2 * * *" });
 *
 * The types come from the daemon's OpenAPI document (`npm run generate` turns openapi.json into src/schema.ts).
 * A body written in camelCase (the guide's `agentId`, `cronExpr`...) is answered in camelCase, one written in
 * snake_case (SPEC §4's `agent_id`, `cron_expr`) in snake_case; reads answer in snake_case. Lists read every page
 * (`X-Next-Cursor`); `iter` and `iterHistory` yield a page at a time. Errors throw `ApiError` subclasses carrying the
 * HTTP `status`, the API's stable `code` and its `details`. No dependency: the platform's `fetch` (Node 18+).
 */

import type { components } from "./schema.js";

type Schemas = components["schemas"];
export type Job = Schemas["Job"];
export type JobCamel = Schemas["JobCamel"];
export type JobSpec = Schemas["JobSpec"];
export type JobSpecCamel = Schemas["JobSpecCamel"];
export type JobUpdate = Schemas["JobUpdate"];
export type JobUpdateCamel = Schemas["JobUpdateCamel"];
export type JobWithRuns = Schemas["JobWithRuns"];
export type Run = Schemas["Run"];
export type RunAccepted = Schemas["RunAccepted"];
export type NextRun = Schemas["NextRun"];
export type DeleteResult = Schemas["DeleteResult"];
export type SchedulerHealth = Schemas["SchedulerHealth"];
export type JobStatus = Schemas["JobStatus"];
export type RunStatus = Schemas["RunStatus"];
export type ErrorBody = Schemas["ErrorBody"];
export type UsageReport = Schemas["UsageReport"];
export type UsageRow = Schemas["UsageRow"];
export type { components, paths } from "./schema.js";

export interface ClientOptions {
  /** The API key (`symbi api-key`); default: the SYMBI_API_KEY environment variable. */
  apiKey?: string;
  /** The daemon's URL; default: SYMBI_API_URL, else http://127.0.0.1:8080. A trailing /api/v1 is accepted. */
  baseUrl?: string;
  /** Each call's time limit in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Another fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

/** An error answer: `status` (HTTP), `code` (stable, machine-readable), `details` (the field at fault...). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(message: string, status: number, code: string, details: unknown = null) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
  }
}
export class InvalidInputError extends ApiError {}
export class AuthenticationError extends ApiError {}
export class NotFoundError extends ApiError {}
export class ConflictError extends ApiError {}
/** The daemon could not be reached (not running, wrong URL, timeout). */
export class ApiConnectionError extends ApiError {}

const BY_STATUS: Record<number, typeof ApiError> = {
  400: InvalidInputError,
  401: AuthenticationError,
  404: NotFoundError,
  409: ConflictError,
  413: InvalidInputError,
  415: InvalidInputError,
};

/** The largest page the server answers. */
const MAX_PAGE = 1000;

type Query = Record<string, string | number | undefined | null>;

function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name] || undefined;
}

function ref(id: string | { id: string }): string {
  return encodeURIComponent(typeof id === "string" ? id : id.id);
}

export class SymbiontClient {
  readonly baseUrl: string;
  readonly schedule: ScheduleApi;
  readonly health: HealthApi;
  readonly runs: RunsApi;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions = {}) {
    let base = (options.baseUrl ?? env("SYMBI_API_URL") ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    if (base.endsWith("/api/v1")) base = base.slice(0, -"/api/v1".length);
    this.baseUrl = base;
    this.apiKey = options.apiKey ?? env("SYMBI_API_KEY");
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.schedule = new ScheduleApi(this);
    this.health = new HealthApi(this);
    this.runs = new RunsApi(this);
  }

  /** Tokens and cost of model agents' runs by day, job, agent or model (`symbi usage`). */
  usage(options: UsageOptions = {}): Promise<UsageReport> {
    return usage(this, options);
  }

  /** One call: JSON in, JSON out, with the answer's headers; throws an ApiError subclass on an error answer. */
  async call<T>(method: string, path: string, init: { body?: unknown; query?: Query } = {}): Promise<{ data: T; headers: Headers }> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(init.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": "symbi-cron-client-ts" };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers["Content-Type"] = "application/json";
    }
    let resp: Response;
    try {
      resp = await this.fetchImpl(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new ApiConnectionError(
        `cannot reach the symbi API at ${this.baseUrl}: ${reason} (is \`symbi cron daemon\` running?)`,
        0,
        "unreachable",
      );
    }
    const text = await resp.text();
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!resp.ok) {
      const err = (data && typeof data === "object" ? data : {}) as Partial<ErrorBody>;
      const Cls = BY_STATUS[resp.status] ?? ApiError;
      throw new Cls(err.error ?? `HTTP ${resp.status}`, resp.status, err.code ?? "error", err.details ?? null);
    }
    return { data: data as T, headers: resp.headers };
  }

  async request<T>(method: string, path: string, init: { body?: unknown; query?: Query } = {}): Promise<T> {
    return (await this.call<T>(method, path, init)).data;
  }

  /** GET a paged list and yield each page, following X-Next-Cursor to the last one. */
  async *pages<T>(path: string, query: Query = {}): AsyncGenerator<T> {
    const q: Query = { ...query };
    for (;;) {
      const { data, headers } = await this.call<T>("GET", path, { query: q });
      yield data;
      const cursor = headers.get("X-Next-Cursor");
      if (!cursor) return;
      q.cursor = cursor;
    }
  }
}

export interface ListFilter {
  status?: JobStatus;
  agentId?: string;
  agent_id?: string;
  /** Jobs per request (the server's default page is 100). */
  pageSize?: number;
}

export interface HistoryOptions {
  /** The newest `limit` runs (the server's default page, 20, when absent); more than one page is read page by page. */
  limit?: number;
  status?: RunStatus;
}

/** `client.schedule`: the guide's /api/v1/schedule family. */
export class ScheduleApi {
  private static readonly BASE = "/api/v1/schedule";

  constructor(private readonly c: SymbiontClient) {}

  /** Create a job; answered in the case it was written in. */
  create(spec: JobSpec): Promise<Job>;
  create(spec: JobSpecCamel): Promise<JobCamel>;
  create(spec: JobSpec | JobSpecCamel): Promise<Job | JobCamel> {
    return this.c.request("POST", ScheduleApi.BASE, { body: spec });
  }

  /** Every job by name (all pages), optionally by status and agent. */
  async list(filter: ListFilter = {}): Promise<Job[]> {
    const out: Job[] = [];
    for await (const job of this.iter(filter)) out.push(job);
    return out;
  }

  /** Jobs by name, a page at a time: a long list is never held whole. */
  async *iter(filter: ListFilter = {}): AsyncGenerator<Job> {
    const query = { status: filter.status, agent_id: filter.agent_id ?? filter.agentId, limit: filter.pageSize };
    for await (const page of this.c.pages<Job[]>(ScheduleApi.BASE, query)) yield* page;
  }

  /** One job by id, unique id prefix or name. */
  get(id: string | { id: string }): Promise<Job> {
    return this.c.request("GET", `${ScheduleApi.BASE}/${ref(id)}`);
  }

  /** A job with its `recent_runs` (5 unless `history` says otherwise). */
  getStatus(id: string | { id: string }, options: { history?: number } = {}): Promise<JobWithRuns> {
    return this.c.request("GET", `${ScheduleApi.BASE}/${ref(id)}`, { query: { history: options.history ?? 5 } });
  }

  /** Change some fields; answered in the case they were written in. */
  update(id: string | { id: string }, changes: JobUpdate): Promise<Job>;
  update(id: string | { id: string }, changes: JobUpdateCamel): Promise<JobCamel>;
  update(id: string | { id: string }, changes: JobUpdate | JobUpdateCamel): Promise<Job | JobCamel> {
    return this.c.request("PUT", `${ScheduleApi.BASE}/${ref(id)}`, { body: changes });
  }

  delete(id: string | { id: string }): Promise<DeleteResult> {
    return this.c.request("DELETE", `${ScheduleApi.BASE}/${ref(id)}`);
  }

  pause(id: string | { id: string }): Promise<Job> {
    return this.c.request("POST", `${ScheduleApi.BASE}/${ref(id)}/pause`);
  }

  resume(id: string | { id: string }): Promise<Job> {
    return this.c.request("POST", `${ScheduleApi.BASE}/${ref(id)}/resume`);
  }

  /** Queue a run now (the daemon starts it at once); answers the queued run. */
  trigger(id: string | { id: string }, options: { input?: string } = {}): Promise<RunAccepted> {
    const body = options.input !== undefined ? { input: options.input } : {};
    return this.c.request("POST", `${ScheduleApi.BASE}/${ref(id)}/run`, { body });
  }

  /** The guide's name for `trigger`. */
  runNow(id: string | { id: string }, options: { input?: string } = {}): Promise<RunAccepted> {
    return this.trigger(id, options);
  }

  /** Runs, newest first. */
  async history(id: string | { id: string }, options: HistoryOptions = {}): Promise<Run[]> {
    const path = `${ScheduleApi.BASE}/${ref(id)}/history`;
    if (options.limit === undefined) return this.c.request("GET", path, { query: { status: options.status } });
    const out: Run[] = [];
    for await (const run of this.iterHistory(id, { status: options.status, pageSize: Math.min(options.limit, MAX_PAGE) })) {
      out.push(run);
      if (out.length >= options.limit) break;
    }
    return out;
  }

  /** The guide's name for `history`. */
  getHistory(id: string | { id: string }, options: HistoryOptions = {}): Promise<Run[]> {
    return this.history(id, options);
  }

  /** Every run of the job, newest first, a page at a time (the server's default page is 20). */
  async *iterHistory(
    id: string | { id: string },
    options: { status?: RunStatus; pageSize?: number } = {},
  ): AsyncGenerator<Run> {
    const query = { status: options.status, limit: options.pageSize };
    for await (const page of this.c.pages<Run[]>(`${ScheduleApi.BASE}/${ref(id)}/history`, query)) yield* page;
  }

  /** The job's next slot, and the next `count`. */
  nextRun(id: string | { id: string }, options: { count?: number } = {}): Promise<NextRun> {
    return this.c.request("GET", `${ScheduleApi.BASE}/${ref(id)}/next_run`, { query: { count: options.count } });
  }

  /** The guide's Python name for `client.health.scheduler()`. */
  health(): Promise<SchedulerHealth> {
    return this.c.health.scheduler();
  }
}

/** `client.health`. */
export class HealthApi {
  constructor(private readonly c: SymbiontClient) {}

  /** The scheduler's health: `status`, `active_jobs`, `in_flight_jobs`, `metrics`... */
  scheduler(): Promise<SchedulerHealth> {
    return this.c.request("GET", "/api/v1/health/scheduler");
  }
}

export interface UsageOptions {
  /** From this time: ISO 8601, YYYY-MM-DD, "7d", "2 weeks ago" (the server's default: 30 days ago). */
  since?: string;
  until?: string;
  /** Group by these keys (default: day). */
  by?: Array<"day" | "job" | "agent" | "model">;
  job?: string;
  agent?: string;
  model?: string;
}

/** Tokens and cost of model agents' runs, grouped (`symbi usage`): GET /api/v1/usage. */
export function usage(c: SymbiontClient, options: UsageOptions = {}): Promise<UsageReport> {
  const query: Query = {};
  for (const key of ["since", "until", "job", "agent", "model"] as const) {
    if (options[key] !== undefined) query[key] = options[key];
  }
  if (options.by?.length) query.by = options.by.join(",");
  return c.request("GET", "/api/v1/usage", { query });
}

/** `client.runs`: one run, to follow it without reading its job's history; approvals. */
export class RunsApi {
  constructor(private readonly c: SymbiontClient) {}

  get(id: string | { id: string }): Promise<Run> {
    return this.c.request("GET", `/api/v1/runs/${ref(id)}`);
  }

  /** Approve a run waiting in pending_approval, as the identity bound to this client's key. */
  approve(id: string | { id: string }): Promise<Run> {
    return this.c.request("POST", `/api/v1/runs/${ref(id)}/approve`);
  }

  /** Deny a run waiting in pending_approval; the reason is kept on the run and in the audit log. */
  deny(id: string | { id: string }, options: { reason?: string } = {}): Promise<Run> {
    const body = options.reason !== undefined ? { reason: options.reason } : {};
    return this.c.request("POST", `/api/v1/runs/${ref(id)}/deny`, { body });
  }
}
