"""Fixtures for model agent tests: the fake model server (a real HTTP server on 127.0.0.1 standing in for the
internet), settings pointing at it, and a helper that runs an agent through ``run_model_agent``."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from symbi_cron.config import ModelSettings, Settings
from symbi_cron.modelrun import run_model_agent

from .fake_model_server import FakeModelServer

KEY = "sk-test-0123456789-secret"


class StepClock:
    """Real monotonic time plus whatever ``sleep`` was asked for: retry waits are recorded, not slept."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


@pytest.fixture
def server():
    with FakeModelServer(key=KEY) as srv:
        yield srv


def make_settings(server: FakeModelServer | None, provider: str | None = None, **models: Any) -> Settings:
    ms = ModelSettings(provider=provider, base_url=server.url if server else None, **models)
    return Settings(models=ms)


def agent(model: str = "claude-sonnet-4.5", **kw: Any) -> dict[str, Any]:
    spec = {"name": "monitor", "model": model, "system_prompt": "You are a monitor. Return 'sleep' when done."}
    spec.update(kw)
    return spec


@pytest.fixture
def run(tmp_path: Path, server: FakeModelServer):
    """Run an agent against the fake server; returns (result, log text, clock)."""

    def go(spec: dict[str, Any] | None = None, *, input_text: str | None = "check the disks",
           session_mode: str = "fully_ephemeral", previous_summary: str | None = None,
           settings: Settings | None = None, env: dict[str, str] | None = None, max_runtime: float | None = 30,
           capabilities: set[str] | None = None, context_dir: Path | None = None, clock: StepClock | None = None):
        clock = clock or StepClock()
        log = io.StringIO()
        ctx = context_dir or (tmp_path / "ctx")
        ctx.mkdir(parents=True, exist_ok=True)
        res = run_model_agent(
            spec or agent(), input_text=input_text, context_dir=ctx, session_mode=session_mode,
            previous_summary=previous_summary, settings=settings or make_settings(server, "anthropic"),
            env=env if env is not None else {"ANTHROPIC_API_KEY": KEY, "OPENAI_API_KEY": KEY, "PATH": "/usr/bin:/bin"},
            deadline=clock() + max_runtime if max_runtime else None, log=log,
            allowed_capabilities=capabilities or set(), clock=clock, sleep=clock.sleep)
        return res, log.getvalue(), clock

    return go
