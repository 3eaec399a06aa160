"""The ``dashboard_sessions`` table: the dashboard's one-time login links and its browsers' sessions.

Only a token's SHA-256 is stored (a copy of the store gives nobody a session); ``kind`` is ``login`` (a link
``symbi ui`` printed, taken once) or ``session`` (a browser's cookie). Instants are epoch milliseconds.
"""

from __future__ import annotations

from typing import Any

LOGIN, SESSION = "login", "session"


def add(conn: Any, *, token_hash: str, kind: str, identity: str, now_ms: int, expires_ms: int) -> None:
    conn.execute(
        "INSERT INTO dashboard_sessions (token_hash, kind, identity, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (token_hash, kind, identity, now_ms, expires_ms),
    )


def get(conn: Any, token_hash: str, kind: str, now_ms: int) -> dict[str, Any] | None:
    """The live entry of ``kind`` with this hash (None when unknown or expired)."""
    row = conn.execute(
        "SELECT identity, created_at, expires_at FROM dashboard_sessions"
        " WHERE token_hash = ? AND kind = ? AND expires_at > ?",
        (token_hash, kind, now_ms),
    ).fetchone()
    if row is None:
        return None
    return {"identity": row[0], "created_at": int(row[1]), "expires_at": int(row[2])}


def remove(conn: Any, token_hash: str) -> int:
    return conn.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", (token_hash,)).rowcount


def remove_all(conn: Any) -> dict[str, int]:
    """End every session and every unused login link; how many of each there were (live or not)."""
    counts = {r[0]: int(r[1]) for r in conn.execute("SELECT kind, COUNT(*) FROM dashboard_sessions GROUP BY kind")}
    conn.execute("DELETE FROM dashboard_sessions")
    return counts


def purge_expired(conn: Any, now_ms: int) -> int:
    return conn.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now_ms,)).rowcount
