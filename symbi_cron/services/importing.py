"""Adding jobs and agents from files: ``.symbi`` files (``symbi cron add --file``) and crontabs
(``symbi cron import --crontab``). Each import is one transaction: everything is written, or nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import Conflict, InvalidInput, NotFound, SymbiError
from .app import App


def _registered(app: App) -> dict[str, dict[str, Any]]:
    from .agents import list_agents

    return {a["name"]: a for a in list_agents(app)}


def _same_agent(existing: dict[str, Any], spec: dict[str, Any]) -> bool:
    mine = {k: v for k, v in existing.items() if k not in ("created_at", "updated_at")}
    return mine == spec


def scheduler_checks(app: App, *, past_ok: bool = False):
    """The checks ``cron add`` makes on a schedule beyond the file's syntax (``jobs.spec_problems``), as the
    ``check_schedule`` of :func:`symbi_cron.dsl.parse`: so ``validate`` and ``add`` give the same answer.
    ``past_ok``: an ``at`` that has passed is not a problem (``apply`` of an unchanged one-shot)."""
    from .jobs import spec_problems

    now = app.clock.now()

    def check(spec: Any) -> list[tuple[str | None, str, str | None]]:
        _clean, problems = spec_problems(app, spec, now=now, past_ok=past_ok)
        return [(p.field, p.message, p.details.get("near") if isinstance(p.details, dict) else None) for p in problems]

    return check


def check_text(app: App, text: str, *, file: str) -> Any:
    """Parse and check a ``.symbi`` text as ``cron add`` would, agents included against the store (when one
    exists: checking never creates it); returns the Document. Raises DslError listing every problem. Nothing
    is written."""
    from .. import dsl

    known = list(_registered(app)) if app.paths.db.exists() or app.store.dialect != "sqlite" else []
    return dsl.parse(text, file=file, known_agents=known, check_schedule=scheduler_checks(app))


def check_file(app: App, path: str | Path) -> Any:
    """:func:`check_text` on a file."""
    from .. import dsl

    return check_text(app, dsl.read_text(path), file=str(path))


def add_from_file(app: App, path: str | Path, *, schedules: list[str] | None, replace: bool = False) -> dict[str, Any]:
    """Add the named schedules of a ``.symbi`` file (``None`` = all) and register the file's agents they use.

    One transaction. An existing job or agent name is a Conflict unless ``replace`` (an agent identical to the
    registered one is left as is); a schedule name the file lacks is NotFound listing the file's names; a
    schedule whose agent is neither in the file nor registered is a DslError at its ``agent`` key.
    Returns ``{"file", "agents": [...registered or replaced...], "jobs": [...]}``.
    """
    from .. import dsl
    from .agents import add_agent
    from .jobs import create_job

    if schedules is not None and not schedules:
        raise InvalidInput("name at least one schedule (or add them all)", field="schedule")
    doc = dsl.parse_file(path)
    file = str(path)
    if schedules is None:
        chosen = list(doc.schedules)
        if not chosen:
            raise NotFound(f"{file} has no schedule blocks")
    else:
        chosen = []
        for name in dict.fromkeys(schedules):
            decl = doc.schedule(name)
            if decl is None:
                have = ", ".join(doc.schedule_names()) or "none"
                raise NotFound(f"{file} has no schedule named {name!r} (it has: {have})", field="schedule")
            chosen.append(decl)

    registered = _registered(app)
    problems: list[Any] = []
    # The chosen schedules as `validate` checks them: an `at` in the past or a channel the job cannot use is
    # reported at its line, with every other problem, before anything is written.
    check = scheduler_checks(app)
    for decl in chosen:
        for field_name, message, near in check(decl.spec):
            dsl.schedule_problem(problems, decl, field_name, message, near)
    for decl in chosen:
        agent_id = decl.spec.agent_id
        if doc.agent(agent_id) is None and agent_id not in registered:
            import difflib

            line, col = decl.positions.get("agent_id", (decl.line, decl.column))
            # A near miss gets the same suggestion `symbi cron validate` gives.
            close = difflib.get_close_matches(
                agent_id, [a.spec.name for a in doc.agents] + list(registered), n=1, cutoff=0.6
            )
            problems.append(
                dsl.Problem(
                    file,
                    line,
                    col,
                    f"schedule {decl.spec.name!r} names agent {agent_id!r}, which is neither defined in this "
                    "file nor registered",
                    found=agent_id,
                    hint=f"did you mean `{close[0]}`?"
                    if close
                    else "define it with `agent NAME { }` or `symbi agent add`",
                )
            )
    if problems:
        dsl.raise_problems(problems, dsl.read_text(path))  # sorted by line

    # The file's agents that the chosen schedules use, in file order.
    used = {d.spec.agent_id for d in chosen}
    agents = [a for a in doc.agents if a.spec.name in used]
    out: dict[str, Any] = {"file": file, "agents": [], "jobs": []}
    with app.store.write():
        for a in agents:
            spec = a.spec.model_dump(mode="json")
            existing = registered.get(a.spec.name)
            if existing is not None and _same_agent(existing, spec):
                continue
            try:
                out["agents"].append(add_agent(app, a.spec, replace=replace))
            except Conflict as exc:
                raise Conflict(f"{file}:{a.line}:{a.column}: {exc.message}") from None
        for decl in chosen:
            try:
                out["jobs"].append(create_job(app, decl.spec, replace=replace))
            except Conflict as exc:
                line, col = decl.positions.get("name", (decl.line, decl.column))
                raise Conflict(f"{file}:{line}:{col}: {exc.message}") from None
            except InvalidInput as exc:
                # A check only the store can make (e.g. an `at` already past): place it in the file.
                raise _at_field(file, path, decl, exc) from None
    return out


def _at_field(file: str, path: str | Path, decl: Any, exc: SymbiError) -> SymbiError:
    from .. import dsl

    field = (exc.field or "").split(".")[0]
    line, col = decl.positions.get(field, (decl.line, decl.column))
    key = dsl.schedule_key(field)
    message = f"bad value for `{key}`: {exc.message}" if key else exc.message
    try:
        dsl.raise_problems([dsl.Problem(file, line, col, message)], dsl.read_text(path))
    except dsl.DslError as err:
        return err


# -- crontabs ----------------------------------------------------------------------------------------------
def plan_crontab(app: App, text: str, *, prefix: str = "") -> dict[str, Any]:
    """What importing ``text`` would create: ``{"items": [{line, agent, job}], "skipped", "warnings"}``.

    Every agent and job is checked as the real import would check it; nothing is written.
    """
    from .. import crontab
    from .agents import validate_agent
    from .jobs import validate_spec

    if prefix and not all(c.isalnum() or c in "-_." for c in prefix):
        raise InvalidInput("use letters, digits and - _ . only", field="prefix")
    tab = crontab.parse_crontab(text)
    mail, warnings = _mailto_plan(app, tab)
    items = crontab.to_specs(tab, prefix=prefix, mail=mail)
    for item in items:
        try:
            item["agent"] = validate_agent(item["agent"])
            item["job"] = validate_spec(app, item["job"])
        except SymbiError as exc:
            raise InvalidInput(f"crontab line {item['line']}: {exc}") from None
    return {
        "items": items,
        "skipped": [s.to_dict() for s in tab.skipped],
        "warnings": tab.warnings + warnings,
        "notes": [CRON_BEHAVIOUR_NOTE] if items else [],
    }


#: What the import summary says about the jobs it makes (docs/crontab.md).
CRON_BEHAVIOUR_NOTE = (
    "the imported jobs keep cron's behaviour: a failed run is not retried and never stops the following slots"
    " (on_failure: continue, max_retries: 0), and missed slots are not run (catchup: skip)"
)


def _mailto_plan(app: App, tab: Any) -> tuple[list[str], list[str]]:
    """The MAILTO addresses that become email delivery, and a warning naming each MAILTO line that cannot:
    SMTP is not configured, or a value is a local user rather than an address (cron hands those to the local
    mailer; symbi sends over SMTP)."""
    from .jobs import email_address_ok

    smtp = bool(app.settings.scheduler.delivery.smtp_host)
    lines: dict[int, list[str]] = {}
    for e in tab.entries:
        if e.mailto and e.mailto_line is not None:
            lines.setdefault(e.mailto_line, e.mailto)
    mail: list[str] = []
    warnings: list[str] = []
    for n, addresses in sorted(lines.items()):
        value = ",".join(addresses)
        if not smtp:
            warnings.append(
                f"line {n}: MAILTO={value} is not mailed: email is not configured (set [scheduler.delivery]"
                " smtp_host, then import again or add email delivery); the output goes to each job's log file"
            )
            continue
        local = [a for a in addresses if not email_address_ok(a)]
        if local:
            warnings.append(f"line {n}: MAILTO: {', '.join(local)} is not an email address (a local user?): not mailed")
        mail += [a for a in addresses if a not in local]
    return mail, warnings


def import_crontab(
    app: App, text: str, *, prefix: str = "", skip_invalid: bool = False, replace: bool = False
) -> dict[str, Any]:
    """Create an agent and a job for each line of a crontab, all in one transaction.

    Lines that cannot be converted make it write nothing (InvalidInput listing them in ``details``) unless
    ``skip_invalid``. An existing job or agent name is a Conflict unless ``replace``.
    Returns the plan with ``jobs`` and ``agents`` as created.
    """
    from .agents import add_agent
    from .jobs import create_job

    plan = plan_crontab(app, text, prefix=prefix)
    if plan["skipped"] and not skip_invalid:
        n = len(plan["skipped"])
        lines = ", ".join(str(s["line"]) for s in plan["skipped"])
        s = "s" if n > 1 else ""
        raise InvalidInput(
            f"{n} crontab line{s} cannot be converted (line{s} {lines}); nothing was written"
            " (--skip-invalid imports the others)",
            field="crontab",
            details={"skipped": plan["skipped"]},
        )
    if not plan["items"]:
        raise InvalidInput("the crontab has no job lines to import", field="crontab")
    plan["agents"], plan["jobs"] = [], []
    with app.store.write():
        for item in plan["items"]:
            try:
                if not item.get("agent_shared"):  # several exported lines can run one agent
                    plan["agents"].append(add_agent(app, item["agent"], replace=replace))
                plan["jobs"].append(create_job(app, item["job"], replace=replace))
            except Conflict as exc:
                raise Conflict(f"crontab line {item['line']}: {exc.message}") from None
    return plan


def export_crontab(app: App) -> str:
    """The store's jobs as crontab text (see :func:`symbi_cron.crontab.export_crontab`)."""
    from .. import crontab
    from .agents import list_agents
    from .jobs import list_jobs

    agents = {a["name"]: a for a in list_agents(app)}
    return crontab.export_crontab(list_jobs(app), agents, default_zone=app.settings.timezone_name)


def export_symbi(app: App, *, names: list[str] | None = None) -> str:
    """The store's jobs (or the ``names`` ones: NotFound for one that does not exist) and the registered agents
    they run, as a ``.symbi`` file that ``apply`` reads back with no change."""
    from ..dsl.export import symbi_text
    from .agents import list_agents
    from .jobs import get_job_by_name, list_jobs

    jobs = [get_job_by_name(app, n) for n in dict.fromkeys(names)] if names else list_jobs(app)
    agents = {a["name"]: a for a in list_agents(app)}
    used = [agents[n] for n in dict.fromkeys(j["agent_id"] for j in jobs) if n in agents]
    return symbi_text(used, jobs)
