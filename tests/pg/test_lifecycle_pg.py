"""The run lifecycle suite (tests/runtime/test_lifecycle.py) on a PostgreSQL store: the same tests, unchanged,
with ``app`` over a fresh database (tests/pg/conftest.py)."""

from __future__ import annotations

from runtime import test_lifecycle as _suite

#: Tests that query SQLite's own ``rowid`` to order rows (the behaviour they check runs here through the others).
SQLITE_ONLY = {"test_global_limit_queues_in_order"}

globals().update(
    {name: fn for name, fn in vars(_suite).items() if name.startswith("test_") and name not in SQLITE_ONLY}
)
