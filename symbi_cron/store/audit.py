"""The append-only audit log with a hash chain (SPEC §10).

Each row's ``hash`` is the SHA-256 of the canonical JSON of its own fields and the previous row's hash, so a row
changed, removed or inserted directly in the database breaks the chain at that point.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from .base import PerDialect

GENESIS_HASH = "0" * 64


#: pg_advisory_xact_lock key of the audit chain's append ("symbiaud" in ASCII, as a signed 64-bit integer).
AUDIT_LOCK_KEY = int.from_bytes(b"symbiaud", "big", signed=True)


def canonical_details(details: dict[str, Any] | None) -> str:
    """The details column: JSON with sorted keys and no spaces (the form the hash covers)."""
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    *,
    seq: int,
    at: int,
    type: str,
    actor: str,
    job_id: str | None,
    job_name: str | None,
    run_id: str | None,
    details: str,
    prev_hash: str,
) -> str:
    """The hash of one row, ``details`` being the stored canonical JSON text."""
    import hashlib  # only writers and verifiers pay for it

    material = json.dumps(
        [seq, at, type, actor, job_id, job_name, run_id, details, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def append_event(
    conn: sqlite3.Connection,
    *,
    at_ms: int,
    type: str,
    actor: str,
    job_id: str | None = None,
    job_name: str | None = None,
    run_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one event inside the caller's write transaction; return its seq.

    The chain has one order: on PostgreSQL the append takes a transaction-level advisory lock first (held to the
    end of the transaction, which does no network I/O; a frozen holder is cut off by the server's
    ``idle_in_transaction_session_timeout``); SQLite's write lock already orders every write."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        conn.execute("SELECT pg_advisory_xact_lock(?)", (AUDIT_LOCK_KEY,))
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:  # an empty log: new, or pruned to the end (the chain goes on from its checkpoint)
        last = conn.execute("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
    seq = (last[0] + 1) if last else 1
    prev_hash = last[1] if last else GENESIS_HASH
    text = canonical_details(details)
    digest = event_hash(
        seq=seq,
        at=at_ms,
        type=type,
        actor=actor,
        job_id=job_id,
        job_name=job_name,
        run_id=run_id,
        details=text,
        prev_hash=prev_hash,
    )
    conn.execute(
        "INSERT INTO audit (seq, at, type, actor, job_id, job_name, run_id, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at_ms, type, actor, job_id, job_name, run_id, text, prev_hash, digest),
    )
    return seq


# -- reading -----------------------------------------------------------------------------------------------------
EVENT_COLUMNS = "seq, at, type, actor, job_id, job_name, run_id, details, prev_hash, hash"

#: The highest seq ever written, removed rows included: SQLite's AUTOINCREMENT keeps it in ``sqlite_sequence``,
#: the PostgreSQL schema in ``audit_sequence`` (``store/postgres.pg_ddl``).
_HIGHEST_EVER = PerDialect(
    sqlite="SELECT seq FROM sqlite_sequence WHERE name = 'audit'",
    postgresql="SELECT seq FROM audit_sequence WHERE seq > 0",
)


def find_events(
    conn: Any,
    *,
    types: Sequence[str] = (),
    since_ms: int | None = None,
    until_ms: int | None = None,
    job: str | None = None,
    run: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Rows (:data:`EVENT_COLUMNS`) matching every given filter, newest first (``limit`` keeps the newest N).

    ``job`` matches a job id, a name or an id prefix of at least 4 characters; ``run`` a run id or such a prefix;
    ``actor`` the whole actor (``cli:alice``) or its name part (``alice``)."""
    where: list[str] = []
    params: list[Any] = []
    if types:
        where.append(f"type IN ({', '.join('?' for _ in types)})")
        params.extend(types)
    if since_ms is not None:
        where.append("at >= ?")
        params.append(since_ms)
    if until_ms is not None:
        where.append("at <= ?")
        params.append(until_ms)
    if job:
        where.append("(job_id = ? OR job_name = ? OR job_id LIKE ? ESCAPE '\\')")
        params.extend([job, job, _prefix(job)])
    if run:
        where.append("(run_id = ? OR run_id LIKE ? ESCAPE '\\')")
        params.extend([run, _prefix(run)])
    if actor:
        where.append("(actor = ? OR actor LIKE ? ESCAPE '\\')")
        params.extend([actor, "%:" + _escape_like(actor)])
    sql = f"SELECT {EVENT_COLUMNS} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return conn.execute(sql, tuple(params)).fetchall()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix(text: str) -> str:
    # A prefix shorter than 4 characters would match too much to mean anything.
    return _escape_like(text) + "%" if len(text) >= 4 else "\x00never"


def first_seq(conn: Any) -> int | None:
    """The seq of the oldest event kept (None when the log is empty)."""
    return conn.execute("SELECT MIN(seq) FROM audit").fetchone()[0]


def in_order(conn: Any) -> Iterable[Any]:
    """Every event (:data:`EVENT_COLUMNS`), oldest first, as a cursor (the log may be long)."""
    return conn.execute(f"SELECT {EVENT_COLUMNS} FROM audit ORDER BY seq")


def highest_seq_ever(conn: Any) -> int | None:
    """The highest seq ever written, removed events included (None before the first): events missing past the
    last one kept were truncated."""
    row = conn.execute(_HIGHEST_EVER(conn)).fetchone()
    return row[0] if row is not None else None
