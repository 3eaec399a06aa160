// Compile-time checks: tsc fails if a line marked @ts-expect-error compiles (the types must refuse it).
import { test } from "node:test";

import type { Job, JobCamel } from "../src/index.js";
import { SymbiontClient } from "../src/index.js";

test("the types refuse what the API refuses", () => {
  const client = new SymbiontClient({ apiKey: "unused", baseUrl: "http://127.0.0.1:9" });
  const check = async () => {
    // @ts-expect-error: a job needs an agent
    await client.schedule.create({ name: "x", cron_expr: "* * * * *" });
    // @ts-expect-error: not a session mode
    await client.schedule.create({ name: "x", agentId: "a", cronExpr: "* * * * *", sessionMode: "forever" });
    // @ts-expect-error: not a job status
    await client.schedule.list({ status: "sleeping" });
    const camel: JobCamel = await client.schedule.create({ name: "x", agentId: "a", cronExpr: "* * * * *" });
    const snake: Job = await client.schedule.create({ name: "x", agent_id: "a", cron_expr: "* * * * *" });
    // @ts-expect-error: a camelCase answer has no snake_case fields
    void camel.agent_id;
    // @ts-expect-error: a snake_case answer has no camelCase fields
    void snake.agentId;
  };
  void check;
});
