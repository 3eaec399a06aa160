"""The executor's side of the seam: run a model agent for an :class:`~symbi_cron.runtime.executor.ExecRequest`
and report an :class:`~symbi_cron.runtime.executor.ExecResult`, as a command agent's execution would.

A model agent is a process like any other: ``python -m symbi_cron.modelrun.child`` in its own process group,
supervised by the same loop (:func:`~symbi_cron.runtime.executor.run_process`), so ``max_runtime``, a shutdown
and the death of its owner stop it as they stop a command agent. The model's final text plays the part of stdout
(the output, and the heartbeat's ``sleep`` line); the runner's summary is written to the session's summary file,
as an agent may do through ``SYMBI_SUMMARY_FILE``; the tokens and cost ride in ``ExecResult.extra["usage"]`` for
the run record.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..vocab import RunStatus
from .executor import TAIL_BYTES, ExecRequest, ExecResult, Launch, env_secrets, run_process

#: How long after the deadline a model agent's process is killed if its runner has not stopped by itself.
MODEL_KILL_SLACK_SECONDS = 3.0


def _settings(settings: Any, env: dict[str, str]) -> Any:
    if settings is not None:
        return settings
    from ..config import load_settings

    return load_settings(env=env)


def child_env(source: dict[str, str]) -> dict[str, str]:
    """The runner's environment: the supervisor's (it reads the configuration's ``${VAR}`` references and the
    provider key there; its tools get only the agent's), with this interpreter's import path, so the child runs
    the same code from a virtualenv, an editable checkout or the zipapp."""
    env = dict(source)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.pop("PYTHONHOME", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def execute_model(
    req: ExecRequest,
    *,
    session_mode: str,
    previous_summary: str | None,
    summary_file: Path | None,
    settings: Any = None,
) -> ExecResult:
    """Run the model agent of ``req`` once, in its own process; never raises (a config or model error is a
    ``failed`` result)."""
    started = time.monotonic()
    source = dict(req.source_env if req.source_env is not None else os.environ)
    secrets = req.secrets if req.secrets is not None else env_secrets(req.agent, req.env, source)
    try:
        cfg = _settings(settings, source)
        settings_doc = cfg.model_dump(mode="json")
    except Exception as exc:  # a broken config.toml is the run's error, not the daemon's
        msg = f"model agent {req.agent.get('name')!r}: cannot read the configuration: {exc}"
        return run_process(req, None, error=msg)
    request = {
        "agent": dict(req.agent),
        "input_text": req.input_text,
        "context_dir": str(req.cwd),
        "session_mode": session_mode,
        "previous_summary": previous_summary,
        "settings": settings_doc,
        "env": req.env,
        "deadline": req.deadline,
        "log_path": str(req.log_path),
        "log_header": req.log_header,
        "secrets": [s.decode("utf-8", "replace") for s in secrets],
        "budget": req.budget or [],
        "usage_before": req.usage_before or {},
    }
    launch = Launch(
        argv=[sys.executable, "-m", "symbi_cron.modelrun.child"],
        stdin=json.dumps(request, default=str).encode("utf-8"),
        env=child_env(source),
        cwd=req.cwd,
        stdout_is_output=False,
    )
    # The runner stops itself at the deadline with a message that says what it was doing; the kill is the
    # backstop for a runner that hangs, a moment later.
    hard_deadline = req.deadline + MODEL_KILL_SLACK_SECONDS if req.deadline is not None else None
    ready = req.ready
    if req.ready is not None:
        wait = req.ready

        def ready() -> None:  # a run prepared ahead: its time counts from its start, not from the wait
            nonlocal started
            wait()
            started = time.monotonic()

    proc_req = ExecRequest(
        **{
            **req.__dict__,
            "log_header": None,
            "echo": None,
            "secrets": secrets,
            "deadline": hard_deadline,
            "ready": ready,
        }
    )
    res = run_process(proc_req, launch)
    answer: dict[str, Any] | None = None
    if res.status == RunStatus.succeeded:
        try:
            answer = json.loads(res.output)
        except ValueError:
            answer = None
    duration_ms = int((time.monotonic() - started) * 1000)
    if answer is None:
        why = res.error_message or "the model runner ended without an answer"
        if res.status == RunStatus.succeeded:
            res = ExecResult(RunStatus.failed, 1, "", False, "", duration_ms, why)
        else:
            res = ExecResult(res.status, res.exit_code, "", False, "", duration_ms, why, pid=res.pid)
        _log_end(req.log_path, res)
        return res
    output = str(answer.get("output") or "")
    if summary_file is not None and answer.get("summary"):
        from ..paths import write_private

        write_private(summary_file, str(answer["summary"]))
    status = (
        RunStatus.succeeded
        if answer.get("exit_code") == 0
        else RunStatus.budget_exceeded
        if answer.get(RunStatus.budget_exceeded)
        else RunStatus.interrupted
        if answer.get("interrupted")
        else RunStatus.timed_out
        if answer.get("timed_out")
        else RunStatus.failed
    )
    data = output.encode("utf-8")
    truncated = len(data) > req.output_cap
    shown = data[: req.output_cap].decode("utf-8", "ignore") if truncated else output
    if truncated:
        shown += f"\n[output truncated at {req.output_cap} bytes of {len(data)}; full text in {req.log_path}]"
    if req.echo is not None and output:
        try:
            req.echo.write(output + ("" if output.endswith("\n") else "\n"))
            req.echo.flush()
        except (OSError, ValueError):
            pass
    error: str | None = answer.get("error_message")
    if status == RunStatus.timed_out and req.max_runtime is not None and error:
        error = f"{error} (max_runtime {req.max_runtime:g}s)"
    result = ExecResult(
        status=status,
        exit_code=answer.get("exit_code"),
        output=shown,
        truncated=truncated,
        tail=data[-TAIL_BYTES:].decode("utf-8", "ignore"),
        duration_ms=duration_ms,
        error_message=error,
        pid=res.pid,
        output_bytes=len(data),
        extra={
            "usage": dict(answer.get("usage") or {}),
            "model_calls": answer.get("model_calls", 0),
            "tool_calls": answer.get("tool_calls", 0),
            **({"budget_exceeded": answer["budget_exceeded"]} if answer.get("budget_exceeded") else {}),
        },
    )
    _log_end(req.log_path, result)
    return result


def _log_end(log_path: Path, result: ExecResult) -> None:
    from ..paths import open_private

    try:
        with open_private(log_path, "a") as log:
            log.write(f"[symbi] {result.status} (exit {result.exit_code}) after {result.duration_ms} ms\n")
    except OSError:
        pass


def sum_usage(usages: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The usage of a heartbeat wake: the sum of its iterations' (cost None when any iteration has none)."""
    present = [u for u in usages if u]
    if not present:
        return None
    costs = [u.get("cost_usd") for u in present]
    models = {u.get("model") for u in present if u.get("model")}
    return {
        "model": models.pop() if len(models) == 1 else None,
        "input_tokens": sum(int(u.get("input_tokens") or 0) for u in present),
        "output_tokens": sum(int(u.get("output_tokens") or 0) for u in present),
        "cost_usd": round(sum(float(c) for c in costs if c is not None), 6)
        if all(c is not None for c in costs)
        else None,
    }
