"""Fixtures for model agent tests: the fake model server (a real HTTP server on 127.0.0.1 standing in for the
internet), settings pointing at it, a helper that runs an agent through ``run_model_agent``, and ``sched``: the
real scheduler (Supervisor, owners, store) configured for the fake server."""

from __future__ import annotations

import io
import random
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

from symbi_cron.config import ModelSettings, Settings  # noqa: E402
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
        **more: Any,
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
            **more,
        )
        return res, log.getvalue(), clock

    return go


@pytest.fixture
def model_server():
    with FakeModelServer(key=KEY) as srv:
        yield srv


@pytest.fixture
def slack():
    from tests.servers.slack_server import SlackServer

    with SlackServer() as srv:
        yield srv


@pytest.fixture
def sched(app, model_server, monkeypatch):
    """The app configured for the fake model server; ``sched.cycle(seconds)`` advances, ticks and waits."""
    for var in ("OPENAI_API_KEY", "SYMBI_MODEL_BASE_URL", "SYMBI_MODEL_PROVIDER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    settings = Settings(
        models=ModelSettings(
            base_url=model_server.url,
            prices={"claude-sonnet-4-5": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}},
        )
    )
    settings.api.enabled = False
    settings.scheduler.default_timezone = "UTC"
    settings.scheduler.kill_grace_seconds = 1
    app.settings = settings

    from symbi_cron.runtime.supervisor import Supervisor
    from symbi_cron.store import runs as run_rows

    class Sched:
        sup = Supervisor(app, rng=random.Random(1))

        def cycle(self, seconds: float) -> None:
            app.clock.advance(seconds)
            self.sup.tick()
            assert self.sup.wait_idle(30)

        def runs(self, job_id: str) -> list[dict]:
            rows = run_rows.for_job(app.store.connection(), job_id)
            return sorted(rows, key=lambda r: (r["scheduled_for"], r["created_at"]))

    return Sched()
