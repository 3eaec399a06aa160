"""What the dashboard's pages read (``services/dashboard.py``): a page of jobs with a name filter, each job's last
outcome and its latest runs, a job's runs in a time window, and a cheap marker that changes when anything the
pages show changes. Every query reads through an index: the pages stay fast at 10,000 jobs and 1,000,000 runs
(docs/performance.md)."""

from __future__ import annotations

from typing import Any

from ..timeutil import from_ms
from .jobs import JOB_COLUMNS, row_to_job

#: The columns of a run the strips and the timeline draw (no output: those can be 64 KB each).
RUN_BRIEF = "id, job_id, status, trigger, scheduled_for, started_at, finished_at, execution_time_ms, attempt"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _job_filter(name: str | None, status: str | None, agent: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if name:
        where.append("LOWER(name) LIKE ? ESCAPE '\\'")
        params.append(_like(name.lower()))
    if status:
        where.append("status = ?")
        params.append(status)
    if agent:
        where.append("agent_id = ?")
        params.append(agent)
    return where, params


def job_page(
    conn: Any,
    *,
    name: str | None = None,
    status: str | None = None,
    agent: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Jobs by name whose name contains ``name`` (any case), of ``status`` and ``agent``; ``after`` (a name)
    continues a page (names are unique: a keyset)."""
    where, params = _job_filter(name, status, agent)
    if after is not None:
        where.append("name > ?")
        params.append(after)
    sql = f"SELECT {JOB_COLUMNS} FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY name LIMIT ?"
    params.append(int(limit))
    return [row_to_job(r) for r in conn.execute(sql, params)]


def job_total(conn: Any, *, name: str | None = None, status: str | None = None, agent: str | None = None) -> int:
    """How many jobs the same filter matches."""
    where, params = _job_filter(name, status, agent)
    sql = "SELECT COUNT(*) FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
    return int(conn.execute(sql, params).fetchone()[0])


def agent_names(conn: Any) -> list[str]:
    """The agents jobs use (the ``jobs_agent`` index), for the agent filter."""
    return [r[0] for r in conn.execute("SELECT DISTINCT agent_id FROM jobs ORDER BY agent_id")]


def _brief(row: Any) -> dict[str, Any]:
    run = {k: row[i] for i, k in enumerate(RUN_BRIEF.replace(" ", "").split(","))}
    for k in ("scheduled_for", "started_at", "finished_at"):
        run[k] = from_ms(run[k])
    return run


def latest_runs(conn: Any, job_ids: list[str], count: int) -> dict[str, list[dict[str, Any]]]:
    """Each job's ``count`` latest runs, newest first (the ``runs_job_time`` index, one short read a job)."""
    out: dict[str, list[dict[str, Any]]] = {}
    sql = f"SELECT {RUN_BRIEF} FROM runs WHERE job_id = ? ORDER BY scheduled_for DESC LIMIT ?"
    for job_id in job_ids:
        out[job_id] = [_brief(r) for r in conn.execute(sql, (job_id, int(count)))]
    return out


def runs_between(conn: Any, job_ids: list[str], start_ms: int, end_ms: int, cap: int) -> dict[str, list[dict]]:
    """Each job's runs whose slot lies in [start_ms, end_ms), newest first, at most ``cap`` a job."""
    out: dict[str, list[dict[str, Any]]] = {}
    sql = (
        f"SELECT {RUN_BRIEF} FROM runs WHERE job_id = ? AND scheduled_for >= ? AND scheduled_for < ?"
        " ORDER BY scheduled_for DESC LIMIT ?"
    )
    for job_id in job_ids:
        out[job_id] = [_brief(r) for r in conn.execute(sql, (job_id, int(start_ms), int(end_ms), int(cap)))]
    return out


def runs_in_window_count(conn: Any, job_ids: list[str], start_ms: int, end_ms: int) -> dict[str, int]:
    """How many runs each job has in [start_ms, end_ms) (the timeline says when it shows fewer)."""
    sql = "SELECT COUNT(*) FROM runs WHERE job_id = ? AND scheduled_for >= ? AND scheduled_for < ?"
    return {j: int(conn.execute(sql, (j, int(start_ms), int(end_ms))).fetchone()[0]) for j in job_ids}


def last_outcomes(conn: Any, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each job's last executed outcome and its counters, from the statistics kept as runs finish."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(job_ids), 500):
        chunk = job_ids[i : i + 500]
        marks = ", ".join("?" for _ in chunk)
        for r in conn.execute(
            "SELECT job_id, last_status, last_finished_at, last_duration_ms, succeeded, failed, timed_out,"
            f" input_tokens, output_tokens, cost_usd FROM job_stats WHERE job_id IN ({marks})",
            chunk,
        ):
            out[r[0]] = {
                "last_status": r[1],
                "last_finished_at": from_ms(r[2]),
                "last_duration_ms": r[3],
                "succeeded": int(r[4]),
                "failed": int(r[5]) + int(r[6]),
                "input_tokens": int(r[7]),
                "output_tokens": int(r[8]),
                "cost_usd": float(r[9] or 0),
            }
    return out


def open_runs(conn: Any, job_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The queued, running and pending runs of these jobs (the partial index over open runs)."""
    out: dict[str, list[dict[str, Any]]] = {j: [] for j in job_ids}
    if not job_ids:
        return out
    rows = conn.execute(
        f"SELECT {RUN_BRIEF} FROM runs WHERE status IN ('queued', 'running', 'pending_approval')"
        " ORDER BY scheduled_for DESC"
    )
    for r in rows:
        run = _brief(r)
        if run["job_id"] in out:
            out[run["job_id"]].append(run)
    return out


def pulse(conn: Any) -> tuple[Any, ...]:
    """A value that changes whenever a page could show something new: the audit log's last event (every change
    and every finished run writes one), the open runs by status (a run starting writes none), the run counters
    (a run inserted final). Each part is one indexed read."""
    seq = conn.execute("SELECT MAX(seq) FROM audit").fetchone()[0]
    opened = tuple(
        sorted(
            (r[0], int(r[1]))
            for r in conn.execute(
                "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'running', 'pending_approval')"
                " GROUP BY status"
            )
        )
    )
    row = conn.execute(
        "SELECT succeeded + failed + timed_out + denied + skipped + missed + interrupted + cancelled"
        " FROM scheduler_stats WHERE id = 1"
    ).fetchone()
    return (seq, opened, row[0] if row else 0)
