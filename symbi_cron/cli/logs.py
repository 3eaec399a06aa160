"""``symbi logs [--filter TEXT] [--level LEVEL] [--lines N] [--follow]``: read the daemon's log (daemon.log)."""

from __future__ import annotations

import sys
import time

import click

LEVELS = ("debug", "info", "warning", "error")
_RANK = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def _level_of(line: str) -> int | None:
    parts = line.split(" ", 3)
    return _RANK.get(parts[2]) if len(parts) > 2 else None


@click.command("logs")
@click.option("--filter", "needle", metavar="TEXT", help="Only lines containing TEXT (e.g. scheduler, a job name).")
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="debug",
    show_default=True,
    help="Only lines at this level or above (start the daemon with SYMBI_LOG_LEVEL=DEBUG for debug).",
)
@click.option("--lines", "-n", type=int, default=100, show_default=True, help="How many lines from the end.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing lines as they are written.")
def logs(needle: str | None, level: str, lines: int, follow: bool) -> None:
    """Show the daemon's log, filtered."""
    from ..errors import NotFound
    from ..paths import resolve

    path = resolve().daemon_log
    minimum = _RANK[level.upper()]
    needle_low = needle.lower() if needle else None
    current = {"level": 20}

    def keep(line: str) -> bool:
        lvl = _level_of(line)
        if lvl is not None:
            current["level"] = lvl  # continuation lines (tracebacks, stdout deliveries) follow their header
        if current["level"] < minimum:
            return False
        return needle_low is None or needle_low in line.lower()

    try:
        fh = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise NotFound(f"no daemon log at {path} (has the daemon run? `symbi cron daemon start`)") from None
    with fh:
        selected = [line for line in fh if keep(line)]
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
