"""Agent registry use cases (SPEC §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidInput, NotFound
from ..store import agents as agent_rows
from ..store import jobs as job_rows
from ..store.audit import append_event
from ..timeutil import to_ms
from ..vocab import Event
from .app import App

if TYPE_CHECKING:  # the models (pydantic) are imported where an agent is written: reading stays light
    from ..models import AgentSpec


def validate_agent(data: AgentSpec | dict[str, Any]) -> dict[str, Any]:
    """Check an agent spec; return it as a dict. Raises InvalidInput naming the field."""
    from ..models import AgentSpec, validation_error

    if isinstance(data, AgentSpec):
        return data.model_dump(mode="json")
    if not isinstance(data, dict):
        raise InvalidInput("expected an object with the agent's fields")
    from pydantic import ValidationError

    try:
        return AgentSpec.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        raise validation_error(exc) from None


def add_agent(app: App, spec: AgentSpec | dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
    """Register an agent (or replace it when ``replace``); return it."""
    clean = validate_agent(spec)
    now = to_ms(app.clock.now())
    with app.store.write() as tx:
        existing = agent_rows.get(tx, clean["name"])
        if existing and not replace:
            raise Conflict(f"an agent named {clean['name']!r} exists; use --replace to change it", field="name")
        agent_rows.upsert(tx, clean, now_ms=now)
        append_event(
            tx,
            at_ms=now,
            type=Event.agent_registered,
            actor=app.actor,
            details={"agent": clean["name"], "replaced": bool(existing), "capabilities": clean.get("capabilities", [])},
        )
        app.changed()
        return agent_rows.get(tx, clean["name"])  # type: ignore[return-value]


def list_agents(app: App) -> list[dict[str, Any]]:
    """All registered agents, by name."""
    return agent_rows.list_agents(app.store.connection())


def resolve_agent(conn, name: str) -> dict[str, Any]:
    """The agent registered under ``name``; NotFound when there is none."""
    agent = agent_rows.get(conn, name)
    if agent is None:
        raise NotFound(f"no agent named {name!r} (see symbi agent list)")
    return agent


def get_agent(app: App, name: str) -> dict[str, Any]:
    """One agent; NotFound when it is not registered."""
    return resolve_agent(app.store.connection(), name)


def remove_agent(app: App, name: str, *, force: bool = False) -> dict[str, Any]:
    """Unregister an agent. Refused while jobs use it, unless ``force``."""
    with app.store.write() as tx:
        agent = resolve_agent(tx, name)
        users = job_rows.names_using_agent(tx, name)
        if users and not force:
            shown = ", ".join(users[:5]) + (" ..." if len(users) > 5 else "")
            raise Conflict(f"agent {name!r} is used by {len(users)} job(s): {shown}; remove them or use --force")
        agent_rows.delete(tx, name)
        append_event(
            tx,
            at_ms=to_ms(app.clock.now()),
            type=Event.agent_removed,
            actor=app.actor,
            details={"agent": name, "jobs_using_it": users},
        )
        app.changed()
    return agent
