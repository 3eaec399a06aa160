"""Make the store match a ``.symbi`` file (``symbi cron apply``, ``symbi cron edit``), as ``kubectl apply`` or
``terraform apply`` do: a plan of what to create, change and (with ``prune``) remove, then all of it in one
transaction. A job is its name: one whose spec is unchanged is not touched (it keeps its id, status and history);
a changed one is updated in place (``jobs.update_job``: status and history kept). Agents the file defines are
registered or updated; agents are never removed (other jobs and ``symbi run`` may use them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import SymbiError
from .app import App

#: A change's action, in the order a plan lists them.
CREATE, UPDATE, REMOVE, UNCHANGED = "create", "update", "remove", "unchanged"


@dataclass
class Change:
    """One agent or job the plan touches (or leaves alone)."""

    kind: str  # "agent" or "job"
    name: str
    action: str
    fields: list[str] = field(default_factory=list)  # what differs, for an update
    line: int | None = None
    spec: dict[str, Any] | None = None  # as the file has it (normalised)
    current: dict[str, Any] | None = None  # as the store has it

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "action": self.action, "line": self.line}
        if self.action == UPDATE:
            out["changes"] = {
                f: {"from": (self.current or {}).get(f), "to": (self.spec or {}).get(f)} for f in self.fields
            }
        if self.kind == "job" and self.current is not None:
            out["id"] = self.current["id"]
        return out


@dataclass
class Plan:
    file: str
    changes: list[Change] = field(default_factory=list)
    text: str = ""

    def of(self, action: str, kind: str | None = None) -> list[Change]:
        return [c for c in self.changes if c.action == action and (kind is None or c.kind == kind)]

    @property
    def empty(self) -> bool:
        return all(c.action == UNCHANGED for c in self.changes)

    def summary(self, *, done: bool = False) -> str:
        """``1 to add, 2 to change, 0 to remove, 5 unchanged`` (``1 added, 2 changed, ...`` once ``done``)."""
        n = {a: len(self.of(a, "job")) for a in (CREATE, UPDATE, REMOVE, UNCHANGED)}
        agents = len([c for c in self.changes if c.kind == "agent" and c.action in (CREATE, UPDATE)])
        words = (
            ("added", "changed", "removed", "registered")
            if done
            else ("to add", "to change", "to remove", "to register")
        )
        text = f"{n[CREATE]} {words[0]}, {n[UPDATE]} {words[1]}, {n[REMOVE]} {words[2]}, {n[UNCHANGED]} unchanged"
        return text + (f"; {agents} agent{'s' if agents != 1 else ''} {words[3]}" if agents else "")

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "summary": self.summary(), "changes": [c.to_dict() for c in self.changes]}


def _agent_spec(agent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in agent.items() if k not in ("created_at", "updated_at")}


def _job_spec(job: dict[str, Any]) -> dict[str, Any]:
    from ..models import JOB_SPEC_FIELDS

    return {k: job.get(k) for k in JOB_SPEC_FIELDS}


def plan(app: App, text: str, *, file: str, prune: bool = False, scope: set[str] | None = None) -> Plan:
    """What applying ``text`` would do. ``scope``: the job names the file stands for (``cron edit --name``);
    None: every job. With ``prune`` the jobs in scope the file does not declare are removed. Raises DslError
    listing every problem of the file (as ``validate`` does); nothing is written."""
    from .. import dsl
    from ..store import jobs as job_rows
    from .agents import list_agents
    from .importing import scheduler_checks
    from .jobs import spec_problems

    registered = {a["name"]: a for a in list_agents(app)} if _store_exists(app) else {}
    stored = {j["name"]: j for j in (job_rows.list_jobs(app.store.connection()) if _store_exists(app) else [])}
    # A schedule must name an agent the file defines or the store knows: registered, or already run by a job
    # (`add --json` lets a job name an agent registered later; export then apply must change nothing).
    known = set(registered) | {j["agent_id"] for j in stored.values()}
    # Unchanged one-shots whose `at` has passed are fine (export then apply changes nothing): `at` is checked
    # below for what is created or changed.
    doc = dsl.parse(text, file=file, known_agents=known, check_schedule=scheduler_checks(app, past_ok=True))
    out = Plan(file=file, text=text)
    for decl in doc.agents:
        spec = decl.spec.model_dump(mode="json")
        existing = registered.get(decl.spec.name)
        if existing is None:
            out.changes.append(Change("agent", decl.spec.name, CREATE, line=decl.line, spec=spec))
        else:
            diff = sorted(k for k in spec if spec[k] != _agent_spec(existing).get(k))
            action = UPDATE if diff else UNCHANGED
            out.changes.append(Change("agent", decl.spec.name, action, diff, decl.line, spec, existing))
    now = app.clock.now()
    problems: list[Any] = []
    for decl in doc.schedules:
        clean, _ok = spec_problems(app, decl.spec, now=now, past_ok=True)
        existing = stored.get(clean["name"])
        if existing is None:
            change = Change("job", clean["name"], CREATE, line=decl.line, spec=clean)
        else:
            current = _job_spec(existing)
            diff = [k for k in clean if clean[k] != current.get(k)]
            change = Change("job", clean["name"], UPDATE if diff else UNCHANGED, diff, decl.line, clean, existing)
        if change.action == CREATE or "at" in change.fields:
            _clean, late = spec_problems(app, decl.spec, now=now)
            for p in late:
                dsl.schedule_problem(problems, decl, p.field, p.message)
        out.changes.append(change)
    if problems:
        dsl.raise_problems(problems, text)
    if prune:
        declared = {s.spec.name for s in doc.schedules}
        for name, job in sorted(stored.items()):
            if name not in declared and (scope is None or name in scope):
                out.changes.append(Change("job", name, REMOVE, current=job))
    return out


def apply(app: App, the_plan: Plan) -> Plan:
    """Carry the plan out in one transaction (all of it or nothing); returns it."""
    from .agents import add_agent
    from .jobs import create_job, delete_job, update_job

    if the_plan.empty:
        return the_plan
    with app.store.write():
        for c in the_plan.changes:
            if c.kind == "agent" and c.action in (CREATE, UPDATE):
                add_agent(app, c.spec, replace=True)
        for c in the_plan.changes:
            if c.kind != "job" or c.action == UNCHANGED:
                continue
            try:
                if c.action == CREATE:
                    created = create_job(app, c.spec or {})
                    c.current = created
                elif c.action == UPDATE:
                    assert c.current is not None and c.spec is not None
                    update_job(app, c.current["id"], {f: c.spec[f] for f in c.fields})
                else:
                    assert c.current is not None
                    delete_job(app, c.current["id"])
            except SymbiError as exc:
                where = f"{the_plan.file}:{c.line}: " if c.line else ""
                raise type(exc)(f"{where}job {c.name!r}: {exc.message}", field=exc.field) from None
    return the_plan


def _store_exists(app: App) -> bool:
    return app.paths.db.exists() or getattr(app.store, "dialect", "sqlite") != "sqlite"
