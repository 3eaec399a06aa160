"""The ``outbox`` table: deliveries a finished run still owes, one row per run and channel.

A run's owner writes the rows in the same transaction as the run's outcome, so a finished run's deliveries can
never be forgotten: each row goes when its receipt is stored (``store/deliveries.save_receipts``, same
transaction). A row whose ``owner`` died is taken over (:func:`take_over`) and sent again: delivery is at least
once, and the webhook carries the run id as its idempotency key so a receiver can drop a repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def enqueue(conn: Any, run_id: str, channels: Iterable[str], *, owner: str, now_ms: int) -> int:
    """Owe ``run_id``'s delivery to each channel (once each; a row already owed is left as it is)."""
    rows = [(run_id, ch, i, owner, now_ms) for i, ch in enumerate(dict.fromkeys(channels))]
    if rows:
        conn.executemany(
            "INSERT INTO outbox (run_id, channel, position, owner, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (run_id, channel) DO NOTHING",
            rows,
        )
    return len(rows)


def owed(conn: Any, run_id: str) -> list[str]:
    """The channels ``run_id`` still owes, in the job's order."""
    rows = conn.execute("SELECT channel FROM outbox WHERE run_id = ? ORDER BY position", (run_id,)).fetchall()
    return [r[0] for r in rows]


def settle(conn: Any, run_id: str, channel: str) -> None:
    """The delivery to ``channel`` has its receipt: it is owed no more."""
    conn.execute("DELETE FROM outbox WHERE run_id = ? AND channel = ?", (run_id, channel))


def owners(conn: Any) -> list[tuple[str, str]]:
    """``(run_id, owner)`` of every run that still owes a delivery."""
    return [(r[0], r[1]) for r in conn.execute("SELECT DISTINCT run_id, owner FROM outbox").fetchall()]


def take_over(conn: Any, run_id: str, *, old: str, new: str) -> int:
    """Make ``new`` the owner of the run's owed deliveries that ``old`` held (a dead owner's); how many."""
    cur = conn.execute("UPDATE outbox SET owner = ? WHERE run_id = ? AND owner = ?", (new, run_id, old))
    return cur.rowcount
