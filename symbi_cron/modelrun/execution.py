"""The executor's side of the seam: run a model agent for an :class:`~symbi_cron.runtime.executor.ExecRequest`
and report an :class:`~symbi_cron.runtime.executor.ExecResult`, as a command agent's execution would.

The model's final text plays the part of stdout (the output, and the heartbeat's ``sleep`` line); the runner's
summary is written to the session's summary file, as an agent may do through ``SYMBI_SUMMARY_FILE``; the
tokens and cost ride in ``ExecResult.extra["usage"]`` for the run record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..runtime.executor import TAIL_BYTES, ExecRequest, ExecResult, env_secrets


def _settings(settings: Any, env: dict[str, str]) -> Any:
    if settings is not None:
        return settings
    from ..config import load_settings

    return load_settings(env=env)


class _MaskedLog:
    """The run log, with the agent's ``${VAR}`` secrets masked (the runner writes whole lines)."""

    def __init__(self, stream: Any, mask: Callable[[str], str]) -> None:
        self.stream = stream
        self.mask = mask

    def write(self, text: str) -> int:
        return self.stream.write(self.mask(text))

    def flush(self) -> None:
        self.stream.flush()


def execute_model(
    req: ExecRequest,
    *,
    session_mode: str,
    previous_summary: str | None,
    summary_file: Path | None,
    settings: Any = None,
) -> ExecResult:
    """Run the model agent of ``req`` once; never raises (a config or model error is a ``failed`` result)."""
    from ..paths import ensure_private_dir, open_private
    from .runner import run_model_agent

    started = time.monotonic()
    ensure_private_dir(req.cwd)
    # As for a command agent (docs/security.md): what the agent's env took from ${VAR} references is masked in
    # everything the run records, should a tool print it or the model repeat it.
    secrets = [s.decode("utf-8", "replace") for s in env_secrets(req.agent, req.env)]

    def mask(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    with open_private(req.log_path, "a") as raw_log:
        log = _MaskedLog(raw_log, mask) if secrets else raw_log
        if req.log_header:
            log.write(req.log_header + "\n")
        try:
            cfg = _settings(settings, dict(req.env))
        except Exception as exc:  # a broken config.toml is the run's error, not the daemon's
            msg = f"model agent {req.agent.get('name')!r}: cannot read the configuration: {exc}"
            log.write(f"[symbi] {msg}\n")
            return ExecResult("failed", 1, "", False, "", int((time.monotonic() - started) * 1000), msg)
        res = run_model_agent(
            req.agent,
            input_text=req.input_text,
            context_dir=req.cwd,
            session_mode=session_mode,
            previous_summary=previous_summary,
            settings=cfg,
            env=req.env,
            deadline=req.deadline,
            log=log,
            allowed_capabilities=set(req.agent.get("capabilities") or ()),
            cancel=req.cancel,
        )
        if secrets:
            res.output = mask(res.output)
            res.summary = mask(res.summary) if res.summary else res.summary
            res.error_message = mask(res.error_message) if res.error_message else res.error_message
        duration_ms = int((time.monotonic() - started) * 1000)
        status = (
            "succeeded" if res.ok else "interrupted" if res.interrupted else "timed_out" if res.timed_out else "failed"
        )
        log.write(f"[symbi] {status} (exit {res.exit_code}) after {duration_ms} ms\n")
    if summary_file is not None and res.summary:
        from ..paths import write_private

        write_private(summary_file, res.summary)
    data = res.output.encode("utf-8")
    truncated = len(data) > req.output_cap
    output = data[: req.output_cap].decode("utf-8", "ignore") if truncated else res.output
    if truncated:
        output += f"\n[output truncated at {req.output_cap} bytes of {len(data)}; full text in {req.log_path}]"
    if req.echo is not None and res.output:
        try:
            req.echo.write(res.output + ("" if res.output.endswith("\n") else "\n"))
            req.echo.flush()
        except (OSError, ValueError):
            pass
    error = res.error_message
    if res.timed_out and req.max_runtime is not None and error:
        error = f"{error} (max_runtime {req.max_runtime:g}s)"
    return ExecResult(
        status=status,
        exit_code=res.exit_code,
        output=output,
        truncated=truncated,
        tail=data[-TAIL_BYTES:].decode("utf-8", "ignore"),
        duration_ms=duration_ms,
        error_message=error,
        output_bytes=len(data),
        extra={"usage": dict(res.usage), "model_calls": res.model_calls, "tool_calls": res.tool_calls},
    )


def sum_usage(usages: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The usage of a heartbeat wake: the sum of its iterations' (cost None when any iteration has none)."""
    present = [u for u in usages if u]
    if not present:
        return None
    costs = [u.get("cost_usd") for u in present]
    return {
        "input_tokens": sum(int(u.get("input_tokens") or 0) for u in present),
        "output_tokens": sum(int(u.get("output_tokens") or 0) for u in present),
        "cost_usd": round(sum(float(c) for c in costs if c is not None), 6)
        if all(c is not None for c in costs)
        else None,
    }
