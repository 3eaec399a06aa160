"""The ``deliveries`` table: one receipt per run and channel (``delivery.base.Receipt``: ``channel``, ``ok``,
``detail``, ``attempts``, ``at``).

``save_receipts`` runs inside the caller's write transaction (``Store.write()``), so the receipts land with the
run's final state, or with the settling of its outbox row (``store/outbox.py``), or not at all. Failed rows
(``ok = 0``) are what the delivery-failure metric counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..timeutil import from_ms, to_ms
from .base import PerDialect

#: SQLite's default limit on bound variables is 999 in old builds: query run ids in chunks below it.
_CHUNK = 500

#: The receipts of some runs in delivery order. Insertion order breaks ties of ``at``: SQLite's ``rowid``,
#: PostgreSQL's physical row position ``ctid``. ``{marks}`` is the run ids' placeholders.
_LOAD = PerDialect(
    sqlite="SELECT run_id, channel, ok, detail, attempts, at FROM deliveries WHERE run_id IN ({marks})"
    " ORDER BY run_id, at, rowid",
    postgresql="SELECT run_id, channel, ok, detail, attempts, at FROM deliveries WHERE run_id IN ({marks})"
    " ORDER BY run_id, at, ctid",
)


def save_receipts(conn: Any, run_id: str, receipts: Iterable[Any]) -> int:
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


def load_receipts(conn: Any, run_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The receipts of each run, in delivery order: ``{run_id: [{channel, ok, detail, attempts, at}]}``.

    ``at`` is an aware UTC datetime. Runs without receipts are absent from the result.
    """
    ids = list(dict.fromkeys(run_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        cur = conn.execute(_LOAD(conn).format(marks=",".join("?" * len(chunk))), chunk)
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


def failed_delivery_count(conn: Any) -> int:
    """How many deliveries failed, all time (the metrics read this)."""
    return int(conn.execute("SELECT COUNT(*) FROM deliveries WHERE ok = 0").fetchone()[0])
