"""The ``agents`` table: the registry of runnable agents (SPEC §6)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..timeutil import from_ms


def row_to_agent(row: sqlite3.Row) -> dict[str, Any]:
    agent = json.loads(row["spec"])
    agent["name"] = row["name"]
    agent["created_at"] = from_ms(row["created_at"])
    agent["updated_at"] = from_ms(row["updated_at"])
    return agent


def get(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM agents WHERE name = ?", (name,)).fetchone()
    return row_to_agent(row) if row else None


def list_agents(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [row_to_agent(r) for r in conn.execute("SELECT * FROM agents ORDER BY name")]


def spec_texts(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(name, stored spec JSON)`` of every agent, undecoded (a check reads a few keys of each)."""
    return [(r[0], r[1]) for r in conn.execute("SELECT name, spec FROM agents")]


def upsert(conn: sqlite3.Connection, spec: dict[str, Any], *, now_ms: int) -> None:
    body = json.dumps({k: v for k, v in spec.items() if k != "name"}, sort_keys=True, separators=(",", ":"))
    conn.execute(
        "INSERT INTO agents (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        (spec["name"], body, now_ms, now_ms),
    )


def delete(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("DELETE FROM agents WHERE name = ?", (name,))
