"""Runtime fixtures: script agents (tests/agents/agent.py), jobs, and a Supervisor on a FakeClock."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import pytest
from agents.daemon_helper import agent_command

from symbi_cron.config import Settings
from symbi_cron.services import agents as agent_svc
from symbi_cron.services import jobs as job_svc

#: The instant of the shared `clock` fixture (tests/conftest.py).
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings() -> Settings:
    s = Settings()
    s.api.enabled = False
    s.scheduler.kill_grace_seconds = 1
    s.scheduler.default_timezone = "UTC"
    # Runs start at their time, as a fake clock ticks them (test_prepare_ahead.py covers runs prepared ahead).
    s.scheduler.prepare_ahead_seconds = 0
    return s


@pytest.fixture
def rt(app, settings):
    """Helpers over a real store: ``rt.agent(name, *args)``, ``rt.job(**fields)``, ``rt.supervisor()``."""
    app.settings = settings
    return Runtime(app)


class Runtime:
    def __init__(self, app) -> None:
        self.app = app

    def agent(self, name: str, *args: str, **extra: Any) -> dict:
        return agent_svc.add_agent(self.app, {"name": name, "command": agent_command(*args), **extra}, replace=True)

    def job(self, name: str = "job", agent: str = "a", cron: str | None = "* * * * *", **fields: Any) -> dict:
        spec = {"name": name, "agent_id": agent, **fields}
        if cron is not None and "at" not in fields:
            spec["cron_expr"] = cron
        return job_svc.create_job(self.app, spec)

    def supervisor(self, seed: int = 1, **kw: Any):
        from symbi_cron.runtime.supervisor import Supervisor

        return Supervisor(self.app, rng=random.Random(seed), **kw)

    def runs(self, job_id: str) -> list[dict]:
        from symbi_cron.store import runs as run_rows

        rows = run_rows.for_job(self.app.store.connection(), job_id)
        return sorted(rows, key=lambda r: (r["scheduled_for"], r["created_at"]))

    def get_job(self, job_id: str) -> dict:
        return job_svc.get_job(self.app, job_id)

    def events(self, type_: str) -> list[dict]:
        rows = self.app.store.query("SELECT * FROM audit WHERE type = ? ORDER BY seq", (type_,))
        return [dict(r) for r in rows]

    def cycle(self, sup, advance: float = 0.0) -> None:
        """Advance the fake clock, tick, and wait for the runs started to finish."""
        if advance:
            self.app.clock.advance(advance)
        sup.tick()
        assert sup.wait_idle(30)
