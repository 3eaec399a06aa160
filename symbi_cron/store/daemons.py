"""The ``daemons`` table, read side: which supervisors hold a live lease on a shared store (docs/scaling.md).
The leases themselves are written by the supervisor and the run owners (``services/leases.py``)."""

from __future__ import annotations

from typing import Any


def count_live(conn: Any, now_ms: int) -> int:
    """How many daemons hold a lease that has not lapsed at ``now_ms``."""
    row = conn.execute("SELECT COUNT(*) FROM daemons WHERE lease_until >= ?", (now_ms,)).fetchone()
    return int(row[0]) if row else 0
