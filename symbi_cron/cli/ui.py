"""``symbi ui``: a login link for the running daemon's web dashboard (docs/dashboard.md)."""

from __future__ import annotations

import click

from ..vocab import DaemonStatus
from .common import emit_json, format_option


@click.command("ui")
@click.option("--open", "open_browser", is_flag=True, help="Open the link in the default web browser too.")
@click.option(
    "--logout-all",
    is_flag=True,
    help="End every dashboard session and unused login link instead (works with the daemon stopped too).",
)
@format_option(("text", "json"), default="text")
def ui(open_browser: bool, logout_all: bool, fmt: str) -> None:
    """Print a login link for the web dashboard the daemon serves beside its API.

    The link holds a one-time token in its fragment (after #), valid for dashboard.login_link_minutes; the
    page trades it for a session cookie (HttpOnly, SameSite=Strict) that lasts dashboard.session_hours. You
    act in the dashboard as the user running this command (the audit log's actor ui:NAME). The API key is never
    sent to the browser. Exit 5 when the daemon is not running, 4 when the dashboard or the API is disabled.
    """
    from ..errors import DaemonNotRunning, InvalidState
    from ..processes import daemon_state
    from ..services.app import current_user
    from ..services.dashboard_sessions import end_all, issue_login
    from .common import get_app

    app = get_app()
    if logout_all:
        ended = end_all(app)
        if fmt == "json":
            emit_json(ended)
        else:
            click.echo(
                f"ended {ended['sessions']} dashboard session(s) and {ended['login_links']} unused login link(s)"
            )
        return
    settings = app.settings
    if not settings.dashboard.enabled:
        raise InvalidState("the dashboard is disabled (dashboard.enabled = false in config.toml)")
    if not settings.api.enabled:
        raise InvalidState("the API is disabled (api.enabled = false): the dashboard is served beside it")
    if daemon_state(app.paths).state != DaemonStatus.running:
        raise DaemonNotRunning("the daemon is not running: start it with `symbi cron daemon start`")
    base = _served_at(app)
    login = issue_login(app, current_user())
    url = f"{base}/ui/#login={login['token']}"
    if fmt == "json":
        emit_json({"url": url, "identity": login["identity"], "expires_at": login["expires_at"].isoformat()})
    else:
        minutes = settings.dashboard.login_link_minutes
        click.echo(url)
        click.echo(
            f"(works once, within {minutes:g} minutes; you act as {login['identity']})",
            err=True,
        )
    if open_browser:
        import webbrowser

        if not webbrowser.open(_login_page(app, url)):
            click.echo("warning: no web browser could be opened here; open the link above yourself", err=True)


def _served_at(app) -> str:
    """Where the daemon's API listens: what it wrote once bound (a port 0 in config.toml is a real port there),
    else the configured address."""
    from ..errors import InvalidState

    try:
        unavailable = app.paths.api_unavailable_file.read_text(encoding="utf-8").strip()
    except OSError:
        unavailable = ""
    if unavailable:
        raise InvalidState(f"the daemon runs without its API, so without the dashboard: {unavailable}")
    try:
        written = app.paths.api_url_file.read_text(encoding="utf-8").strip()
    except OSError:
        written = ""
    if written.startswith("http://"):
        base = written
    else:
        api = app.settings.api
        base = f"http://{f'[{api.bind}]' if ':' in api.bind else api.bind}:{api.port}"
    # A wildcard bind is reached on this machine through the loopback address.
    return base.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")


def _login_page(app, url: str) -> str:
    """A file:// address of a private page (0600, in the data directory) that sends the browser on to ``url``.

    The browser gets this rather than ``url``: a command line is readable by every user of the machine (ps,
    /proc/PID/cmdline), and whoever trades the link's token first gets the session. As Jupyter does."""
    import html

    from ..paths import write_private

    page = app.paths.data_dir / "ui-login.html"
    target = html.escape(url, quote=True)
    write_private(
        page,
        '<!doctype html>\n<meta charset="utf-8">\n<meta name="referrer" content="no-referrer">\n'
        f'<meta http-equiv="refresh" content="0;url={target}">\n<title>symbi cron</title>\n'
        f'<p><a href="{target}">Open the symbi cron dashboard</a></p>\n',
    )
    return page.as_uri()
