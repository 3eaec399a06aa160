"""User crontabs in and out: parse a crontab into agent + job specs, and write jobs back as crontab lines.

Pure: text in, data out (no store, no clock). ``services.importing`` writes what this module proposes.

Reading follows cronie/Vixie cron: ``NAME=value`` lines (quotes stripped) set the environment of the lines
after them; ``CRON_TZ`` (or, failing it, ``TZ``) is the zone the schedule is read in; ``SHELL`` runs the
command; comments and blank lines are ignored. A line we cannot reproduce faithfully (``@reboot``, an
unescaped ``%``, an expression our engine rejects) is reported with its line number and reason, never guessed.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .envref import has_env_ref, looks_like_secret
from .vocab import ChannelName, JobStatus

_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
#: The comment `symbi cron export` writes above each line, read back by the import to keep the names.
_NAMES_COMMENT = re.compile(r"^#\s*job\s+(?P<name>\S(?:.*\S)?)\s+\(agent\s+(?P<agent>[^()\s]+)\)\s*$")
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
#: Words that start a command line without naming the program (their argument is skipped too where noted).
_WRAPPERS = {"sudo", "nice", "ionice", "env", "exec", "nohup", "chronic", "time", "command", "setsid"}
_WRAPPERS_WITH_ARG = {"cd", "timeout", "flock", "pushd"}


@dataclass
class CrontabEntry:
    """One schedulable crontab line with the environment in force at it."""

    line: int
    schedule: str
    command: str
    env: dict[str, str]
    timezone: str | None = None
    shell: str = "/bin/sh"
    #: The addresses of the MAILTO line in force (cron mails the output there), and that line's number.
    mailto: list[str] = field(default_factory=list)
    mailto_line: int | None = None
    #: The names `symbi cron export` wrote above the line (``# job NAME (agent AGENT)``): kept on import.
    name: str | None = None
    agent_name: str | None = None


@dataclass
class Skipped:
    """A line that cannot be converted, and why."""

    line: int
    text: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.text, "reason": self.reason}


@dataclass
class Crontab:
    entries: list[CrontabEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _unescaped_percent(command: str) -> bool:
    i = command.find("%")
    while i != -1:
        if i == 0 or command[i - 1] != "\\":
            return True
        i = command.find("%", i + 1)
    return False


def parse_crontab(text: str) -> Crontab:
    """The schedulable lines of a crontab (5 fields or an @macro, then a command) and the skipped ones."""
    from .errors import InvalidInput
    from .timeutil import load_zone

    tab = Crontab()
    env: dict[str, str] = {}
    cron_tz: str | None = None
    tz: str | None = None
    bad_zone: tuple[int, str] | None = None
    shell = "/bin/sh"
    mailto: list[str] = []
    mailto_line: int | None = None
    names: tuple[str, str] | None = None  # from the export's comment, for the next line
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            names = None
            continue
        if line.startswith("#"):
            named = _NAMES_COMMENT.match(line)
            if named:
                names = (named.group("name"), named.group("agent"))
            elif not line.startswith("# not carried over:"):
                names = None
            continue
        m = _ENV_LINE.match(line)
        if m and not line.startswith("@"):
            name, value = m.group(1), _unquote(m.group(2))
            if name in ("CRON_TZ", "TZ"):
                zone_ok = True
                if value:
                    try:
                        load_zone(value, field=name)
                    except InvalidInput:
                        zone_ok = False
                        tab.skipped.append(
                            Skipped(
                                n,
                                raw,
                                f"{name}={value} is not a known IANA time zone; "
                                "the lines after it are skipped until it is fixed",
                            )
                        )
                if name == "CRON_TZ":
                    cron_tz = value or None
                else:
                    tz = value or None
                    if value:
                        env["TZ"] = value
                    else:
                        env.pop("TZ", None)
                bad_zone = None if zone_ok else (n, f"{name}={value}")
                continue
            if name == "SHELL":
                shell = value or "/bin/sh"
                continue
            if name == "MAILTO":  # cron mails each job's output there (MAILTO="" turns mail off)
                mailto = [a.strip() for a in value.split(",") if a.strip()]
                mailto_line = n
                continue
            if value and looks_like_secret(name) and not has_env_ref(value):
                tab.warnings.append(
                    f"line {n}: {name} looks like a secret; it is stored as written "
                    f"(export it and write {name}=${{{name}}} to keep it out of the store)"
                )
            env[name] = value
            continue
        line_names, names = names, None  # the export's comment names this line only
        if line.startswith("@"):
            words = line.split(None, 1)  # cron separates fields by blanks: spaces or tabs
            macro = words[0].lower()
            command = words[1].strip() if len(words) > 1 else ""
            if macro == "@reboot":
                tab.skipped.append(
                    Skipped(
                        n,
                        raw,
                        "@reboot has no equivalent in symbi (start it from a systemd unit or keep it in your crontab)",
                    )
                )
                continue
            if macro not in _MACROS:
                tab.skipped.append(Skipped(n, raw, f"unknown macro {macro}"))
                continue
            schedule = macro
        else:
            parts = line.split(None, 5)
            if len(parts) < 6:
                tab.skipped.append(Skipped(n, raw, "expected five time fields and a command"))
                continue
            schedule, command = " ".join(parts[:5]), parts[5].strip()
        if not command:
            tab.skipped.append(Skipped(n, raw, "no command after the schedule"))
            continue
        if bad_zone is not None:
            why = f"{bad_zone[1]} (line {bad_zone[0]}) is not a known time zone"
            tab.skipped.append(Skipped(n, raw, why))
            continue
        if _unescaped_percent(command):
            tab.skipped.append(
                Skipped(
                    n,
                    raw,
                    "`%` in the command (cron turns it into a new line and feeds "
                    "the rest to stdin); write \\% for a literal %, or move the "
                    "input into a script",
                )
            )
            continue
        reason = _check_expr(schedule)
        if reason:
            tab.skipped.append(Skipped(n, raw, reason))
            continue
        tab.entries.append(
            CrontabEntry(
                n,
                schedule,
                command.replace("\\%", "%"),
                dict(env),
                cron_tz or tz,
                shell,
                list(mailto),
                mailto_line,
                *(line_names or (None, None)),
            )
        )
    return tab


def _check_expr(expr: str) -> str | None:
    from . import timing
    from .errors import SymbiError

    try:
        timing.parse(expr)
    except SymbiError as exc:
        return f"bad schedule {expr!r}: {exc.message}"
    except Exception as exc:  # the engine must not turn one bad line into a traceback  # noqa: BLE001
        return f"bad schedule {expr!r}: {exc}"
    return None


def slug(command: str) -> str:
    """A readable name from a command: its program's file name (``/bin/backup.sh -x`` -> ``backup-sh``)."""
    try:
        words = shlex.split(command, comments=False)
    except ValueError:
        words = command.split()
    skip_next = False
    program = None
    for w in words:
        if skip_next:
            skip_next = False
            continue
        if w in ("&&", "||", ";", "|") or _ENV_LINE.match(w) or w.startswith("-"):
            continue
        if w in _WRAPPERS:
            continue
        if w in _WRAPPERS_WITH_ARG:
            skip_next = True
            continue
        if w.isdigit():
            continue
        program = w
        break
    base = os.path.basename((program or "job").rstrip("/")) or "job"
    s = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    return s[:60] or "job"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}-{i}" in taken:
        i += 1
    return f"{name}-{i}"


#: What an imported job keeps of cron's behaviour: a failed run never stops the following slots, and is not
#: retried (cron runs each slot once); cron does not run the slots it missed while the machine was down.
CRON_BEHAVIOUR = {"on_failure": "continue", "max_retries": 0, "catchup": "skip"}


def to_specs(
    tab: Crontab, *, prefix: str = "", taken: Iterable[str] = (), mail: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """One ``{"line", "agent": AgentSpec dict, "job": JobSpec dict}`` per entry, names de-duplicated.

    The command runs with the crontab's shell: ``shell: true`` for /bin/sh, else ``SHELL -c COMMAND``. Imported
    jobs keep cron's behaviour (:data:`CRON_BEHAVIOUR`). A job and agent named by the export's comment keep
    those names (with ``prefix``); the others are named after the command's program. A line under a MAILTO
    whose addresses are in ``mail`` (the caller checked them and that email can be sent) gets email delivery of
    its failed runs (``delivery_on: failure``: cron mails output, and a well-behaved cron job prints only when
    something is wrong).
    """
    used = set(taken)
    mailable = set(mail)
    exported_agents: dict[str, tuple] = {}  # agent name -> its (command, shell, env), for lines sharing one
    out = []
    for e in tab.entries:
        name = _unique(prefix + (e.name or slug(e.command)), used)
        used.add(name)
        if e.shell in ("/bin/sh", "sh", "/usr/bin/sh"):
            agent: dict[str, Any] = {"name": name, "command": e.command, "shell": True}
        else:
            agent = {"name": name, "command": shlex.join([e.shell, "-c", e.command]), "shell": False}
        agent["env"] = dict(e.env)
        agent["description"] = f"imported from crontab line {e.line}"
        shared = False
        if e.agent_name:  # the export named the agent: keep it, once for all the lines that run it
            what = (agent["command"], agent["shell"], sorted(agent["env"].items()))
            agent_name = prefix + e.agent_name
            if exported_agents.get(agent_name, what) != what:
                agent_name = _unique(agent_name, set(exported_agents) | used)
            shared = agent_name in exported_agents
            exported_agents[agent_name] = what
            used.add(agent_name)
            agent["name"] = agent_name
        job: dict[str, Any] = {"name": name, "agent_id": agent["name"], "cron_expr": e.schedule, **CRON_BEHAVIOUR}
        if e.timezone:
            job["timezone"] = e.timezone
        recipients = [a for a in e.mailto if a in mailable]
        if recipients:
            job.update(
                delivery=[ChannelName.log_file, ChannelName.email], email_recipients=recipients, delivery_on="failure"
            )
        out.append({"line": e.line, "agent": agent, "job": job, "agent_shared": shared})
    return out


# -- export ------------------------------------------------------------------------------------------------
_STANDARD_FIELD = re.compile(r"^[0-9*,/\-A-Za-z]+$")


def _exportable_expr(expr: str) -> str | None:
    """None when cron understands ``expr`` as we do, else why not."""
    e = expr.strip()
    if e.startswith("@"):
        return None if e.lower() in _MACROS else f"{e} is not a cron macro"
    fields = e.split()
    if len(fields) != 5:
        return "not a five-field expression"
    for f in fields:
        if "#" in f or "?" in f or not _STANDARD_FIELD.match(f):
            return f"uses {f!r}, which crontab does not support"
        rest = re.sub(r"[A-Za-z]{3}", lambda m: "" if m.group().upper() in _NAME_SET else m.group(), f)
        if re.search(r"[A-Za-z]", rest):
            return f"uses {f!r} (L/W), which crontab does not support"
    return None


_NAME_SET = {n.upper() for n in ("jan feb mar apr may jun jul aug sep oct nov dec sun mon tue wed thu fri sat".split())}


def _env_assign(name: str, value: str) -> str:
    # Keep ${VAR} references live (the shell resolves them when the job runs); quote everything else.
    if has_env_ref(value) and not re.search(r'["\\`]', value) and "$(" not in value:
        return f'{name}="{value}"'
    return f"{name}={shlex.quote(value)}"


def _command_line(agent: dict[str, Any]) -> str:
    cmd = agent["command"]
    if not agent.get("shell"):
        # Our runner splits the command like a shell and runs it without one: quoting keeps that meaning.
        try:
            cmd = shlex.join(shlex.split(cmd))
        except ValueError:
            pass
    env = agent.get("env") or {}
    if env:
        cmd = (
            " ".join(_env_assign(k, v) for k, v in sorted(env.items()))
            + " "
            + (cmd if not agent.get("shell") else f"sh -c {shlex.quote(cmd)}")
        )
    if agent.get("workdir"):
        cmd = f"cd {shlex.quote(agent['workdir'])} && {cmd}"
    return cmd.replace("%", "\\%")


def export_crontab(
    jobs: list[dict[str, Any]], agents: dict[str, dict[str, Any]], *, default_zone: str | None = None
) -> str:
    """Crontab text for ``jobs``: runnable lines grouped by ``CRON_TZ``, the rest as comments saying why."""
    # MAILTO="" first: cron mails every job's output to its owner unless told otherwise; only jobs with email
    # delivery mail (to their recipients).
    lines = ["# symbi cron export: jobs that crontab can express", "SHELL=/bin/sh", 'MAILTO=""', ""]
    left_out: list[str] = []
    by_zone: dict[str, list[tuple[str, list[str]]]] = {}
    for job in sorted(jobs, key=lambda j: j["name"]):
        reason = None
        agent = agents.get(job["agent_id"])
        if not job.get("cron_expr"):
            reason = "a one-shot (at) job"
        elif agent is None:
            reason = f"agent {job['agent_id']!r} is not registered"
        elif not agent.get("command"):
            reason = f"agent {job['agent_id']!r} is a model agent, not a command"
        elif (job.get("heartbeat") or {}).get("enabled"):
            reason = "a heartbeat job (evaluate-act-sleep loop)"
        elif job.get("input"):
            reason = "it has input text"
        elif (job.get("policy") or {}).get("require_approval"):
            reason = "it requires approval"
        elif (job.get("policy") or {}).get("require_agent_pin"):
            reason = "it requires AgentPin verification"
        else:
            reason = _exportable_expr(job["cron_expr"])
        if reason:
            left_out.append(f"# {job['name']}: left out: {reason}")
            continue
        assert agent is not None
        entry = [f"# job {job['name']} (agent {agent['name']})"]  # `cron import` keeps these names
        lost = _not_carried(job)
        if lost:
            entry.append(f"# not carried over: {', '.join(lost)}")
        text = f"{job['cron_expr']} {_command_line(agent)}"
        if job.get("status", "active") != JobStatus.active:
            text = f"# ({job['status']}) {text}"
        entry.append(text)
        zone = job.get("timezone") or default_zone or "UTC"
        by_zone.setdefault(zone, []).append((_mailto(job), entry))
    mailto = '""'  # as written in the header
    for zone in sorted(by_zone):
        lines.append(f"CRON_TZ={zone}")
        for wanted, entry in by_zone[zone]:
            if wanted != mailto:
                lines.append(f"MAILTO={wanted}")
                mailto = wanted
            lines.extend(entry)
        lines.append("")
    if left_out:
        lines.append("# Jobs crontab cannot express:")
        lines.extend(left_out)
    return "\n".join(lines).rstrip("\n") + "\n"


def _mails(job: dict[str, Any]) -> bool:
    """Whether crontab's MAILTO says what the job's email delivery does (cron mails output: near enough)."""
    return ChannelName.email in (job.get("delivery") or []) and bool(job.get("email_recipients"))


def _mailto(job: dict[str, Any]) -> str:
    """The MAILTO value a job's line needs: its email recipients, or ``""`` (cron's "no mail")."""
    return shlex.quote(",".join(job["email_recipients"])) if _mails(job) else '""'


def _not_carried(job: dict[str, Any]) -> list[str]:
    lost = []
    delivery = [
        d
        for d in job.get("delivery") or []
        if d != ChannelName.log_file and not (d == ChannelName.email and _mails(job))
    ]
    if delivery:
        lost.append("delivery " + "/".join(delivery))
    policy = job.get("policy") or {}
    for key in ("max_runtime", "allowed_hours", "allowed_environments", "require_capabilities"):
        if policy.get(key):
            lost.append(f"policy.{key}")
    if job.get("jitter_seconds"):
        lost.append("jitter")
    if job.get("one_shot"):
        lost.append("one_shot")
    return lost
