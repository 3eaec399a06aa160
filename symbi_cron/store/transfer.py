"""Copying a whole store into another (``symbi store migrate --to URL``, ``services/storage.py``): which tables
hold the store's data, in what order they go, and the copy of their rows, columns as they are.

Both ends are the callers' transactions: the source a read snapshot, the target one write, so a failed copy
leaves the target as it was.
"""

from __future__ import annotations

from typing import Any

#: Parents before children (runs need their job, deliveries their run). The target must hold none of them.
TABLES = ("agents", "jobs", "runs", "deliveries", "audit")
#: Copied too: the audit log's checkpoints (a pruned log verifies from them) and the store's bookkeeping.
ALSO = ("audit_checkpoints", "store_meta")
#: The run statistics: the target's triggers count the copied runs, but the source's counters also hold the runs
#: of removed jobs and pruned history, so they replace what the triggers counted.
STATS = ("job_stats", "scheduler_stats", "job_delivery_failures", "delivery_failure_totals")
#: Every table a copy carries, in order.
ALL = (*TABLES, *ALSO, *STATS)
BATCH = 1000


def count_rows(conn: Any, table: str) -> int:
    """How many rows ``table`` (one of :data:`ALL`) holds."""
    if table not in ALL:
        raise ValueError(f"not a table of the store: {table!r}")
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def clear_stats(conn: Any) -> None:
    """Empty the statistics tables (:data:`STATS`): what the triggers counted makes way for the copied counters."""
    for table in STATS:
        conn.execute(f"DELETE FROM {table}")


def copy_rows(src: Any, dst: Any, table: str, *, batch: int = BATCH) -> int:
    """Copy every row of ``table`` (one of :data:`ALL`) from ``src`` into ``dst``, columns as they are, ``batch``
    rows at a time; how many."""
    if table not in ALL:
        raise ValueError(f"not a table of the store: {table!r}")
    cur = src.execute(f"SELECT * FROM {table}")
    columns = [d[0] for d in cur.description]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    total = 0
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        dst.executemany(sql, [tuple(r) for r in rows])
        total += len(rows)
    return total
