"""Reading and checking the audit log (SPEC §10). Writing is ``store.audit.append_event``, called where events
happen.

``verify_chain`` recomputes every row's hash with the same function the writer uses and reports, per row:
``changed`` (its content no longer matches its own hash), ``removed`` (a gap in ``seq``, or rows missing at the end
according to SQLite's AUTOINCREMENT counter) and ``broken_link`` (its ``prev_hash`` is not the previous row's hash:
that row was rewritten with a recomputed hash, or this row was inserted). A chain anyone with write access can
recompute end to end proves nothing by itself: keep the ``head`` hash that ``verify`` prints somewhere else and
pass it back later (``expect_head``, ``--expect-head``; see docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..errors import InvalidInput
from ..vocab import EVENT_TYPES  # noqa: F401  (re-exported; shell completion reads it from vocab)
from .app import App


def event_type(name: str) -> str:
    """The canonical spelling of an event type (case-insensitive), or InvalidInput listing the known ones."""
    for known in EVENT_TYPES:
        if known.lower() == name.strip().lower():
            return known
    raise InvalidInput(f"unknown event type {name!r} (known types: {', '.join(EVENT_TYPES)})", field="type")


def parse_when(text: str, *, field: str, end_of_day: bool = False, now: datetime | None = None) -> datetime:
    """See :func:`symbi_cron.timeutil.parse_when` (relative times, dates, ISO 8601)."""
    from ..timeutil import parse_when as parse

    return parse(text, field=field, end_of_day=end_of_day, now=now)


def _row(row: Any) -> dict[str, Any]:
    from ..timeutil import from_ms

    try:
        details = json.loads(row["details"])
    except (TypeError, ValueError):
        details = row["details"]
    return {
        "seq": row["seq"],
        "at": from_ms(row["at"]),
        "type": row["type"],
        "actor": row["actor"],
        "job_id": row["job_id"],
        "job_name": row["job_name"],
        "run_id": row["run_id"],
        "details": details,
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


def query_events(
    app: App,
    *,
    types: Iterable[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    job: str | None = None,
    run: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Events matching every given filter, newest first (``limit`` keeps the newest N).

    ``job`` matches a job id, id prefix or name (events of deleted jobs stay findable); ``run`` a run id or
    prefix; ``actor`` the whole actor (``cli:alice``) or its name part (``alice``).
    """
    from ..store.audit import find_events
    from ..timeutil import to_ms

    wanted = [event_type(t) for t in types]
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"--since ({since.isoformat()}) is after --until ({until.isoformat()})", field="since")
    if limit is not None and limit < 1:
        raise InvalidInput("must be a positive number", field="limit")
    with app.store.read() as conn:
        rows = find_events(
            conn,
            types=wanted,
            since_ms=to_ms(since) if since is not None else None,
            until_ms=to_ms(until) if until is not None else None,
            job=job,
            run=run,
            actor=actor,
            limit=limit,
        )
    return [_row(r) for r in rows]


def verify_chain(app: App, *, expect_head: str | None = None) -> dict[str, Any]:
    """Recompute the hash chain. ``{"ok", "count", "head", "problems": [{"seq", "problem", "message"}]}``.

    ``expect_head`` is a ``head`` printed by an earlier verify and kept outside the store: the log only grows, so
    that hash must still be in the chain. This catches what recomputing alone cannot: every hash rewritten from
    some row to the end.
    """
    if expect_head is not None:
        expect_head = expect_head.strip().lower()
        if len(expect_head) != 64 or any(c not in "0123456789abcdef" for c in expect_head):
            raise InvalidInput(
                "expected the 64 hex digits a previous `symbi audit verify` printed as head", field="--expect-head"
            )
    anchor_seen = False
    from ..store.audit import GENESIS_HASH, event_hash, first_seq, highest_seq_ever, in_order
    from ..store.retention import checkpoints

    problems: list[dict[str, Any]] = []
    count = 0
    expected_seq = 1
    prev_hash = GENESIS_HASH
    prev_seq: int | None = None
    start: dict[str, Any] | None = None
    with app.store.read() as conn:
        # Pruned logs start after a checkpoint: the last removed event's seq and hash, which the first kept event
        # must follow and link to.
        first = first_seq(conn)
        marks = checkpoints(conn)
        below = [c for c in marks if first is None or c["seq"] < first]
        if below:
            start = below[-1]
            expected_seq, prev_hash, prev_seq = start["seq"] + 1, start["hash"], start["seq"]
            anchor_seen = expect_head == start["hash"]
        for row in in_order(conn):
            count += 1
            seq = row["seq"]
            gap = seq != expected_seq
            if gap:
                problems.append(_removed(expected_seq, seq - 1))
            digest = event_hash(
                seq=seq,
                at=row["at"],
                type=row["type"],
                actor=row["actor"],
                job_id=row["job_id"],
                job_name=row["job_name"],
                run_id=row["run_id"],
                details=row["details"],
                prev_hash=row["prev_hash"],
            )
            if digest != row["hash"]:
                problems.append(
                    {
                        "seq": seq,
                        "problem": "changed",
                        "message": f"row {seq} was changed: its content does not match its hash",
                    }
                )
            elif row["prev_hash"] != prev_hash and not gap:
                before = f"row {prev_seq}" if prev_seq is not None else "the start of the log"
                problems.append(
                    {
                        "seq": seq,
                        "problem": "broken_link",
                        "message": f"row {seq} does not link to {before}: {before} was rewritten, or row {seq} was"
                        " inserted",
                    }
                )
            prev_hash = row["hash"]
            prev_seq = seq
            expected_seq = seq + 1
            anchor_seen = anchor_seen or row["hash"] == expect_head
        # The highest seq ever written: rows missing past the last one are a truncation.
        top = highest_seq_ever(conn)
    if top is not None and top >= expected_seq:
        problems.append(_removed(expected_seq, top))
    if expect_head is not None and not anchor_seen:
        problems.append(
            {
                "seq": None,
                "problem": "anchor_missing",
                "message": f"the head recorded earlier ({expect_head[:12]}...) is no longer in the chain: rows up to it"
                " were rewritten (and rehashed) or removed",
            }
        )
    if (
        expect_head is not None
        and not anchor_seen
        and marks
        and any(p["problem"] == "anchor_missing" for p in problems)
    ):
        last = marks[-1]
        problems[-1]["message"] += (
            f"; or it was among the {sum(c['pruned'] for c in marks)} events pruned up to seq {last['seq']}"
            " (retention): verify against a head recorded after that"
        )
    verified_from = None
    if start is not None:
        from ..timeutil import from_ms

        verified_from = {
            "seq": start["seq"] + 1,
            "checkpoint_seq": start["seq"],
            "checkpoint_hash": start["hash"],
            "pruned": sum(c["pruned"] for c in marks if c["seq"] <= start["seq"]),
            "pruned_at": from_ms(start["created_at"]),
        }
    return {
        "ok": not problems,
        "count": count,
        "head": prev_hash if count else None,
        "problems": problems,
        "verified_from": verified_from,
    }


def _removed(first: int, last: int) -> dict[str, Any]:
    what = f"row {first} was" if first == last else f"rows {first}-{last} were"
    return {"seq": first, "last_seq": last, "problem": "removed", "message": f"{what} removed"}
