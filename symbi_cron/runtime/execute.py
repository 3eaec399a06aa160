"""Executing one run of a job (SPEC §6, §7), plain or a heartbeat wake: sessions, iterations, the summary
hand-over, the environment each agent process gets.

A plain run is one execution in the run's session. A heartbeat wake runs the agent in iterations: an iteration
whose last output line says ``sleep`` (:func:`is_sleep_line`: any case, in quotes or markdown, or as the last
clause of the line) ends the wake successfully; a non-zero exit ends it as failed;
otherwise the next iteration starts at once, its context handed over per ``heartbeat.context_mode``. Reaching
``max_iterations`` without ``sleep`` fails the run. ``max_runtime`` bounds the whole wake.

Nothing here touches the store: :func:`execute_run` returns a :class:`RunOutcome` for the lifecycle to record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from ..paths import Paths
from ..sleepword import is_sleep_line, strip_sleep_line
from ..vocab import RunStatus
from . import sessions
from .executor import ExecRequest, ExecResult, agent_env, env_secrets, execute, read_summary


@dataclass
class RunOutcome:
    """What a run gave: final status, output (capped), summary, iterations and per-iteration details."""

    status: str
    exit_code: int | None
    output: str
    summary: str | None
    error_message: str | None
    iterations: int
    duration_ms: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunContext:
    """The settings one run needs, resolved by the caller."""

    paths: Paths
    job: Mapping[str, Any]
    run: Mapping[str, Any]
    agent: Mapping[str, Any] | None
    input_text: str
    previous_summary: str | None
    output_cap: int
    kill_grace: float
    max_runtime: float | None = None
    cancel: Any = None
    echo: TextIO | None = None
    base_env: Mapping[str, str] | None = None
    #: The configuration (model agents read ``[models]``); None: read it when a model agent runs.
    settings: Any | None = None
    #: Variables the configuration refers to (never inherited by an agent that does not name them); None:
    #: computed from ``settings``.
    withheld: frozenset[str] | None = None
    #: Each agent process in a session of its own (a thread of the daemon or the CLI owns the run); False in an
    #: owner process, which leads its session: the agent gets a process group in it, so every process the run
    #: started can be found by that session after the owner's death.
    agents_in_own_session: bool = True
    #: Model agents: the budgets of this run (``services/budgets.py``: ``modelrun.budget.Limit`` as JSON).
    budget: list[dict[str, Any]] | None = None
    #: A run prepared ahead of its time: when it starts (epoch seconds; ``max_runtime`` counts from then), and what
    #: waits for that instant just before the agent process starts (``ExecRequest.ready``).
    start_at: float | None = None
    ready: Callable[[], None] | None = None
    #: How long the owner leaves the CPU to the agents that start with this one (``ExecRequest.settle``).
    settle: float = 0.0

    def __post_init__(self) -> None:
        if self.withheld is None:
            from ..config import referenced_env

            self.withheld = frozenset(referenced_env(self.settings)) if self.settings is not None else frozenset()


#: A run prepared ahead holds its agent's process (started, stopped before its exec) when its time is at least this
#: far: closer, starting the process then costs less than starting it now and releasing it then.
HOLD_LEAD_SECONDS = 0.1


def is_sleep(result: ExecResult) -> bool:
    """True when the iteration's last output line says ``sleep`` (:func:`is_sleep_line`)."""
    return is_sleep_line(result.last_line())


def without_sleep_line(result: ExecResult) -> ExecResult:
    """The result with the ``sleep`` control word (its last line, or that line's last clause) left out of the
    tail, so a summary taken from the tail is what the agent found."""
    lines = result.tail.rstrip().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        rest = strip_sleep_line(lines[-1])
        lines = lines[:-1] + ([rest] if rest else [])
    return replace(result, tail="\n".join(lines))


def symbi_vars(
    *,
    job: Mapping[str, Any],
    run: Mapping[str, Any],
    agent: Mapping[str, Any] | None,
    session: sessions.Session,
    iteration: int,
) -> dict[str, str]:
    """The ``SYMBI_*`` environment of one execution (SPEC §6); empty job and run fields for an ad-hoc run."""
    scheduled = run.get("scheduled_for")
    return {
        "SYMBI_JOB_ID": str(job.get("id") or ""),
        "SYMBI_JOB_NAME": str(job.get("name") or ""),
        "SYMBI_RUN_ID": str(run.get("id") or ""),
        "SYMBI_AGENT_ID": str(job.get("agent_id") or (agent or {}).get("name") or ""),
        "SYMBI_SCHEDULED_FOR": scheduled.isoformat() if scheduled is not None else "",
        "SYMBI_TRIGGER": str(run.get("trigger") or ""),
        "SYMBI_SESSION_MODE": session.mode,
        "SYMBI_CONTEXT_DIR": str(session.context_dir),
        "SYMBI_ITERATION": str(iteration),
        "SYMBI_PREVIOUS_SUMMARY": session.previous_summary or "",
        "SYMBI_SUMMARY_FILE": str(session.summary_file),
        "SYMBI_ATTEMPT": str(run.get("attempt") or 1),
    }


def execute_agent(req: ExecRequest, session: sessions.Session, *, settings: Any | None) -> ExecResult:
    """One execution of an agent: its command as a subprocess, or a model agent through the built-in runner.
    Every way of running an agent (a scheduled run, a heartbeat iteration, `symbi run`) goes through here."""
    if req.agent.get("model") and not req.agent.get("command"):
        from .model_agent import execute_model

        return execute_model(
            req,
            session_mode=session.mode,
            previous_summary=session.previous_summary,
            summary_file=session.summary_file,
            settings=settings,
        )
    return execute(req)


def _execute(
    ctx: RunContext,
    session: sessions.Session,
    iteration: int,
    deadline: float | None,
    header: str | None,
    cap: int,
    usage_before: dict[str, Any] | None = None,
    ready: Callable[[], None] | None = None,
) -> tuple[ExecResult, list[bytes]]:
    assert ctx.agent is not None
    source = dict(ctx.base_env) if ctx.base_env is not None else None
    env = agent_env(
        ctx.agent,
        symbi_vars(job=ctx.job, run=ctx.run, agent=ctx.agent, session=session, iteration=iteration),
        source,
        withheld=ctx.withheld or (),
    )
    secrets = env_secrets(ctx.agent, env, source)
    req = ExecRequest(
        agent=ctx.agent,
        input_text=ctx.input_text,
        cwd=session.context_dir,
        env=env,
        log_path=ctx.paths.run_log(str(ctx.run["id"])),
        output_cap=cap,
        deadline=deadline,
        max_runtime=ctx.max_runtime,
        kill_grace=ctx.kill_grace,
        echo=ctx.echo,
        cancel=ctx.cancel,
        log_header=header,
        source_env=source,
        secrets=secrets,
        new_session=ctx.agents_in_own_session,
        budget=ctx.budget,
        usage_before=usage_before,
        ready=ready,
        settle=ctx.settle if ready is not None else 0.0,
        hold=ctx.start_at is not None and ctx.start_at - time.time() >= HOLD_LEAD_SECONDS,
    )
    return execute_agent(req, session, settings=ctx.settings), secrets


def execute_run(ctx: RunContext) -> RunOutcome:
    """Run the job's agent for this run (one execution, or one heartbeat wake). Never raises for the agent (a run
    prepared ahead raises ``NotStarted`` when it must not start after all)."""
    started = time.monotonic()
    if ctx.start_at is not None:  # prepared ahead: its time, and max_runtime, count from its start
        started += max(0.0, ctx.start_at - time.time())
    job, run = ctx.job, ctx.run
    if ctx.agent is None:
        if ctx.ready is not None:
            ctx.ready()  # prepared ahead: it fails at its time, not before it started
        return RunOutcome(
            RunStatus.failed,
            None,
            "",
            None,
            f"agent {job.get('agent_id')!r} is not registered (symbi agent add {job.get('agent_id')} --command ...)",
            0,
            0,
        )
    deadline = started + ctx.max_runtime if ctx.max_runtime else None
    mode = str(job.get("session_mode") or sessions.EPHEMERAL_WITH_SUMMARY)
    hb = job.get("heartbeat") or {}
    if not hb.get("enabled"):
        session = sessions.open_session(ctx.paths, str(job["id"]), str(run["id"]), mode, ctx.previous_summary)
        try:
            res, secrets = _execute(ctx, session, 1, deadline, None, ctx.output_cap, ready=ctx.ready)
            summary = read_summary(session.summary_file, res, secrets)
        finally:
            session.close()
        detail: dict[str, Any] = {"output_bytes": res.output_bytes, "truncated": res.truncated}
        if res.extra.get("usage"):
            detail["usage"] = res.extra["usage"]
        if res.extra.get("budget_exceeded"):
            detail["budget_exceeded"] = res.extra["budget_exceeded"]
        return RunOutcome(res.status, res.exit_code, res.output, summary, res.error_message, 1, res.duration_ms, detail)
    return _wake(ctx, mode, hb, started, deadline)


def _wake(ctx: RunContext, mode: str, hb: Mapping[str, Any], started: float, deadline: float | None) -> RunOutcome:
    job, run = ctx.job, ctx.run
    max_iter = int(hb.get("max_iterations") or 10)
    ctx_mode = str(hb.get("context_mode") or sessions.EPHEMERAL_WITH_SUMMARY)
    # The wake's own session follows session_mode (what the wake sees of the previous wake) ...
    wake_session = sessions.open_session(ctx.paths, str(job["id"]), str(run["id"]), mode, ctx.previous_summary)
    outputs: list[str] = []
    per_iter: list[dict[str, Any]] = []
    used = 0
    summary: str | None = wake_session.previous_summary
    status, code, error = RunStatus.failed, None, None
    over: dict[str, Any] | None = None
    iter_sessions: list[sessions.Session] = []
    last_summary: str | None = None
    usages: list[dict[str, Any] | None] = []
    try:
        for i in range(1, max_iter + 1):
            # ... and each iteration after the first sees the previous iteration per context_mode.
            if i == 1:
                session = wake_session
            elif ctx_mode == sessions.SHARED_PERSISTENT:
                session = sessions.Session(ctx_mode, wake_session.context_dir, False, summary).prepare()
            else:
                session = sessions.open_session(
                    ctx.paths, str(job["id"]), str(run["id"]), ctx_mode, summary, suffix=f"iteration-{i}"
                )
                iter_sessions.append(session)
            room = max(1024, ctx.output_cap - sum(len(o.encode()) for o in outputs))
            spent = _sum_usage(usages) if ctx.budget else None
            res, secrets = _execute(
                ctx,
                session,
                i,
                deadline,
                f"[symbi] --- iteration {i} ---",
                room,
                spent,
                ready=ctx.ready if i == 1 else None,
            )
            used = i
            slept = res.ok and is_sleep(res)
            # `sleep` is the loop's control word, not what the agent found: a summary taken from the output's
            # tail leaves it out, and a last iteration that said nothing else leaves the wake the summary of
            # the iteration before it.
            it_summary = read_summary(session.summary_file, without_sleep_line(res) if slept else res, secrets)
            summary = it_summary if ctx_mode != sessions.FULLY_EPHEMERAL else None
            if it_summary is not None or not slept:
                last_summary = it_summary
            outputs.append(res.output)
            usages.append(res.extra.get("usage"))
            per_iter.append(
                {
                    "iteration": i,
                    "status": res.status,
                    "exit_code": res.exit_code,
                    "summary": it_summary,
                    "duration_ms": res.duration_ms,
                    "sleep": slept,
                }
            )
            if session is not wake_session and session.ephemeral:
                session.close()
            code = res.exit_code
            if not res.ok:
                status, error = res.status, f"iteration {i}: {res.error_message}"
                over = res.extra.get("budget_exceeded")
                break
            if slept:
                status = RunStatus.succeeded
                break
        else:
            status = RunStatus.failed
            error = (
                f"heartbeat reached max_iterations ({max_iter}) without the agent answering `sleep`"
                " as its last output line (or calling the sleep tool)"
            )
    finally:
        wake_session.close()
        for s in iter_sessions:
            s.close()
    joined = "\n".join(outputs) if len(outputs) > 1 else (outputs[0] if outputs else "")
    if len(joined.encode()) > ctx.output_cap:
        joined = joined.encode()[: ctx.output_cap].decode("utf-8", "ignore") + "\n[output truncated]"
    duration_ms = int((time.monotonic() - started) * 1000)
    final_summary = last_summary if used else None
    detail: dict[str, Any] = {"heartbeat": {"context_mode": ctx_mode, "iterations": per_iter}}
    if any(usages):
        detail["usage"] = _sum_usage(usages)
    if over:
        detail["budget_exceeded"] = over
    return RunOutcome(status, code, joined, final_summary, error, used, duration_ms, detail)


def _sum_usage(usages: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    from .model_agent import sum_usage

    return sum_usage(usages)
