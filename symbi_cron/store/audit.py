"""The append-only audit log with a hash chain (SPEC §10).

Each row's ``hash`` is the SHA-256 of the canonical JSON of its own fields and the previous row's hash, so a row
changed, removed or inserted directly in the database breaks the chain at that point.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

GENESIS_HASH = "0" * 64


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
    """Append one event inside the caller's write transaction; return its seq."""
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
