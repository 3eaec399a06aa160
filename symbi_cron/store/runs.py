"""The ``runs`` table: one row per execution attempt (SPEC §5).

A slot is claimed by inserting its run; the UNIQUE (job_id, scheduled_for) constraint makes a second claim of the
same slot fail, which is what keeps every slot exactly-once even across a crash and restart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

from ..timeutil import from_ms
from ..vocab import OPEN_RUN_STATUSES, RunStatus
from .base import PerDialect

RUN_COLUMNS = (
    "id, job_id, trigger, status, scheduled_for, attempt, input, not_before, started_at, finished_at,"
    " execution_time_ms, exit_code, output, summary, error_message, iterations, detail, daemon_id,"
    " created_at, updated_at, input_tokens, output_tokens, cost_usd, daemon_name, fence"
)
#: Repeats the partial index ``runs_open``'s condition word for word: SQLite uses a partial index only when the
#: query's WHERE names its condition, so every query over open runs starts with this (history may be millions).
#: The predicate of the partial indexes ``runs_open`` and ``runs_job_open``, word for word: SQLite uses a partial
#: index only for a query that states its predicate, so every query for open runs says it (then the status it wants).
OPEN_RUNS = "status IN ('queued', 'running', 'pending_approval')"
_TIME_FIELDS = ("scheduled_for", "not_before", "started_at", "finished_at", "created_at", "updated_at")
_UPDATABLE = {
    "status",
    "not_before",
    "started_at",
    "finished_at",
    "execution_time_ms",
    "exit_code",
    "output",
    "summary",
    "error_message",
    "iterations",
    "detail",
    "daemon_id",
    "daemon_name",  # the name of the daemon (or home) whose owner started the run: placement
    "input",
    "attempt",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "model",  # the model a model agent's run used (services/usage.py); not in RUN_COLUMNS: only usage reads it
    "fence",
}


def row_to_run(row: sqlite3.Row) -> dict[str, Any]:
    run = {k: row[k] for k in row.keys()}
    for k in _TIME_FIELDS:
        if k in run:
            run[k] = from_ms(run[k])
    detail = run.get("detail")
    run["detail"] = json.loads(detail) if detail else {}
    return run


def insert(
    conn: sqlite3.Connection,
    *,
    id: str,
    job_id: str,
    trigger: str,
    status: str,
    scheduled_for: int,
    now_ms: int,
    attempt: int = 1,
    input: str | None = None,
    not_before: int | None = None,
    error_message: str | None = None,
    detail: dict[str, Any] | None = None,
    finished: bool = False,
) -> bool:
    """Claim a slot: insert the run unless (job_id, scheduled_for) exists. True when inserted."""
    cur = conn.execute(
        "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, attempt, input, not_before,"
        " finished_at, error_message, detail, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (job_id, scheduled_for) DO NOTHING",
        (
            id,
            job_id,
            trigger,
            status,
            scheduled_for,
            attempt,
            input,
            not_before,
            now_ms if finished else None,
            error_message,
            json.dumps(detail, sort_keys=True) if detail else None,
            now_ms,
            now_ms,
        ),
    )
    return cur.rowcount == 1


def update(conn: sqlite3.Connection, run_id: str, *, now_ms: int, **fields: Any) -> None:
    """Set run columns; ``detail`` is JSON-encoded; time fields are epoch ms."""
    bad = set(fields) - _UPDATABLE
    if bad:
        raise ValueError(f"not an updatable run column: {sorted(bad)}")
    if "detail" in fields and not isinstance(fields["detail"], (str, type(None))):
        fields["detail"] = json.dumps(fields["detail"], sort_keys=True, default=str)
    assignments = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE runs SET {assignments}, updated_at = ? WHERE id = ?", (*fields.values(), now_ms, run_id))


def get(conn: sqlite3.Connection, run_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
    return row_to_run(row) if row else None


_LOCK = PerDialect(
    sqlite=f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?",
    postgresql=f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ? FOR UPDATE",
)
_LOCK_SKIP = PerDialect(
    sqlite=f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?",
    postgresql=f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ? FOR UPDATE SKIP LOCKED",
)


def _locked(conn: sqlite3.Connection, run_id: str, *, skip_locked: bool) -> dict[str, Any] | None:
    """The run, locked until the write transaction ends, after its job: always the job, then the run, the order
    every writer of a job's runs takes, so two never wait on each other. With ``skip_locked``, None when another
    transaction holds either (PostgreSQL; on SQLite the store-wide write lock already holds both)."""
    row = conn.execute("SELECT job_id FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    from .jobs import lock as lock_job

    if not lock_job(conn, row[0], skip_locked=skip_locked):
        return None
    row = conn.execute((_LOCK_SKIP if skip_locked else _LOCK)(conn), (run_id,)).fetchone()
    return row_to_run(row) if row else None


def get_for_start(conn: sqlite3.Connection, run_id: str, *, skip_locked: bool = True) -> dict[str, Any] | None:
    """The run as the starting write transaction sees it, locked (its job first) until that transaction ends, so
    that ``max_concurrent`` is counted by one transaction at a time. PostgreSQL: ``FOR UPDATE SKIP LOCKED``, None when
    another transaction holds the job or the run (the daemon starts it at a later look); ``skip_locked=False`` waits
    (a foreground ``cron run``). SQLite: the store-wide write lock already holds it."""
    return _locked(conn, run_id, skip_locked=skip_locked)


def begin(
    conn: sqlite3.Connection,
    run_id: str,
    *,
    owner: str,
    now_ms: int,
    daemon_name: str | None = None,
    fence: int | None = None,
    start_ms: int | None = None,
) -> None:
    """The run becomes ``running`` under ``owner`` (the id of the process that carries it), starting at
    ``start_ms`` (now when None; a run prepared ahead of its time starts at its time), on the daemon named
    ``daemon_name`` (where it runs: history, API, metrics), carrying ``fence``, the token of its owner's lease
    (docs/scaling.md, "Fenced leases"). Called in the write that took the run with :func:`get_for_start` and passed
    its gate: that write is what makes the run this owner's."""
    placed = {"daemon_name": daemon_name} if daemon_name else {}
    started = now_ms if start_ms is None else max(now_ms, start_ms)
    update(
        conn,
        run_id,
        now_ms=now_ms,
        status=RunStatus.running,
        started_at=started,
        daemon_id=owner,
        fence=fence,
        **placed,
    )


def unbegin(conn: sqlite3.Connection, run_id: str, *, now_ms: int) -> None:
    """A run prepared ahead of its time whose owner was stopped before that time goes back to ``queued``, as if
    never begun (no owner, no start, no lease token). Called in the write that read it with :func:`get_for_finish`
    and found it still ``running`` under that owner."""
    update(
        conn,
        run_id,
        now_ms=now_ms,
        status=RunStatus.queued,
        started_at=None,
        daemon_id=None,
        daemon_name=None,
        fence=None,
    )


def get_for_finish(conn: sqlite3.Connection, run_id: str) -> dict[str, Any] | None:
    """The run as the recording write transaction sees it, before its outcome is written (:func:`finish`), locked
    (its job first, waiting: an outcome is never skipped) until that transaction ends: of two writers recording one
    run (its owner, and a daemon that judged the owner dead), the second finds it final, so an outcome is counted
    once and a fenced-off owner's is refused."""
    return _locked(conn, run_id, skip_locked=False)


def finish(conn: sqlite3.Connection, run_id: str, *, now_ms: int, status: str, **outcome: Any) -> None:
    """Write a run's final ``status`` and its outcome (``finished_at``, ``exit_code``, ``output``, ``summary``,
    ``error_message``, ``detail``, ``execution_time_ms``, ``iterations``, usage columns). Called in the write that
    read the run with :func:`get_for_finish` and found it still the caller's to record."""
    update(conn, run_id, now_ms=now_ms, status=status, **outcome)


def status_of(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The run's status alone, or None when there is no such run."""
    row = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    return row[0] if row else None


#: pg_advisory_xact_lock key of the starts' count of ``max_concurrent_jobs`` ("symbistr" as a signed 64-bit int).
START_LOCK_KEY = int.from_bytes(b"symbistr", "big", signed=True)
_LOCK_STARTS = PerDialect(sqlite="SELECT 1", postgresql=f"SELECT pg_advisory_xact_lock({START_LOCK_KEY})")


def lock_starts(conn: sqlite3.Connection) -> None:
    """Until the write transaction ends, no other start counts the running runs (PostgreSQL: a transaction-level
    advisory lock, held by a transaction that does no network I/O; SQLite's write lock already does it)."""
    conn.execute(_LOCK_STARTS(conn))


def count_all_running(conn: sqlite3.Connection) -> int:
    """Runs running now, of every job and every daemon (``max_concurrent_jobs`` on a shared store)."""
    return conn.execute(
        "SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running', 'pending_approval') AND status = 'running'"
    ).fetchone()[0]


def find(conn: sqlite3.Connection, ref: str) -> list[dict[str, Any]]:
    """Runs whose id is ``ref`` or starts with it (at least 4 characters)."""
    exact = get(conn, ref)
    if exact:
        return [exact]
    if not 4 <= len(ref) <= 36 or not all(c in "0123456789abcdef-" for c in ref.lower()):
        return []  # ids are UUIDs: nothing longer is a prefix of one
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE id LIKE ? ORDER BY id LIMIT 10", (ref.lower() + "%",)
    ).fetchall()
    return [row_to_run(r) for r in rows]


def for_job(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    limit: int | None = None,
    status: str | None = None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """A job's runs, newest slot first; ``before`` (epoch ms of a slot) and ``limit`` read one page (a job's
    slots are unique, so the slot time is a keyset on the ``runs_job_time`` index)."""
    sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ?"
    params: list[Any] = [job_id]
    if status:
        sql += " AND status = ?"
        params.append(status)
    if before is not None:
        sql += " AND scheduled_for < ?"
        params.append(before)
    sql += " ORDER BY scheduled_for DESC, created_at DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [row_to_run(r) for r in conn.execute(sql, params)]


def with_status(conn: sqlite3.Connection, statuses: tuple[str, ...], *, job_id: str | None = None) -> list[dict]:
    """Runs in any of ``statuses`` (of one job when ``job_id`` is given), earliest start first."""
    marks = ", ".join("?" for _ in statuses)
    sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE status IN ({marks})"
    if set(statuses) <= set(OPEN_RUN_STATUSES):
        sql += f" AND {OPEN_RUNS}"  # through an index of open runs, never the history
    params: list[Any] = list(statuses)
    if job_id:
        sql += " AND job_id = ?"
        params.append(job_id)
    sql += " ORDER BY COALESCE(not_before, scheduled_for), created_at"
    return [row_to_run(r) for r in conn.execute(sql, params)]


def startable(conn: sqlite3.Connection, now_ms: int, limit: int, exclude_jobs: Collection[str] = ()) -> list[dict]:
    """Queued runs whose ``not_before`` has come, in order (earliest first), leaving out the runs of
    ``exclude_jobs`` (jobs found at their ``max_concurrent``: their runs must not hide the others'). The candidates
    of a start, read without a lock; the start reads each again with :func:`get_for_start`."""
    if limit <= 0:
        return []
    excluded = list(exclude_jobs)
    skip = f" AND job_id NOT IN ({', '.join('?' for _ in excluded)})" if excluded else ""
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE {OPEN_RUNS} AND status = 'queued'"
        f" AND COALESCE(not_before, 0) <= ?{skip}"
        " ORDER BY COALESCE(not_before, scheduled_for), created_at LIMIT ?",
        (now_ms, *excluded, limit),
    ).fetchall()
    return [row_to_run(r) for r in rows]


def next_not_before(conn: sqlite3.Connection, now_ms: int) -> int | None:
    """The soonest ``not_before`` after ``now_ms`` among queued runs (the tick loop wakes for it)."""
    row = conn.execute(
        f"SELECT MIN(not_before) FROM runs WHERE {OPEN_RUNS} AND status = 'queued' AND not_before > ?", (now_ms,)
    ).fetchone()
    return row[0] if row else None


def count_queued(conn: sqlite3.Connection) -> int:
    """How many runs are queued."""
    return conn.execute(f"SELECT COUNT(*) FROM runs WHERE {OPEN_RUNS} AND status = 'queued'").fetchone()[0]


def occupancy(conn: sqlite3.Connection, job_id: str, statuses: tuple[str, ...]) -> list[tuple[str, str, int]]:
    """``(status, trigger, count)`` of the job's runs in any of ``statuses`` (what holds its places)."""
    marks = ", ".join("?" for _ in statuses)
    rows = conn.execute(
        f"SELECT status, trigger, COUNT(*) FROM runs WHERE job_id = ? AND status IN ({marks})"
        + (f" AND {OPEN_RUNS}" if set(statuses) <= set(OPEN_RUN_STATUSES) else "")
        + " GROUP BY status, trigger",
        (job_id, *statuses),
    ).fetchall()
    return [(r[0], r[1], int(r[2])) for r in rows]


def last_scheduled_slot(conn: sqlite3.Connection, job_id: str) -> int | None:
    """The latest slot (epoch ms) the job's schedule has claimed, or None."""
    return conn.execute(
        "SELECT MAX(scheduled_for) FROM runs WHERE job_id = ? AND trigger = 'schedule'", (job_id,)
    ).fetchone()[0]


def previous_summary(conn: sqlite3.Connection, job_id: str, *, before_run: str | None = None) -> str | None:
    """The summary of the job's most recently finished run that has one (``before_run`` left out)."""
    row = conn.execute(
        "SELECT summary FROM runs WHERE job_id = ? AND summary IS NOT NULL AND finished_at IS NOT NULL"
        " AND id != ? ORDER BY finished_at DESC LIMIT 1",
        (job_id, before_run or ""),
    ).fetchone()
    return row[0] if row else None


def count_running(conn: sqlite3.Connection, job_id: str) -> int:
    """Runs of a job that are running now."""
    return conn.execute(
        f"SELECT COUNT(*) FROM runs WHERE job_id = ? AND {OPEN_RUNS} AND status = 'running'", (job_id,)
    ).fetchone()[0]


#: Statuses of runs that executed: what `delivery_on: change` compares.
EXECUTED_STATUSES = ("succeeded", "failed", "timed_out", "interrupted", "budget_exceeded")


def previous_status(conn: sqlite3.Connection, job_id: str, run: dict[str, Any]) -> str | None:
    """The status of the job's last executed run that finished before ``run`` (None when it is the first)."""
    from ..timeutil import to_ms

    marks = ", ".join("?" for _ in EXECUTED_STATUSES)
    sql = f"SELECT status FROM runs WHERE job_id = ? AND id <> ? AND status IN ({marks}) AND finished_at IS NOT NULL"
    params: list[Any] = [job_id, run["id"], *EXECUTED_STATUSES]
    finished = run.get("finished_at")
    if finished is not None:
        sql += " AND finished_at <= ?"
        params.append(finished if isinstance(finished, int) else to_ms(finished))
    row = conn.execute(sql + " ORDER BY finished_at DESC, created_at DESC LIMIT 1", params).fetchone()
    return row[0] if row else None


def statuses(conn: sqlite3.Connection, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """``{run_id: (status, daemon_id)}`` of the given runs (absent: the run no longer exists)."""
    out: dict[str, tuple[str, str | None]] = {}
    for i in range(0, len(run_ids), 500):
        chunk = run_ids[i : i + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in conn.execute(f"SELECT id, status, daemon_id FROM runs WHERE id IN ({marks})", chunk):
            out[row[0]] = (row[1], row[2])
    return out


def running_owned_by(conn: sqlite3.Connection, owner: str) -> list[str]:
    """The ids of the runs ``owner`` holds ``running``."""
    rows = conn.execute(
        "SELECT id FROM runs WHERE status IN ('queued', 'running', 'pending_approval') AND status = 'running'"
        " AND daemon_id = ?",
        (owner,),
    ).fetchall()
    return [r[0] for r in rows]


def running_by_daemon(conn: sqlite3.Connection) -> dict[str | None, int]:
    """``{daemon_name: runs running}``: each daemon's load (through the partial index over open runs)."""
    rows = conn.execute(
        "SELECT daemon_name, COUNT(*) FROM runs WHERE status IN ('queued', 'running', 'pending_approval')"
        " AND status = 'running' GROUP BY daemon_name"
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}
