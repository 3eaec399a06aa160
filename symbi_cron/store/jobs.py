"""The ``jobs`` table. Rows become plain dicts in the JSON shape of SPEC §4 (datetimes stay datetimes).

The user's settings live in the ``spec`` JSON column; the columns the scheduler queries or updates on every tick
(status, next_run, counters) are real columns with indexes.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..timeutil import from_ms
from ..vocab import JOB_FIELD_ORDER, LATER_SPEC_DEFAULTS
from .base import PerDialect

JOB_COLUMNS = "id, name, agent_id, status, spec, next_run, last_run, run_count, failure_count, created_at, updated_at"

#: Due jobs, earliest first. SQLite is told to use the partial index ``jobs_due`` (without statistics it preferred
#: the status index and sorted in a temporary B-tree); PostgreSQL has no index hints and finds it alone.
_DUE = PerDialect(
    sqlite=f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_due"
    " WHERE status = 'active' AND next_run <= ? ORDER BY next_run LIMIT ?",
    postgresql=f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'active' AND next_run <= ? ORDER BY next_run LIMIT ?",
)
_CLAIMABLE = PerDialect(
    sqlite=_DUE.sqlite,
    postgresql=f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'active' AND next_run <= ? ORDER BY next_run LIMIT ?"
    " FOR UPDATE SKIP LOCKED",
)
_COUNT_DUE = PerDialect(
    sqlite="SELECT COUNT(*) FROM jobs INDEXED BY jobs_due WHERE status = 'active' AND next_run <= ?",
    postgresql="SELECT COUNT(*) FROM jobs WHERE status = 'active' AND next_run <= ?",
)
_EARLIEST = PerDialect(
    sqlite="SELECT MIN(next_run) FROM jobs INDEXED BY jobs_due WHERE status = 'active'",
    postgresql="SELECT MIN(next_run) FROM jobs WHERE status = 'active'",
)


def row_to_job(row: sqlite3.Row) -> dict[str, Any]:
    """A job dict: the stored spec plus the scheduler's columns."""
    job: dict[str, Any] = {"id": row["id"]}
    job.update((k, dict(v) if isinstance(v, dict) else v) for k, v in LATER_SPEC_DEFAULTS.items())
    job.update(json.loads(row["spec"]))
    job["name"] = row["name"]
    job["agent_id"] = row["agent_id"]
    job["status"] = row["status"]
    job["next_run"] = from_ms(row["next_run"])
    job["last_run"] = from_ms(row["last_run"])
    job["run_count"] = row["run_count"]
    job["failure_count"] = row["failure_count"]
    job["created_at"] = from_ms(row["created_at"])
    job["updated_at"] = from_ms(row["updated_at"])
    return _in_field_order(job)


def _in_field_order(job: dict[str, Any]) -> dict[str, Any]:
    """The job's keys in the order of SPEC §4 (JSON output reads top-down like the spec)."""
    ordered = {k: job[k] for k in JOB_FIELD_ORDER if k in job}
    ordered.update({k: v for k, v in job.items() if k not in ordered})
    return ordered


def insert(
    conn: sqlite3.Connection, *, id: str, spec: dict[str, Any], status: str, next_run: int | None, now_ms: int
) -> None:
    """Insert a job; the caller has checked the name is free (the UNIQUE constraint is the last word)."""
    conn.execute(
        f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, 0, 0, ?, ?)",
        (id, spec["name"], spec["agent_id"], status, _spec_json(spec), next_run, now_ms, now_ms),
    )


def update_spec(
    conn: sqlite3.Connection, job_id: str, spec: dict[str, Any], *, next_run: int | None, now_ms: int
) -> None:
    conn.execute(
        "UPDATE jobs SET name = ?, agent_id = ?, spec = ?, next_run = ?, updated_at = ? WHERE id = ?",
        (spec["name"], spec["agent_id"], _spec_json(spec), next_run, now_ms, job_id),
    )


def set_state(conn: sqlite3.Connection, job_id: str, *, now_ms: int, **fields: Any) -> None:
    """Update scheduler columns (status, next_run, last_run, run_count, failure_count)."""
    allowed = {"status", "next_run", "last_run", "run_count", "failure_count"}
    bad = set(fields) - allowed
    if bad:
        raise ValueError(f"not a state column: {sorted(bad)}")
    assignments = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(
        f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",
        (*fields.values(), now_ms, job_id),
    )


def delete(conn: sqlite3.Connection, job_id: str) -> None:
    conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))


def get(conn: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row_to_job(row) if row else None


#: A job's row locked until the write transaction ends (SQLite's write lock already holds the whole store).
_LOCK = PerDialect(sqlite="SELECT 1 FROM jobs WHERE id = ?", postgresql="SELECT 1 FROM jobs WHERE id = ? FOR UPDATE")
_LOCK_SKIP = PerDialect(
    sqlite="SELECT 1 FROM jobs WHERE id = ?", postgresql="SELECT 1 FROM jobs WHERE id = ? FOR UPDATE SKIP LOCKED"
)


def lock(conn: sqlite3.Connection, job_id: str, *, skip_locked: bool = False) -> bool:
    """Lock the job's row until the write transaction ends (PostgreSQL ``FOR UPDATE``; with ``skip_locked``, not
    waiting for another transaction that holds it). False when there is no such job or, with ``skip_locked``, it is
    held. SQLite's write lock already holds the whole store: True when the job exists."""
    return conn.execute((_LOCK_SKIP if skip_locked else _LOCK)(conn), (job_id,)).fetchone() is not None


def get_for_claim(conn: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    """The job as the claiming write transaction sees it (it may have changed since :func:`due` read it), locked
    until that transaction ends. On PostgreSQL ``FOR UPDATE SKIP LOCKED``: None for a job another transaction holds
    (another daemon is claiming it, or is frozen inside a transaction the server will cut off), and the caller
    skips it and claims the others. On SQLite the store-wide write lock already holds it."""
    if not lock(conn, job_id, skip_locked=True):
        return None
    return get(conn, job_id)


def name_of(conn: sqlite3.Connection, job_id: str) -> str | None:
    """The job's name alone, or None when there is no such job."""
    row = conn.execute("SELECT name FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row else None


def status_of(conn: sqlite3.Connection, job_id: str) -> str | None:
    """The job's status alone (no spec to decode), or None when there is no such job."""
    row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row else None


def find(conn: sqlite3.Connection, ref: str) -> list[dict[str, Any]]:
    """Jobs matching ``ref`` as an exact id, an exact name, or else an id prefix (best match first)."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ? OR name = ?", (ref, ref)).fetchall()
    if row:
        exact_id = [r for r in row if r["id"] == ref]
        return [row_to_job(r) for r in (exact_id or row)]
    if not 4 <= len(ref) <= 36 or not all(c in "0123456789abcdef-" for c in ref.lower()):
        return []  # ids are UUIDs: nothing longer is a prefix of one
    escaped = ref.lower().replace("%", "").replace("_", "")
    rows = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE id LIKE ? ORDER BY id LIMIT 10", (escaped + "%",)
    ).fetchall()
    return [row_to_job(r) for r in rows]


def by_name(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    """The job with exactly this name (names are unique), or None."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE name = ?", (name,)).fetchone()
    return row_to_job(row) if row else None


def names_using_agent(conn: sqlite3.Connection, agent: str) -> list[str]:
    """Names of the jobs that run ``agent``, by name."""
    return [r[0] for r in conn.execute("SELECT name FROM jobs WHERE agent_id = ? ORDER BY name", (agent,))]


def spec_texts(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(name, stored spec JSON)`` of every job, undecoded (a check reads a few keys of each)."""
    return [(r[0], r[1]) for r in conn.execute("SELECT name, spec FROM jobs")]


def name_taken(conn: sqlite3.Connection, name: str, *, except_id: str | None = None) -> bool:
    row = conn.execute("SELECT id FROM jobs WHERE name = ?", (name,)).fetchone()
    return bool(row) and row[0] != except_id


def list_jobs(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    agent: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Jobs by name; ``after`` (a name) and ``limit`` read one page (names are unique: a keyset, no OFFSET)."""
    where: list[str] = []
    params: list[Any] = []
    if status:
        where.append("status = ?")
        params.append(status)
    if agent:
        where.append("agent_id = ?")
        params.append(agent)
    if after is not None:
        where.append("name > ?")
        params.append(after)
    sql = f"SELECT {JOB_COLUMNS} FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY name"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [row_to_job(r) for r in conn.execute(sql, params)]


def due(conn: sqlite3.Connection, now_ms: int, limit: int = 1000) -> list[dict[str, Any]]:
    """Active jobs whose next_run is at or before ``now_ms``, earliest first (uses the partial index): the
    candidates of a claim, read without a lock; the claim reads each again with :func:`get_for_claim`.

    A row that no longer reads (its spec is not JSON) comes back as ``{id, name, next_run, _unreadable: reason}``
    rather than failing the whole list: the scheduler flags that one job and claims the others."""
    return _read_due(conn.execute(_DUE(conn), (now_ms, limit)).fetchall())


def claimable(conn: sqlite3.Connection, now_ms: int, limit: int) -> list[dict[str, Any]]:
    """The due jobs the claiming write transaction takes, earliest first, each locked until it ends: on PostgreSQL
    ``FOR UPDATE SKIP LOCKED`` in one statement, so daemons claiming at once take different jobs (each the earliest
    no other holds) instead of queueing on the same ones; on SQLite the store-wide write lock holds them all.
    Unreadable rows come back as in :func:`due`."""
    return _read_due(conn.execute(_CLAIMABLE(conn), (now_ms, limit)).fetchall())


def _read_due(rows: list[Any]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        try:
            out.append(row_to_job(r))
        except Exception as exc:
            out.append(
                {
                    "id": r["id"],
                    "name": r["name"],
                    "next_run": from_ms(r["next_run"]),
                    "_unreadable": f"its stored settings cannot be read ({type(exc).__name__}: {exc})",
                }
            )
    return out


def count_due(conn: sqlite3.Connection, until_ms: int) -> int:
    """How many active jobs have a slot at or before ``until_ms`` (the owners a burst due soon will need)."""
    return conn.execute(_COUNT_DUE(conn), (until_ms,)).fetchone()[0]


def earliest_next_run(conn: sqlite3.Connection) -> int | None:
    """The soonest next_run among active jobs (the tick loop sleeps until then)."""
    row = conn.execute(_EARLIEST(conn)).fetchone()
    return row[0] if row else None


def _spec_json(spec: dict[str, Any]) -> str:
    body = {k: v for k, v in spec.items() if k not in ("name", "agent_id")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")
