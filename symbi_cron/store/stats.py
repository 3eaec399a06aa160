"""Run statistics kept as runs finish: what metrics and health read instead of scanning the run history.

The store keeps them with triggers (the run statistics migration), so they change in the same transaction as
the row that causes them, whatever code path writes it: a run reaching a final status (inserted final, like
``missed``, or updated to one) counts once in its job's ``job_stats`` row and in the one ``scheduler_stats``
row; a job moving to ``dead_letter`` counts a dead-letter; a delivery row becoming ``ok = 0`` counts a failure of
its channel.

The counters only grow. Pruning runs (retention) does not lower them, and removing a job removes its own rows
but not the scheduler-wide totals, so a Prometheus counter never goes backwards while the daemon runs.
"""

from __future__ import annotations

from typing import Any

from .base import PerDialect

#: Final run statuses, each a counter column.
STATUS_COLUMNS = (
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
#: Statuses a run that executed ends in (a job's "last run" is the latest of these).
EXECUTED = ("succeeded", "failed", "timed_out", "interrupted", "budget_exceeded")
#: Duration histogram buckets: (upper bound in seconds, column of runs at or under it).
BUCKETS: tuple[tuple[float, str], ...] = (
    (0.1, "le_100ms"),
    (0.25, "le_250ms"),
    (0.5, "le_500ms"),
    (1.0, "le_1s"),
    (2.5, "le_2500ms"),
    (5.0, "le_5s"),
    (10.0, "le_10s"),
    (30.0, "le_30s"),
    (60.0, "le_1m"),
    (120.0, "le_2m"),
    (300.0, "le_5m"),
    (600.0, "le_10m"),
    (1800.0, "le_30m"),
    (3600.0, "le_1h"),
)
COUNTERS = (
    *STATUS_COLUMNS,
    "duration_count",
    "duration_sum_ms",
    "duration_max_ms",
    *(c for _, c in BUCKETS),
    "model_runs",
    "input_tokens",
    "output_tokens",
    "priced_runs",
    "cost_usd",
    "dead_letters",
)
_LAST = ("last_status", "last_finished_at", "last_duration_ms", "last_success_at")
OPEN_STATUSES = ("queued", "running", "pending_approval")


def scheduler_totals(conn: Any) -> dict[str, Any]:
    """Every counter over all jobs, ever (``succeeded``, ..., ``duration_sum_ms``, bucket columns, tokens)."""
    row = conn.execute(f"SELECT {', '.join(COUNTERS)} FROM scheduler_stats WHERE id = 1").fetchone()
    if row is None:  # a store migrated by hand without the row: count nothing rather than fail
        return dict.fromkeys(COUNTERS, 0)
    return {k: row[i] for i, k in enumerate(COUNTERS)}


def job_counts(conn: Any) -> dict[str, int]:
    """Jobs by status (the ``jobs_status`` index answers it)."""
    return {r[0]: int(r[1]) for r in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}


def open_run_counts(conn: Any) -> dict[str, int]:
    """Runs queued, running and waiting for approval (through the partial index over open runs)."""
    return {
        r[0]: int(r[1])
        for r in conn.execute(
            "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'running', 'pending_approval')"
            " GROUP BY status"
        )
    }


def delivery_failure_totals(conn: Any) -> dict[str, int]:
    """Failed deliveries by channel, ever."""
    return {r[0]: int(r[1]) for r in conn.execute("SELECT channel, failures FROM delivery_failure_totals")}


def job_count(conn: Any) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def job_names(conn: Any) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM jobs")]


#: The columns of :func:`job_rows`, in order.
JOB_ROW_COLUMNS = ("name", "status", "next_run", *COUNTERS, *_LAST)


def job_rows(conn: Any, names: list[str] | None = None, *, histogram: bool = True) -> list[tuple]:
    """One tuple per job (columns :data:`JOB_ROW_COLUMNS`; counters 0 for a job that never finished a run), of
    every job or of ``names``. Without ``histogram`` the bucket columns are 0 (not read)."""
    wanted = [c if (histogram or not c.startswith("le_")) else "0" for c in COUNTERS]
    cols = ", ".join(f"COALESCE(s.{c}, 0)" if c != "0" else "0" for c in wanted)
    last = ", ".join(f"s.{c}" for c in _LAST)
    sql = f"SELECT j.name, j.status, j.next_run, {cols}, {last} FROM jobs j LEFT JOIN job_stats s ON s.job_id = j.id"
    if names is None:
        return [tuple(r) for r in conn.execute(sql)]
    out: list[tuple] = []
    for i in range(0, len(names), 500):
        chunk = names[i : i + 500]
        marks = ", ".join("?" for _ in chunk)
        out.extend(tuple(r) for r in conn.execute(f"{sql} WHERE j.name IN ({marks})", chunk))
    return out


def job_delivery_failures(conn: Any, names: list[str] | None = None) -> list[tuple[str, str, int]]:
    """(job name, channel, failures) of every job, or of ``names``."""
    sql = "SELECT j.name, f.channel, f.failures FROM job_delivery_failures f JOIN jobs j ON j.id = f.job_id"
    if names is None:
        return [(r[0], r[1], int(r[2])) for r in conn.execute(sql)]
    out: list[tuple[str, str, int]] = []
    for i in range(0, len(names), 500):
        chunk = names[i : i + 500]
        marks = ", ".join("?" for _ in chunk)
        out.extend((r[0], r[1], int(r[2])) for r in conn.execute(f"{sql} WHERE j.name IN ({marks})", chunk))
    return out


def run_totals(conn: Any) -> dict[str, Any]:
    """What the health endpoint reports: jobs by status, open runs by status, and the run counters."""
    return {"jobs": job_counts(conn), "open": open_run_counts(conn), "totals": scheduler_totals(conn)}


def jobs_in_status(conn: Any, status: str, limit: int = 5) -> list[str]:
    """Names of up to ``limit`` jobs in ``status`` (the ``jobs_status`` index), by name."""
    return [r[0] for r in conn.execute("SELECT name FROM jobs WHERE status = ? ORDER BY name LIMIT ?", (status, limit))]


#: SQLite is told to use the partial index ``jobs_due`` (see ``store/jobs.py``); PostgreSQL has no index hints.
_EARLIEST_DUE = PerDialect(
    sqlite="SELECT name, next_run FROM jobs INDEXED BY jobs_due WHERE status = 'active' AND next_run IS NOT NULL"
    " ORDER BY next_run LIMIT 1",
    postgresql="SELECT name, next_run FROM jobs WHERE status = 'active' AND next_run IS NOT NULL"
    " ORDER BY next_run LIMIT 1",
)


def earliest_due(conn: Any) -> tuple[str, int] | None:
    """The active job whose next run comes first, and that instant (ms): the slot the tick loop claims next."""
    row = conn.execute(_EARLIEST_DUE(conn)).fetchone()
    return (row[0], int(row[1])) if row else None


def running_runs(conn: Any) -> list[dict[str, Any]]:
    """The runs ``running`` now with their job's name and policy (a handful: at most ``max_concurrent_jobs`` a
    daemon), through the partial index over open runs."""
    import json

    rows = conn.execute(
        "SELECT r.id, r.started_at, r.daemon_id, j.name, j.spec FROM runs r JOIN jobs j ON j.id = r.job_id"
        " WHERE r.status IN ('queued', 'running', 'pending_approval') AND r.status = 'running'"
    ).fetchall()
    out = []
    for run_id, started_at, owner, name, spec in rows:
        try:
            policy = json.loads(spec).get("policy") or {}
        except (TypeError, ValueError):
            policy = {}
        out.append({"id": run_id, "started_at": started_at, "owner": owner, "job_name": name, "policy": dict(policy)})
    return out


def model_totals(conn: Any) -> list[dict[str, Any]]:
    """Model runs, tokens and cost per model, ever (``model_stats``; ``model`` "" for runs that did not record
    it), kept by the run statistics triggers: never lowered by pruning."""
    return [
        {
            "model": r[0],
            "runs": int(r[1]),
            "input_tokens": int(r[2]),
            "output_tokens": int(r[3]),
            "priced_runs": int(r[4]),
            "cost_usd": float(r[5]),
        }
        for r in conn.execute(
            "SELECT model, runs, input_tokens, output_tokens, priced_runs, cost_usd FROM model_stats ORDER BY model"
        )
    ]
