"""Tools a model agent may call through function calling (``tools { NAME { command, description } }``).

A call runs the tool's ``command`` without a shell (split like a shell would, in its own process group, cwd
the run's context directory). The model's arguments arrive as JSON on stdin, and a ``{param}`` placeholder in
the command stands for that parameter's value: it replaces text inside one argv item and can never add a new
one, so an argument cannot inject a shell command. A call is bounded by the tool's ``timeout`` and by what is
left of the run's ``max_runtime``. A tool that declares a ``capability`` runs only for an agent that holds it;
otherwise the model is told, as the call's result, that it was refused.

Failures (unknown tool, bad arguments, refusal, non-zero exit, timeout) are answers to the model, not errors
of the run: the model may recover. Only the run's deadline ends the run (:attr:`ToolResult.deadline_hit`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Characters of a tool's stdout (and stderr) handed back to the model.
RESULT_CHARS = 16_000
DEFAULT_TIMEOUT = 60.0
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
#: The built-in tool every model agent gets (unless it declares its own of that name): calling it ends the
#: heartbeat wake, as a last line ``sleep`` does.
SLEEP_TOOL = "sleep"


def sleep_schema() -> dict[str, Any]:
    """The built-in ``sleep`` tool as the providers see it."""
    return {
        "name": SLEEP_TOOL,
        "description": (
            "End this wake now: call it when there is nothing more to do until the next scheduled wake. "
            "It is the same as answering `sleep` as your last line."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "description": "Optional: what you found or did, kept as the summary."}
            },
        },
    }


@dataclass
class Tool:
    """A declared tool, resolved from the agent's ``tools`` entry."""

    name: str
    command: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_SCHEMA))
    timeout: float = DEFAULT_TIMEOUT
    capability: str | None = None

    def schema(self) -> dict[str, Any]:
        """``{name, description, parameters}`` for the providers."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass
class ToolResult:
    """What goes back to the model, and what the runner needs to know."""

    content: str
    is_error: bool = False
    exit_code: int | None = None
    duration_ms: int = 0
    timed_out: bool = False
    deadline_hit: bool = False
    refused: bool = False


def tools_of(agent: Mapping[str, Any]) -> list[Tool]:
    """The agent's tools (a dict name -> spec, as stored), checked and in a stable order; ValueError names the
    tool and field that is wrong."""
    from pydantic import ValidationError

    from ..models import ToolSpec, validation_error

    out = []
    for name, raw in sorted((agent.get("tools") or {}).items()):
        try:
            spec = ToolSpec.model_validate(raw.model_dump() if hasattr(raw, "model_dump") else raw)
        except ValidationError as exc:
            raise ValueError(str(validation_error(exc, prefix=f"tools.{name}."))) from None
        out.append(
            Tool(
                name=str(name),
                command=spec.command,
                description=spec.description,
                parameters=spec.parameters or dict(EMPTY_SCHEMA),
                timeout=float(spec.timeout),
                capability=spec.capability,
            )
        )
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def build_argv(tool: Tool, arguments: Mapping[str, Any]) -> list[str]:
    """The tool's argv with ``{param}`` placeholders (declared parameters only) filled in; ValueError when a
    placeholder's parameter is missing or the command cannot be split."""
    declared = set((tool.parameters.get("properties") or {}).keys())
    argv = shlex.split(tool.command)
    if not argv:
        raise ValueError("the tool has an empty command")

    def fill(token: str) -> str:
        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in declared:
                return m.group(0)
            if key not in arguments:
                raise ValueError(f"missing argument {key!r}")
            return _as_text(arguments[key])

        return _PLACEHOLDER.sub(sub, token)

    return [fill(t) for t in argv]


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _cap(text: str) -> str:
    if len(text) <= RESULT_CHARS:
        return text
    return text[:RESULT_CHARS] + f"\n[truncated: {len(text)} characters in all]"


def run_tool(
    tool: Tool,
    arguments: Mapping[str, Any] | None,
    *,
    agent_name: str,
    cwd: Path,
    env: Mapping[str, str],
    deadline: float | None,
    allowed_capabilities: set[str],
    clock: Callable[[], float] = time.monotonic,
    raw_arguments: str | None = None,
) -> ToolResult:
    """Run one call of ``tool``; never raises for the tool's own failure."""
    if tool.capability and tool.capability not in allowed_capabilities:
        return ToolResult(
            f"refused: tool {tool.name!r} needs the capability {tool.capability!r}, which agent "
            f"{agent_name!r} does not have",
            is_error=True,
            refused=True,
        )
    if arguments is None:
        return ToolResult(
            f"error: the arguments for {tool.name!r} are not a JSON object: {raw_arguments!r}", is_error=True
        )
    try:
        argv = build_argv(tool, arguments)
    except ValueError as exc:
        return ToolResult(f"error: cannot call {tool.name!r}: {exc}", is_error=True)
    limit = tool.timeout
    by_deadline = False
    if deadline is not None:
        left = deadline - clock()
        if left <= 0:
            return ToolResult("error: the run's max_runtime is used up", is_error=True, deadline_hit=True)
        if left < limit:
            limit, by_deadline = left, True
    child_env = dict(env)
    child_env["SYMBI_TOOL_NAME"] = tool.name
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=str(cwd),
            env=child_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except FileNotFoundError:
        return ToolResult(f"error: tool {tool.name!r}: command not found: {argv[0]}", is_error=True, exit_code=127)
    except OSError as exc:
        return ToolResult(f"error: tool {tool.name!r}: cannot start {argv[0]}: {exc.strerror or exc}", is_error=True)
    payload = json.dumps(dict(arguments)).encode("utf-8")
    timed_out = False
    try:
        out, err = proc.communicate(payload, timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        _killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    _killpg(proc.pid, signal.SIGKILL)  # anything the tool left running in its group
    duration_ms = int((time.monotonic() - started) * 1000)
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace").strip()
    if timed_out:
        why = "the run's max_runtime ran out" if by_deadline else f"its timeout of {tool.timeout:g}s"
        text = f"error: tool {tool.name!r} was stopped after {limit:.3g}s ({why})"
        if stdout.strip():
            text += "\npartial output:\n" + _cap(stdout)
        return ToolResult(text, is_error=True, duration_ms=duration_ms, timed_out=True, deadline_hit=by_deadline)
    code = proc.returncode
    if code != 0:
        text = f"error: tool {tool.name!r} exited with status {code}"
        if stdout.strip():
            text += "\nstdout:\n" + _cap(stdout)
        if stderr:
            text += "\nstderr:\n" + _cap(stderr)
        return ToolResult(text, is_error=True, exit_code=code, duration_ms=duration_ms)
    return ToolResult(_cap(stdout) if stdout else "(no output)", exit_code=0, duration_ms=duration_ms)
