// The client against a real daemon (SYMBI_API_URL, SYMBI_API_KEY): tests/clients/test_typescript_client.py starts
// one, registers the agents "backup-agent" and "reporter", and runs `node --test` on the compiled tests. The
// surface test's slots are on January 1st, so no scheduled run can slip into a history it counts.
import assert from "node:assert/strict";
import { test } from "node:test";

import type { Run } from "../src/index.js";
import { ConflictError, InvalidInputError, NotFoundError, SymbiontClient } from "../src/index.js";

const baseUrl = process.env.SYMBI_API_URL!;

/** Poll a run (GET /api/v1/runs/{id}) until it is final; fail after 20 s. */
async function finished(client: SymbiontClient, runId: string): Promise<Run> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const run = await client.runs.get(runId);
    if (!["queued", "running", "pending_approval"].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} after 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("the guide's JavaScript flow runs as written", async () => {
  // "SDK de JavaScript" from the guide, verbatim but for the import line, the daemon's URL, and one added line that
  // waits for the manual run before the delete (a job cannot be deleted while its run is in progress: 409).
  const client = new SymbiontClient({
    baseUrl,
    apiKey: process.env.SYMBI_API_KEY,
  });
  // Crear trabajo programado
  const job = await client.schedule.create({
    name: "daily-backup",
    agentId: "backup-agent",
    cronExpr: "0 2 * * *",
    sessionMode: "ephemeral_with_summary",
    delivery: ["webhook"],
    webhookUrl: "https://backup.example.com/notify",
  });
  console.log(`Created job: ${job.id}`);
  // Listar trabajos activos
  const activeJobs = await client.schedule.list({ status: "active" });
  console.log(`Active jobs: ${activeJobs.length}`);
  // Obtener estado del trabajo
  const status = await client.schedule.getStatus(job.id);
  console.log(`Next run: ${status.next_run}`);
  // Activar ejecución inmediata
  await client.schedule.runNow(job.id, { input: "Backup database" });
  // Pausar trabajo
  await client.schedule.pause(job.id);
  // Ver historial
  const history = await client.schedule.getHistory(job.id, { limit: 10 });
  history.forEach((run) => {
    console.log(`Run ${run.id}: ${run.status} (${run.execution_time_ms}ms)`);
  });
  // Reanudar trabajo
  await client.schedule.resume(job.id);
  await finished(client, history.find((run) => run.trigger === "manual")!.id); // added
  // Eliminar trabajo
  await client.schedule.delete(job.id);

  // What the flow did, checked: camelCase in, camelCase out; snake_case reads.
  assert.equal(job.agentId, "backup-agent");
  assert.equal(job.webhookUrl, "https://backup.example.com/notify");
  assert.equal(activeJobs.length, 1);
  assert.equal(status.cron_expr, "0 2 * * *");
  assert.ok(status.next_run);
  // the manual run (a 02:00 UTC slot could join it if this runs then)
  assert.equal(history.filter((run) => run.trigger === "manual").length, 1);
  await assert.rejects(client.schedule.get(job.id), NotFoundError);
});

test("the guide's surface: create, list, get, update, delete, pause, resume, trigger, history, nextRun", async () => {
  const client = new SymbiontClient({ baseUrl: `${baseUrl}/api/v1`, apiKey: process.env.SYMBI_API_KEY });
  const names = ["ts-a", "ts-b", "ts-c", "ts-d", "ts-e"];
  for (const name of names) {
    const created = await client.schedule.create({ name, agent_id: "reporter", cron_expr: "0 0 1 1 *", timezone: "UTC" });
    assert.equal(created.agent_id, "reporter"); // snake_case in, snake_case out
  }
  // every page, two at a time
  const listed = await client.schedule.list({ agentId: "reporter", pageSize: 2 });
  assert.deepEqual(listed.map((j) => j.name), names);

  const one = await client.schedule.get("ts-a");
  assert.equal(one.cron_expr, "0 0 1 1 *");
  const updated = await client.schedule.update(one.id, { cronExpr: "30 4 1 1 *", maxRetries: 1 });
  assert.equal(updated.cronExpr, "30 4 1 1 *");
  assert.equal(updated.maxRetries, 1);

  const next = await client.schedule.nextRun(one.id, { count: 3 });
  assert.equal(next.next_runs?.length, 3);
  assert.ok(next.next_run?.endsWith("+00:00"));

  assert.equal((await client.schedule.pause(one.id)).status, "paused");
  await assert.rejects(client.schedule.pause(one.id), ConflictError);
  assert.equal((await client.schedule.resume(one.id)).status, "active");

  const runIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const run = await client.schedule.trigger(one.id, { input: `n${i}` });
    assert.equal(run.status, "queued");
    runIds.push(run.run_id);
  }
  const byId = await client.runs.get(runIds[0]!);
  assert.equal(byId.job_name, "ts-a");
  const recent = await client.schedule.history(one.id, { limit: 2 });
  assert.equal(recent.length, 2);
  const all: string[] = [];
  for await (const run of client.schedule.iterHistory(one.id, { pageSize: 1 })) all.push(run.id);
  assert.equal(all.length, 3);
  assert.deepEqual(new Set(all), new Set(runIds));
  for (const id of runIds) assert.equal((await finished(client, id)).status, "succeeded"); // the agent ran

  const health = await client.health.scheduler();
  assert.equal(health.active_jobs, 5);
  assert.equal((await client.schedule.health()).status, health.status);

  for (const name of names) {
    const gone = await client.schedule.delete(name);
    assert.equal(gone.deleted, true);
  }
});

test("approvals: a run waiting for approval is approved or denied as the key's identity", async () => {
  const client = new SymbiontClient({ baseUrl, apiKey: process.env.SYMBI_API_KEY });
  const job = await client.schedule.create({
    name: "ts-gated",
    agent_id: "reporter",
    cron_expr: "0 0 1 1 *",
    policy: { require_approval: true },
  });
  const waiting = async (runId: string): Promise<Run> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const run = await client.runs.get(runId);
      if (run.status === "pending_approval") return run;
      if (Date.now() > deadline) throw new Error(`run ${runId} is ${run.status}, not pending_approval`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const first = await client.schedule.trigger(job.id);
  await waiting(first.run_id);
  assert.equal((await client.runs.approve(first.run_id)).status, "queued");
  assert.equal((await finished(client, first.run_id)).status, "succeeded");
  const second = await client.schedule.trigger(job.id);
  await waiting(second.run_id);
  const denied = await client.runs.deny(second.run_id, { reason: "not today" });
  assert.equal(denied.status, "denied");
  assert.equal(denied.error_message, "denied by api: not today");
  await assert.rejects(client.runs.approve(second.run_id), ConflictError);
  await client.schedule.delete(job.id);
});

test("errors are typed and name the caller's field", async () => {
  const client = new SymbiontClient({ baseUrl, apiKey: process.env.SYMBI_API_KEY });
  const err = await client.schedule
    .create({ name: "bad", agentId: "a", cronExpr: "0 25 * * *" })
    .then(() => null, (e: unknown) => e);
  assert.ok(err instanceof InvalidInputError);
  assert.equal(err.status, 400);
  assert.equal(err.code, "invalid_cron");
  assert.deepEqual((err.details as { field: string }).field, "cronExpr");
  const denied = new SymbiontClient({ baseUrl, apiKey: "wrong" });
  await assert.rejects(denied.schedule.list(), (e: Error & { status?: number }) => e.status === 401);
  const nowhere = new SymbiontClient({ baseUrl: "http://127.0.0.1:9", apiKey: "x", timeoutMs: 2000 });
  await assert.rejects(nowhere.health.scheduler(), (e: Error & { code?: string }) => e.code === "unreachable");
});

test("usage: tokens and cost of model agents' runs, grouped as asked", async () => {
  const client = new SymbiontClient({ baseUrl, apiKey: process.env.SYMBI_API_KEY });
  const report = await client.usage({ since: "7d", by: ["job", "model"] });
  assert.deepEqual(report.by, ["job", "model"]);
  assert.ok(Array.isArray(report.rows));
  assert.equal(report.total.runs, report.rows.reduce((n, r) => n + r.runs, 0));
  await assert.rejects(
    client.usage({ since: "not a time" }),
    (e: unknown) => e instanceof InvalidInputError && e.status === 400,
  );
});
