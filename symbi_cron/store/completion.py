"""What shell completion reads from the store, on the light path (every Tab press runs it): sqlite3 and paths
only, no pydantic, no services.

The store is opened read-only and never created or migrated: a Tab press must not leave a ``symbi.db`` behind,
and it must not fail loudly (any problem completes nothing). A shared PostgreSQL store completes nothing: a Tab
press must not open network connections.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def _rows(sql: str, params: tuple = ()) -> list[Any]:
    """Rows from the store opened read-only; [] when there is no store or it cannot be read."""
    from ..errors import SymbiError
    from ..paths import resolve
    from .factory import is_postgres_url, store_url

    try:
        paths = resolve()
        url = store_url(paths)
        if url and is_postgres_url(url):
            return []
        db = Path(url.removeprefix("sqlite://").removeprefix("sqlite:")) if url else paths.db
        if not db.exists():
            return []
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=0.5)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError, ValueError, SymbiError):
        return []


def jobs() -> list[tuple[str, str, str, str]]:
    """``(id, name, agent_id, status)`` of every job, by name."""
    return [tuple(r) for r in _rows("SELECT id, name, agent_id, status FROM jobs ORDER BY name")]


def agent_names(start: str = "") -> list[str]:
    """Names of the registered agents from ``start`` on, by name."""
    return [r[0] for r in _rows("SELECT name FROM agents WHERE name >= ? ORDER BY name", (start,))]


def pending_runs() -> list[tuple[str, str]]:
    """``(run id, job name)`` of the runs waiting for approval, oldest first."""
    return [
        (r[0], r[1])
        for r in _rows(
            "SELECT r.id, j.name FROM runs r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.status = 'pending_approval' ORDER BY r.created_at"
        )
    ]
