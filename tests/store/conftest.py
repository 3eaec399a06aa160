"""The store suite runs against both backends: every test that uses ``app`` runs on SQLite and on PostgreSQL (a
throwaway server from tests/pg/server.py; skipped with the reason when none can start). Tests of SQLite-only
mechanics (pragmas, file modes, query plans) are marked ``sqlite_only``."""

from __future__ import annotations

import pytest

from symbi_cron.paths import resolve
from symbi_cron.services.app import App
from symbi_cron.store import Store

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a test of the SQLite store's own mechanics")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ("sqlite",) if only_sqlite else BACKENDS)


@pytest.fixture
def app(home, clock, backend):
    """An App over a real store of the given backend (a fresh database per test on PostgreSQL)."""
    paths = resolve()
    if backend == "postgresql":
        from pg.server import fresh_database

        from symbi_cron.store.postgres import PgStore

        store = PgStore(fresh_database())
    else:
        store = Store(paths.db, paths.lock)
    application = App(paths=paths, store=store, clock=clock, actor="test")
    yield application
    application.store.close()
