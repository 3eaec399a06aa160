"""Shared fixtures: a private SYMBI_HOME per test, an App on a real SQLite file with a fake clock, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from symbi_cron.clock import FakeClock
from symbi_cron.paths import resolve
from symbi_cron.services.app import App
from symbi_cron.store import Store

#: A fixed instant for exact tests: Friday 2026-11-27 12:00:00 UTC.
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SYMBI_HOME (store, config, logs) for this test; UTC as the default zone."""
    h = tmp_path / "symbi-home"
    monkeypatch.setenv("SYMBI_HOME", str(h))
    monkeypatch.setenv("SYMBI_DEFAULT_TIMEZONE", "UTC")
    # COLUMNS would fit tables to a width: tests see whole tables unless they ask for one.
    for var in (
        "SYMBI_API_KEY",
        "SYMBI_ENV",
        "SYMBI_AGENTPIN_REQUIRED",
        "SYMBI_AGENTPIN_DOMAIN",
        "SYMBI_DEBUG",
        "COLUMNS",
    ):
        monkeypatch.delenv(var, raising=False)
    return h


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def app(home: Path, clock: FakeClock) -> App:
    """An App over a real SQLite store in ``home``, driven by a fake clock, actor ``test``."""
    paths = resolve()
    application = App(paths=paths, store=Store(paths.db, paths.lock), clock=clock, actor="test")
    yield application
    application.store.close()


@pytest.fixture
def cli(home: Path):
    """Invoke the real click CLI in-process; returns the Result (stdout and stderr kept apart)."""
    from symbi_cron.cli import cli as root

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, ok: bool | None = None):
        from symbi_cron.cli import main

        # Go through main() so errors are rendered and mapped to exit codes exactly as for users.
        result = runner.invoke(_MainWrapper(main), list(args), input=input, catch_exceptions=False)
        if ok is True:
            assert result.exit_code == 0, (result.stdout, result.stderr)
        return result

    invoke.root = root  # type: ignore[attr-defined]
    return invoke


class _MainWrapper:
    """Lets CliRunner call symbi_cron.cli.main (which handles errors) instead of the bare click group."""

    def __init__(self, main):
        self.main_fn = main
        self.name = "symbi"

    def main(self, args=None, prog_name=None, **kwargs):
        self.main_fn(list(args or []))


@pytest.fixture
def run_symbi(home: Path):
    """Run ``symbi`` as a real subprocess (python -m symbi_cron) with this test's environment."""

    def run(*args: str, input: str | None = None, timeout: float = 60, env: dict | None = None):
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        return subprocess.run(
            [sys.executable, "-m", "symbi_cron", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
        )

    return run


@pytest.fixture
def d(tmp_path: Path):
    """A real daemon's SYMBI_HOME driven through the `symbi` CLI as subprocesses (tests/agents/daemon_helper.py);
    whatever daemon the test started is killed, and waited for, at the end."""
    from agents.daemon_helper import Daemon

    daemon = Daemon(tmp_path / "home")
    yield daemon
    daemon.cleanup()


# Property tests explore new random examples on developers' machines; CI (CI=true) replays a fixed derandomised
# set so that a landing is never blocked by chance. New counterexamples found locally become named tests.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
