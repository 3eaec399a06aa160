"""Who may use the dashboard: one-time login links and the browser sessions they open (docs/dashboard.md).

``symbi ui`` issues a login token for the user running it; the link carries it in the URL fragment (never sent to
a server, never in a log or a Referer). The page trades it, once, for a session token that lives only in an
HttpOnly, SameSite=Strict cookie. The API key never reaches the browser. The store keeps only SHA-256 hashes of
tokens; ``symbi ui --logout-all`` ends every session and unused link. The CSRF token a page sends with each change
is derived from its session token, so a page of another origin, which cannot read the cookie, cannot make it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from ..errors import PermissionDenied
from ..store import dashboard_sessions as rows
from ..store.audit import append_event
from ..timeutil import from_ms, to_ms
from ..vocab import Event
from .app import App

#: Audit events written here.


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: what its page sends in ``X-CSRF-Token`` with every change."""
    return hashlib.sha256(b"symbi-dashboard-csrf\0" + session_token.encode("utf-8", "replace")).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session_token), given.strip())


def issue_login(app: App, identity: str) -> dict[str, Any]:
    """A one-time login token for ``identity`` (the user running ``symbi ui``), valid for
    ``dashboard.login_link_minutes``; expired entries are swept at the same time."""
    now_ms = to_ms(app.clock.now())
    ttl_ms = int(app.settings.dashboard.login_link_minutes * 60_000)
    token = secrets.token_urlsafe(32)
    with app.store.write() as tx:
        rows.purge_expired(tx, now_ms)
        rows.add(
            tx, token_hash=_hash(token), kind=rows.LOGIN, identity=identity, now_ms=now_ms, expires_ms=now_ms + ttl_ms
        )
    return {"token": token, "identity": identity, "expires_at": from_ms(now_ms + ttl_ms)}


def start_session(app: App, login_token: str) -> dict[str, Any]:
    """Take a login token (it works once) and open a session for its identity, valid for
    ``dashboard.session_hours``. PermissionDenied when the token is unknown, used or expired."""
    if not isinstance(login_token, str) or not login_token.strip():
        raise PermissionDenied("no login token: open the link `symbi ui` prints")
    now_ms = to_ms(app.clock.now())
    ttl_ms = int(app.settings.dashboard.session_hours * 3_600_000)
    token = secrets.token_urlsafe(32)
    with app.store.write() as tx:
        login = rows.get(tx, _hash(login_token.strip()), rows.LOGIN, now_ms)
        if login is None:
            raise PermissionDenied("this login link is used, expired or unknown: run `symbi ui` for a new one")
        rows.remove(tx, _hash(login_token.strip()))
        rows.add(
            tx,
            token_hash=_hash(token),
            kind=rows.SESSION,
            identity=login["identity"],
            now_ms=now_ms,
            expires_ms=now_ms + ttl_ms,
        )
        append_event(
            tx,
            at_ms=now_ms,
            type=Event.dashboard_session_started,
            actor=f"ui:{login['identity']}",
            details={"expires_at": from_ms(now_ms + ttl_ms).isoformat()},
        )
    return {
        "token": token,
        "identity": login["identity"],
        "expires_at": from_ms(now_ms + ttl_ms),
        "max_age_seconds": ttl_ms // 1000,
        "csrf": csrf_token(token),
    }


def session(app: App, session_token: str | None) -> dict[str, Any] | None:
    """The live session of this token (``identity``, ``expires_at``), or None."""
    if not session_token:
        return None
    found = rows.get(app.store.connection(), _hash(session_token), rows.SESSION, to_ms(app.clock.now()))
    if found is None:
        return None
    return {"identity": found["identity"], "expires_at": from_ms(found["expires_at"])}


def end_session(app: App, session_token: str) -> None:
    with app.store.write() as tx:
        rows.remove(tx, _hash(session_token))


def end_all(app: App) -> dict[str, int]:
    """End every dashboard session and unused login link; how many of each there were."""
    now_ms = to_ms(app.clock.now())
    with app.store.write() as tx:
        counts = rows.remove_all(tx)
        append_event(
            tx,
            at_ms=now_ms,
            type=Event.dashboard_sessions_ended,
            actor=app.actor,
            details={"sessions": counts.get(rows.SESSION, 0), "login_links": counts.get(rows.LOGIN, 0)},
        )
    return {"sessions": counts.get(rows.SESSION, 0), "login_links": counts.get(rows.LOGIN, 0)}
