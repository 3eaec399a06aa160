"""Fixtures for model agent tests: the fake model server (a real HTTP server on 127.0.0.1 standing in for the
internet), settings pointing at it, and a helper that runs an agent through ``run_model_agent``."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

# The repository root (for `tests.servers`) and this directory (for the helpers) are importable whatever
# pytest's import mode; tests/ itself never goes on sys.path (tests/http would shadow the standard library's
# http).
for _dir in (Path(__file__).resolve().parents[2], Path(__file__).resolve().parent):
    if str(_dir) not in sys.path:
        sys.path.append(str(_dir))

from fake_model_server import FakeModelServer  # noqa: E402
from model_helpers import KEY, StepClock, agent, make_settings  # noqa: E402

from symbi_cron.config import Settings  # noqa: E402
from symbi_cron.modelrun import run_model_agent  # noqa: E402


@pytest.fixture
def server():
    with FakeModelServer(key=KEY) as srv:
        yield srv


@pytest.fixture
def run(tmp_path: Path, server: FakeModelServer):
    """Run an agent against the fake server; returns (result, log text, clock)."""

    def go(
        spec: dict[str, Any] | None = None,
        *,
        input_text: str | None = "check the disks",
        session_mode: str = "fully_ephemeral",
        previous_summary: str | None = None,
        settings: Settings | None = None,
        env: dict[str, str] | None = None,
        max_runtime: float | None = 30,
        capabilities: set[str] | None = None,
        context_dir: Path | None = None,
        clock: StepClock | None = None,
    ):
        clock = clock or StepClock()
        log = io.StringIO()
        ctx = context_dir or (tmp_path / "ctx")
        ctx.mkdir(parents=True, exist_ok=True)
        res = run_model_agent(
            spec or agent(),
            input_text=input_text,
            context_dir=ctx,
            session_mode=session_mode,
            previous_summary=previous_summary,
            settings=settings or make_settings(server, "anthropic"),
            env=env if env is not None else {"ANTHROPIC_API_KEY": KEY, "OPENAI_API_KEY": KEY, "PATH": "/usr/bin:/bin"},
            deadline=clock() + max_runtime if max_runtime else None,
            log=log,
            allowed_capabilities=capabilities or set(),
            clock=clock,
            sleep=clock.sleep,
        )
        return res, log.getvalue(), clock

    return go
