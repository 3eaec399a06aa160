"""The process a model agent runs in: ``python -m symbi_cron.modelrun.child`` (started by
:func:`symbi_cron.runtime.model_agent.execute_model`, like any agent, in its own process group under the run's
owner, so ``max_runtime`` and a shutdown kill it as they kill a command agent).

Protocol: the request is one JSON document on stdin (agent, input, context directory, session, configuration, the
agent's environment for its tools, the deadline on the system's monotonic clock, the values to mask); the
transcript goes straight to the run's log (masked, line by line, as it happens); the answer is one JSON document
on stdout (output, summary, exit code, error, usage, counts). Anything on stderr is a crash, logged by the owner.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _mask(secrets: list[str]):
    def mask(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return mask


class _MaskedLog:
    """The run log, with the agent's ``${VAR}`` secrets masked (the runner writes whole lines)."""

    def __init__(self, stream: Any, mask: Any) -> None:
        self.stream = stream
        self.mask = mask

    def write(self, text: str) -> int:
        return self.stream.write(self.mask(text))

    def flush(self) -> None:
        self.stream.flush()


def main() -> int:
    from ..config import Settings
    from ..paths import open_private
    from .runner import run_model_agent

    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    mask = _mask(list(request.get("secrets") or []))
    settings = Settings.model_validate(request["settings"])
    agent = request["agent"]
    with open_private(__import__("pathlib").Path(request["log_path"]), "a") as raw_log:
        log = _MaskedLog(raw_log, mask)
        if request.get("log_header"):
            log.write(request["log_header"] + "\n")
            log.flush()
        res = run_model_agent(
            agent,
            input_text=request.get("input_text"),
            context_dir=request["context_dir"],
            session_mode=request["session_mode"],
            previous_summary=request.get("previous_summary"),
            settings=settings,
            env=request["env"],
            key_env=dict(os.environ),
            deadline=request.get("deadline"),
            log=log,
            allowed_capabilities=set(agent.get("capabilities") or ()),
            budget=list(request.get("budget") or []),
            usage_before=request.get("usage_before") or {},
        )
    answer = {
        "output": mask(res.output),
        "summary": mask(res.summary) if res.summary else res.summary,
        "exit_code": res.exit_code,
        "error_message": mask(res.error_message) if res.error_message else res.error_message,
        "usage": dict(res.usage),
        "model_calls": res.model_calls,
        "tool_calls": res.tool_calls,
        "timed_out": res.timed_out,
        "interrupted": res.interrupted,
        "budget_exceeded": res.budget_exceeded,
    }
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
