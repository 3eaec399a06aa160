"""Leases on a shared PostgreSQL store (docs/scaling.md): each daemon, and each run owner while it carries a run,
has a row in the ``daemons`` table (``store/daemons.py``) whose ``lease_until`` it renews; a run's owner is alive
while its lease holds.

Leases are fenced (issue 17): a lease has a token (``store/daemons.py``), taken again with a new one after it
lapsed. A daemon whose lease lapsed (a freeze, a long pause) learns it at its next renewal, before it claims; a run
carries its owner's token, and the owner records its outcome only while the run is still its own.
"""

from __future__ import annotations

import os

from ..processes import host_name, owner_alive, owner_kind
from ..store import daemons as daemon_rows


def register_daemon(conn, daemon_id: str, *, now_ms: int, lease_ms: int, parent: str | None = None) -> int:
    """Record this daemon (or, with ``parent``, one of its run owners) and its lease until ``now_ms + lease_ms``;
    the lease's fencing token."""
    return daemon_rows.register(
        conn, daemon_id, host=host_name(), pid=os.getpid(), now_ms=now_ms, lease_ms=lease_ms, parent=parent
    )


def renew_lease(conn, daemon_id: str, *, now_ms: int, lease_ms: int, token: int | None = None) -> tuple[bool, int]:
    """Extend this daemon's lease held under ``token`` (None: whatever token it has). Returns ``(held, token)``:
    ``held`` is False when it had lapsed, was removed or its token changed (the others may have taken its runs
    over: the caller says so and claims nothing in this tick); the lease is taken again either way, and ``token``
    is the one it holds now."""
    held = daemon_rows.lease_of(conn, daemon_id)
    if held is not None and held[0] >= now_ms and token in (None, held[2]):
        daemon_rows.extend(conn, daemon_id, held[2], now_ms=now_ms, lease_ms=lease_ms)
        return True, held[2]
    return False, register_daemon(conn, daemon_id, now_ms=now_ms, lease_ms=lease_ms)


def lease_token(conn, holder: str) -> int | None:
    held = daemon_rows.lease_of(conn, holder)
    return held[2] if held else None


def hold_owner_lease(conn, owner_id: str, token: int, *, now_ms: int, lease_ms: int) -> bool:
    """A run owner extends its lease, lapsed or not, as long as its row is still there under its token; False when
    it is gone: another daemon judged the owner dead and took its run over (it drops the owner's row when it
    records the run interrupted)."""
    return daemon_rows.extend(conn, owner_id, token, now_ms=now_ms, lease_ms=lease_ms, lapsed_too=True)


def release_daemon(conn, daemon_id: str) -> None:
    """A clean stop: the daemon's row goes (its runs were drained and recorded)."""
    daemon_rows.remove(conn, daemon_id)


def lease_alive(conn, owner: str | None, me: str, now_ms: int, *, lock: bool = False) -> bool:
    """Whether the owner of a run is alive on a shared store: its daemon holds an unexpired lease. An owner with
    no lease row is a daemon that is gone, or a foreground ``symbi cron run``: that one is judged by its pid when
    it ran on this host, and left alone when it ran elsewhere (only its own host can tell). With ``lock`` (inside
    the write that would take its run over), the lease cannot be renewed until that write ends."""
    if not owner or owner == me:
        return owner == me
    held = daemon_rows.lease_of(conn, owner, lock=lock)
    if held is not None:
        return held[0] >= now_ms
    if owner_kind(owner) == "daemon":
        return False
    parts = owner.split(":")
    if len(parts) > 3 and parts[3] != host_name():
        return True
    return owner_alive(owner, me)


def adoptable(conn, owner: str, *, my_name: str, now_ms: int) -> bool:
    """Whether a daemon named ``my_name`` adopts a live run owner of its host (watches it, counts its run as its own,
    stops it when it drains): only one whose daemon is gone (its lease lapsed or its row went) or was this home's
    (the same name: the daemon before a restart). Several daemons of one host sharing a store never adopt each
    other's owners: each watches its own, and one stopping must not wait for, or stop, another's runs."""
    parent = daemon_rows.parent_of(conn, owner)
    if parent is None:
        return True
    _id, name, lease_until = parent
    return lease_until < now_ms or name == my_name


def forget_lapsed(conn, *, me: str, now_ms: int) -> int:
    """Drop the lease rows of daemons and owners that lapsed and hold nothing any more (no running run, no owed
    delivery): their purpose is served. How many went."""
    return daemon_rows.forget_lapsed(conn, keep=me, now_ms=now_ms)


def daemon_loads(conn, now_ms: int, *, lease_ms: int) -> dict[str, int]:
    """The running runs of each live daemon that is ticking (it renewed its lease within a third of the lease and a
    second: a frozen one is not offered work), for placement: least-loaded first."""
    return daemon_rows.loads(conn, now_ms, now_ms - lease_ms // 3 - 1_000)
