"""``symbi logs [--filter TEXT] [--level LEVEL] [--since WHEN] [--until WHEN] [--lines N] [--follow]``: read the
daemon's log (daemon.log). A daemon run by systemd logs to the journal instead: then this says which journalctl
command shows it."""

from __future__ import annotations

import sys
import time
from datetime import datetime

import click

LEVELS = ("debug", "info", "warning", "error")
_RANK = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
#: journalctl's --priority for each --level.
_JOURNAL_PRIORITY = {"debug": "debug", "info": "info", "warning": "warning", "error": "err"}


def _level_of(line: str) -> int | None:
    parts = line.split(" ", 3)
    return _RANK.get(parts[2]) if len(parts) > 2 else None


def _time_of(line: str) -> datetime | None:
    """The local time a record's first line starts with (``2026-11-27 12:00:00,123``); None for a continuation."""
    if len(line) < 19 or line[4] != "-" or line[10] != " ":
        return None
    try:
        return datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


@click.command("logs")
@click.option("--filter", "needle", metavar="TEXT", help="Only lines containing TEXT (e.g. scheduler, a job name).")
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="debug",
    show_default=True,
    help="Only lines at this level or above (start the daemon with SYMBI_LOG_LEVEL=DEBUG for debug).",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only lines from this time: 1h, 30min, '2 hours ago', today, YYYY-MM-DD or ISO 8601.",
)
@click.option("--until", metavar="WHEN", help="Only lines up to this time (same forms).")
@click.option("--lines", "-n", type=int, default=100, show_default=True, help="How many lines from the end.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing lines as they are written.")
def logs(needle: str | None, level: str, since: str | None, until: str | None, lines: int, follow: bool) -> None:
    """Show the daemon's log, filtered.

    A daemon run by systemd (`symbi cron daemon --foreground` in a unit) logs to the journal, not to
    daemon.log: then this prints the journalctl command that shows it, with the same filters.
    """
    from ..errors import NotFound
    from ..paths import resolve
    from ..timeutil import local_zone, parse_when

    paths = resolve()
    path = paths.daemon_log
    start = parse_when(since, field="since") if since else None
    end = parse_when(until, field="until", end_of_day=True) if until else None
    journal = journal_of_daemon(paths)
    if journal is None and not path.exists():
        journal = installed_unit()
    if journal is not None:
        click.echo(
            "the daemon logs to the systemd journal; see it with:\n  "
            + journalctl_command(
                journal, needle=needle, level=level, since=since, until=until, lines=lines, follow=follow
            ),
            err=True,
        )
        if not path.exists():
            return
        click.echo(f"(older lines, from {path}:)", err=True)
    zone = local_zone()
    start_local = start.astimezone(zone).replace(tzinfo=None) if start else None
    end_local = end.astimezone(zone).replace(tzinfo=None) if end else None
    minimum = _RANK[level.upper()]
    needle_low = needle.lower() if needle else None
    current = {"level": 20, "in_range": True}

    def keep(line: str) -> bool:
        lvl = _level_of(line)
        if lvl is not None:
            current["level"] = lvl  # continuation lines (tracebacks, stdout deliveries) follow their header
            when = _time_of(line)
            if when is not None:
                current["in_range"] = (start_local is None or when >= start_local) and (
                    end_local is None or when <= end_local
                )
        if current["level"] < minimum or not current["in_range"]:
            return False
        return needle_low is None or needle_low in line.lower()

    try:
        fh = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise NotFound(f"no daemon log at {path} (has the daemon run? `symbi cron daemon start`)") from None
    with fh:
        selected = [line for line in fh if keep(line)]
        if start is not None or lines <= 0 or len(selected) < lines:
            # The daemon rotates its log ([retention]): read its copies first, then this file again, in order.
            current.update(level=20, in_range=True)
            selected = _rotated(path, keep)
            fh.seek(0)
            selected += [line for line in fh if keep(line)]
        sys.stdout.writelines(selected[-lines:] if lines > 0 else selected)
        sys.stdout.flush()
        while follow:
            line = fh.readline()
            if not line:
                time.sleep(0.2)
                continue
            if keep(line):
                sys.stdout.write(line)
                sys.stdout.flush()


def _rotated(path, keep) -> list[str]:
    """The kept lines of the log's rotated copies (daemon.log.N ... daemon.log.1), oldest first."""
    from ..logfiles import backups_of

    out: list[str] = []
    for copy in reversed(backups_of(path)):
        try:
            with open(copy, encoding="utf-8", errors="replace") as fh:
                out.extend(line for line in fh if keep(line))
        except OSError:
            continue
    return out


# -- the journal ---------------------------------------------------------------------------------------------
UNIT = "symbi-cron.service"


def journal_of_daemon(paths) -> tuple[str, bool] | None:
    """``(unit, user_unit)`` when this home's running daemon writes its log to the systemd journal: its stderr
    is the stream its ``JOURNAL_STREAM`` names (read from /proc, as the same user). None otherwise."""
    import os

    from ..processes import running_pid

    pid = running_pid(paths)
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = dict(item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item)
        dev, ino = (int(x) for x in env[b"JOURNAL_STREAM"].split(b":"))
        st = os.stat(f"/proc/{pid}/fd/2")
    except (OSError, KeyError, ValueError):
        return None
    if (st.st_dev, st.st_ino) != (dev, ino):
        return None
    return _unit_of(pid)


def _unit_of(pid: int) -> tuple[str, bool]:
    """The systemd unit a process runs in, from its cgroup (``.../user@1000.service/app.slice/x.service``), and
    whether it is a user unit; the packaged user unit when the cgroup does not say."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as fh:
            path = fh.read().strip().splitlines()[-1].split(":", 2)[-1]
    except (OSError, IndexError):
        return UNIT, True
    parts = [p for p in path.split("/") if p]
    units = [p for p in parts if p.endswith(".service")]
    user = any(p.startswith("user@") for p in parts)
    if units and not (user and units[-1].startswith("user@")):
        return units[-1], user
    return UNIT, True


def installed_unit() -> tuple[str, bool] | None:
    """The packaged unit, when it is installed for this user (or for the system) though no daemon runs now."""
    from pathlib import Path

    config = Path.home() / ".config" / "systemd" / "user"
    if (config / UNIT).exists():
        return UNIT, True
    if Path("/etc/systemd/system", UNIT).exists():
        return UNIT, False
    return None


def journalctl_command(
    journal: tuple[str, bool],
    *,
    needle: str | None,
    level: str,
    since: str | None,
    until: str | None,
    lines: int,
    follow: bool,
) -> str:
    """The journalctl command with the same filters as the `symbi logs` options given."""
    import shlex

    unit, user = journal
    argv = ["journalctl"] + (["--user"] if user else []) + ["-u", unit]
    if since:
        argv += ["--since", _journal_time(since)]
    if until:
        argv += ["--until", _journal_time(until)]
    if level != "debug":
        argv += ["-p", _JOURNAL_PRIORITY[level]]
    if needle:
        argv += ["--grep", needle]
    argv += ["-n", str(lines)]
    if follow:
        argv.append("-f")
    return shlex.join(argv)


def _journal_time(text: str) -> str:
    """journalctl reads "-1h", "1 hour ago", "today", ISO dates; our bare "1h" means "-1h" there."""
    s = text.strip()
    return "-" + s if s[:1].isdigit() and not any(c in s for c in "-:") and "ago" not in s else s
