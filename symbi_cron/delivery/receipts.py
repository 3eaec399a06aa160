"""Delivery receipts in the store: the ``deliveries`` table (one row per run and channel).

Plain SQL on a connection the caller owns: ``save_receipts`` is meant to run inside the caller's write
transaction (``Store.write()``), so the receipts land with the run's final state or not at all. Failed rows
(``ok = 0``) are what the delivery-failure metric counts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ..timeutil import from_ms, to_ms
from .base import Receipt

#: SQLite's default limit on bound variables is 999 in old builds: query run ids in chunks below it.
_CHUNK = 500


def save_receipts(conn: sqlite3.Connection, run_id: str, receipts: Iterable[Receipt]) -> int:
    """Store one row per receipt for ``run_id`` (a second delivery to the same channel replaces the row)."""
    rows = [(run_id, r.channel, 1 if r.ok else 0, r.detail, max(1, int(r.attempts)), to_ms(r.at)) for r in receipts]
    if rows:
        conn.executemany(
            "INSERT INTO deliveries (run_id, channel, ok, detail, attempts, at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (run_id, channel) DO UPDATE SET ok = excluded.ok, detail = excluded.detail,"
            " attempts = excluded.attempts, at = excluded.at",
            rows,
        )
    return len(rows)


def load_receipts(conn: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The receipts of each run, in delivery order: ``{run_id: [{channel, ok, detail, attempts, at}]}``.

    ``at`` is an aware UTC datetime. Runs without receipts are absent from the result.
    """
    ids = list(dict.fromkeys(run_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        # Insertion order breaks ties of `at`: SQLite's rowid, PostgreSQL's physical row position.
        tiebreak = "ctid" if getattr(conn, "dialect", "sqlite") == "postgresql" else "rowid"
        cur = conn.execute(
            f"SELECT run_id, channel, ok, detail, attempts, at FROM deliveries WHERE run_id IN ({marks}) "
            f"ORDER BY run_id, at, {tiebreak}",
            chunk,
        )
        for run_id, channel, ok, detail, attempts, at in cur.fetchall():
            out.setdefault(run_id, []).append(
                {
                    "channel": channel,
                    "ok": bool(ok),
                    "detail": detail,
                    "attempts": attempts,
                    "at": from_ms(at),
                }
            )
    return out


def failed_delivery_count(conn: sqlite3.Connection) -> int:
    """How many deliveries failed, all time (the metrics read this)."""
    return int(conn.execute("SELECT COUNT(*) FROM deliveries WHERE ok = 0").fetchone()[0])
