"""Fixtures for the PostgreSQL tests: ``pg_url`` (a fresh migrated database on the session's throwaway server,
tests/pg/server.py) and an ``app``/``rt`` over it, so the runtime suites can run here unchanged."""

from __future__ import annotations

import pytest

# The runtime suites' ``settings`` and ``rt`` fixtures, as they are: ``rt`` asks for ``app`` by name, so here it
# gets the PostgreSQL one below.
from runtime.conftest import rt, settings  # noqa: F401  (fixtures re-exported for pytest)

from symbi_cron.paths import resolve
from symbi_cron.services.app import App

from .server import fresh_database


@pytest.fixture
def pg_url() -> str:
    return fresh_database()


@pytest.fixture
def app(home, clock, pg_url):
    """An App over a PostgreSQL store (a fresh database), a fake clock, actor ``test``."""
    from symbi_cron.store.postgres import PgStore

    application = App(paths=resolve(), store=PgStore(pg_url), clock=clock, actor="test")
    yield application
    application.store.close()
