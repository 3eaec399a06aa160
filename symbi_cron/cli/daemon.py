"""``symbi cron daemon [start|stop|status|restart|reload] [--foreground]``: the supervisor process (SPEC §12)."""

from __future__ import annotations

import click

from ..vocab import DaemonStatus
from .common import emit_json, format_option

ACTIONS = ("start", "stop", "status", "restart", "reload")


@click.command("daemon")
@click.argument("action", type=click.Choice(ACTIONS), default="start", required=False)
@click.option("--foreground", is_flag=True, help="Run in this terminal (for systemd and containers); logs on stderr.")
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="stop/restart: seconds to wait for the daemon to exit (default: shutdown_timeout_seconds"
    " + kill_grace_seconds + 10).",
)
@click.option(
    "--leave-running",
    is_flag=True,
    help="stop: exit at once and leave the runs in flight running under their owners (the next daemon adopts"
    " them). restart does this unless --drain is given.",
)
@click.option("--drain", is_flag=True, help="restart: drain the runs in flight first, as stop does.")
@click.option(
    "--all",
    "all_daemons",
    is_flag=True,
    help="status: every live daemon of the store (several share a PostgreSQL store), with its name, host, pid,"
    " lease age, version and load.",
)
@format_option()
def daemon(
    action: str, foreground: bool, timeout: float | None, leave_running: bool, drain: bool, all_daemons: bool, fmt: str
) -> None:
    """Start, stop, inspect or reload the scheduler daemon.

    \b
      symbi cron daemon              start it in the background; returns once it is ready
      symbi cron daemon --foreground run it here (systemd: Type=simple)
      symbi cron daemon status       running (pid, uptime, name, health), stopped, or a stale pidfile
      symbi cron daemon status --all every live daemon of the store: name, host, lease, version, load
      symbi cron daemon stop         SIGTERM: drain in-flight runs, then exit
      symbi cron daemon restart      exit at once, start again: runs in flight go on and are adopted
      symbi cron daemon reload       SIGHUP: re-read config.toml and the store
    """
    import os

    from ..errors import InvalidInput
    from ..paths import resolve
    from ..runtime import daemonize

    paths = resolve()
    if foreground and action not in ("start", "restart"):
        raise InvalidInput("--foreground goes with start (or restart)")
    if leave_running and action != "stop":
        raise InvalidInput("--leave-running goes with stop (restart leaves runs running unless --drain)")
    if drain and action != "restart":
        raise InvalidInput("--drain goes with restart (stop always drains unless --leave-running)")
    if all_daemons and action != "status":
        raise InvalidInput("--all goes with status")
    if action == "status" and all_daemons:
        _status_all(fmt)
        return
    if action == "status":
        from ..processes import daemon_state

        state = daemon_state(paths)
        health, name = _health() if state.state == DaemonStatus.running else (None, None)
        if fmt == "json":
            emit_json({**state.to_dict(), **({"name": name} if name else {}), **({"health": health} if health else {})})
        elif state.state == DaemonStatus.running:
            up = state.uptime_seconds()
            verdict = f": {health['status']}" if health else ""
            named = f", name {name}" if name else ""
            click.echo(f"running (pid {state.pid}, up {_duration(up) if up is not None else '?'}{named}){verdict}")
            for reason in (health or {}).get("reasons", []):
                click.echo(f"  - {reason['message']}")
        elif state.state == DaemonStatus.stale:
            click.echo(
                f"stopped, with a stale pidfile {paths.pidfile} (pid {state.pid} is not running);"
                " `symbi cron daemon start` cleans it"
            )
        else:
            click.echo("stopped")
        if state.state != DaemonStatus.running:
            from ..errors import EXIT_DAEMON_NOT_RUNNING

            raise click.exceptions.Exit(EXIT_DAEMON_NOT_RUNNING)  # scripts: `status && ...`
        return
    if action == "reload":
        pid = daemonize.reload(paths)
        click.echo(f"reload signalled (pid {pid})")
        return
    if action in ("stop", "restart"):
        wait = timeout if timeout is not None else _stop_timeout(paths)
        try:
            leave = leave_running if action == "stop" else not drain
            pid = daemonize.stop(paths, timeout=wait, leave_running=leave)
            click.echo(f"stopped (pid {pid})", err=action == "restart")
        except Exception as exc:
            from ..errors import DaemonNotRunning

            if action == "stop" or not isinstance(exc, DaemonNotRunning):
                raise
        if action == "stop":
            return
    if foreground:
        code = daemonize.run(paths, detach=False)
        raise click.exceptions.Exit(code)
    notes: list[str] = []
    warnings: list[str] = []
    pid = daemonize.start(paths, env=dict(os.environ), notes=notes, warnings=warnings)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"started (pid {pid}); log: {paths.daemon_log}")


def _status_all(fmt: str) -> None:
    """`daemon status --all`: every live daemon of the store; exit 5 when there is none."""
    from ..errors import EXIT_DAEMON_NOT_RUNNING
    from ..services.app import open_app
    from ..services.placement import live_daemons
    from .common import render_table

    rows = live_daemons(open_app(notify=False))
    if fmt == "json":
        emit_json(rows)
    else:

        def lease(r: dict) -> str:
            if r["lease_age_seconds"] is None:
                return "-"
            return f"{r['lease_age_seconds']:.0f}s ago"

        render_table(
            rows,
            [
                ("NAME", lambda r: r["name"] + (" *" if r["this_home"] else "")),
                ("HOST", "host"),
                ("PID", "pid"),
                ("UP", lambda r: _duration(r["uptime_seconds"]) if r["uptime_seconds"] is not None else "-"),
                ("LEASE RENEWED", lease),
                ("VERSION", lambda r: r["version"] or "-"),
                ("RUNNING", "running"),
            ],
            empty="no daemon is running on this store",
        )
    if not rows:
        raise click.exceptions.Exit(EXIT_DAEMON_NOT_RUNNING)


def _health() -> tuple[dict, str | None]:
    """The running daemon's health (services/health.daemon_health: healthy, or degraded with its reasons) and its
    name (from its lease on a shared store, else as configured)."""
    from ..errors import SymbiError
    from ..services.app import open_app
    from ..services.health import daemon_health
    from ..services.placement import live_daemons

    try:
        app = open_app(notify=False)
        health = daemon_health(app)
    except SymbiError as exc:  # a broken config or store: say so rather than fail the status
        return {"status": "unknown", "reasons": [{"code": "error", "message": str(exc)}], "source": "none"}, None
    try:
        mine = [d["name"] for d in live_daemons(app) if d["this_home"] and d["name"]]
        return health, mine[0] if mine else app.daemon_name
    except SymbiError:
        return health, app.daemon_name


def _stop_timeout(paths) -> float:
    from ..config import load_settings

    try:
        s = load_settings(paths.config_file).scheduler
        return float(s.shutdown_timeout_seconds) + float(s.kill_grace_seconds) + 10.0
    except Exception:
        return 60.0


def _duration(seconds: int) -> str:
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    if d:
        return f"{d}d{h}h{m:02d}m"
    if h:
        return f"{h}h{m:02d}m"
    if m:
        return f"{m}m{s:02d}s"
    return f"{s}s"
