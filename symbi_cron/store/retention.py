"""What retention removes, in SQL: finished runs past a job's age or count limit, the audit log's oldest events
behind a checkpoint, and the bookkeeping (``store_meta``) that says when the daemon last pruned.

Rules kept here, whatever asks: a run is pruned only when it is final (never ``queued``, ``running`` or
``pending_approval``), none of its deliveries is still pending, and it is not its job's newest finished run (the
one whose summary the next run reads). Audit events go only as a prefix of the chain and only behind a checkpoint
(the last removed event's ``seq`` and ``hash``) written in the same transaction: the schema's trigger refuses to
delete an event past the newest checkpoint.
"""

from __future__ import annotations

from typing import Any

from .base import PerDialect

FINAL = (
    "succeeded",
    "failed",
    "timed_out",
    "denied",
    "skipped",
    "missed",
    "interrupted",
    "cancelled",
    "budget_exceeded",
)
_FINAL_SQL = "(" + ", ".join(f"'{s}'" for s in FINAL) + ")"


#: Whether the store has the delivery outbox: asked of each dialect's catalog.
_HAS_OUTBOX = PerDialect(
    sqlite="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
    postgresql="SELECT 1 WHERE to_regclass('outbox') IS NOT NULL",
)


def _pending(conn: Any) -> str:
    """The condition "run ``r`` has a delivery still to be sent": a row of the delivery outbox (a store without
    one keeps no pending deliveries: they were sent in the run's own thread)."""
    present = conn.execute(_HAS_OUTBOX(conn)).fetchone() is not None
    return "EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = r.id)" if present else "1 = 0"


def job_ids(conn: Any) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id")]


def prunable_runs(conn: Any, job_id: str, *, before_ms: int | None, keep: int, limit: int) -> list[str]:
    """Up to ``limit`` ids of the job's finished runs to remove, oldest first: slots before ``before_ms`` (None: no
    age limit) and, with ``keep``, all but the newest ``keep`` finished runs."""
    newest = conn.execute(
        f"SELECT MAX(scheduled_for) FROM runs WHERE job_id = ? AND status IN {_FINAL_SQL}", (job_id,)
    ).fetchone()[0]
    if newest is None:
        return []
    # A run goes when either rule says so (the larger cutoff), and never the newest finished run.
    rules: list[int] = []
    if before_ms is not None:
        rules.append(int(before_ms))
    if keep:
        row = conn.execute(
            f"SELECT scheduled_for FROM runs WHERE job_id = ? AND status IN {_FINAL_SQL}"
            " ORDER BY scheduled_for DESC LIMIT 1 OFFSET ?",
            (job_id, keep - 1),
        ).fetchone()
        if row is not None:
            rules.append(int(row[0]))  # the keep-th newest stays, the older ones go
    if not rules:
        return []
    cutoff = min(max(rules), int(newest))
    rows = conn.execute(
        f"SELECT r.id FROM runs r WHERE r.job_id = ? AND r.scheduled_for < ? AND r.status IN {_FINAL_SQL}"
        f" AND NOT {_pending(conn)} ORDER BY r.scheduled_for LIMIT ?",
        (job_id, cutoff, limit),
    ).fetchall()
    return [r[0] for r in rows]


def delete_runs(conn: Any, run_ids: list[str]) -> int:
    """Remove runs (their delivery receipts go with them). The caller chose them with :func:`prunable_runs`."""
    done = 0
    for i in range(0, len(run_ids), 500):
        chunk = run_ids[i : i + 500]
        marks = ", ".join("?" for _ in chunk)
        cur = conn.execute(
            f"DELETE FROM runs WHERE id IN ({marks}) AND id NOT IN"
            f" (SELECT r.id FROM runs r WHERE r.id IN ({marks}) AND {_pending(conn)})"
            f" AND status IN {_FINAL_SQL}",
            [*chunk, *chunk],
        )
        done += max(cur.rowcount, 0)
    return done


def existing_runs(conn: Any, run_ids: list[str]) -> set[str]:
    """Which of ``run_ids`` are in the store."""
    found: set[str] = set()
    for i in range(0, len(run_ids), 500):
        chunk = run_ids[i : i + 500]
        marks = ", ".join("?" for _ in chunk)
        found.update(r[0] for r in conn.execute(f"SELECT id FROM runs WHERE id IN ({marks})", chunk))
    return found


def open_runs(conn: Any) -> set[str]:
    """Ids of the runs not final yet (their logs and context directories are in use)."""
    return {r[0] for r in conn.execute("SELECT id FROM runs WHERE status IN ('queued', 'running', 'pending_approval')")}


# -- the audit log ---------------------------------------------------------------------------------------------
def audit_cut(conn: Any, before_ms: int) -> tuple[int, str, int, int] | None:
    """The newest event written before ``before_ms`` (its seq, hash and time) and how many events are at or
    before it: what pruning up to there removes. None when there is nothing to remove."""
    row = conn.execute("SELECT MAX(seq) FROM audit WHERE at < ?", (before_ms,)).fetchone()
    if row is None or row[0] is None:
        return None
    seq = int(row[0])
    event = conn.execute("SELECT seq, hash, at FROM audit WHERE seq = ?", (seq,)).fetchone()
    count = conn.execute("SELECT COUNT(*) FROM audit WHERE seq <= ?", (seq,)).fetchone()[0]
    return int(event[0]), event[1], int(event[2]), int(count)


def audit_prefix(conn: Any, upto_seq: int, limit: int) -> tuple[int, str, int, int] | None:
    """The last of the first ``limit`` events at or before ``upto_seq`` (seq, hash, at) and how many they are."""
    rows = conn.execute(
        "SELECT seq, hash, at FROM audit WHERE seq <= ? ORDER BY seq LIMIT ?", (upto_seq, limit)
    ).fetchall()
    if not rows:
        return None
    last = rows[-1]
    return int(last[0]), last[1], int(last[2]), len(rows)


def prune_audit(conn: Any, *, seq: int, hash: str, at: int, count: int, now_ms: int) -> int:
    """Write the checkpoint (the last removed event's seq and hash) and remove the events up to it, in the caller's
    transaction; returns how many were removed."""
    conn.execute(
        "INSERT INTO audit_checkpoints (seq, hash, at, pruned, created_at) VALUES (?, ?, ?, ?, ?)",
        (seq, hash, at, count, now_ms),
    )
    cur = conn.execute("DELETE FROM audit WHERE seq <= ?", (seq,))
    return max(cur.rowcount, 0)


def checkpoints(conn: Any) -> list[dict[str, Any]]:
    """Every checkpoint, oldest first: ``{seq, hash, at, pruned, created_at}``."""
    rows = conn.execute("SELECT seq, hash, at, pruned, created_at FROM audit_checkpoints ORDER BY seq").fetchall()
    return [{"seq": r[0], "hash": r[1], "at": r[2], "pruned": r[3], "created_at": r[4]} for r in rows]


# -- bookkeeping -----------------------------------------------------------------------------------------------
def get_meta(conn: Any, key: str) -> str | None:
    row = conn.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: Any, key: str, value: str, *, now_ms: int) -> None:
    conn.execute(
        "INSERT INTO store_meta (key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, now_ms),
    )


def sizes(conn: Any) -> dict[str, int]:
    """Rows in the tables retention bounds."""
    return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in ("runs", "deliveries", "audit")}
