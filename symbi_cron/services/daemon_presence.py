"""Whether a scheduler daemon serves this store, so that commands can say when none does (as systemctl warns):
a job added, resumed or run while nothing schedules it would otherwise wait in silence.

Light on purpose (``cron list`` and ``cron status`` call it): the pidfile's lock, and on a shared PostgreSQL store
the daemons' leases.
"""

from __future__ import annotations

from .app import App


def daemon_serving(app: App) -> bool:
    """True when a daemon runs for this SYMBI_HOME (its pidfile is locked), or, on a shared store, when any
    daemon holds a live lease on it (it may run on another machine)."""
    from ..processes import running_pid

    if running_pid(app.paths) is not None:
        return True
    if getattr(app.store, "dialect", "sqlite") != "postgresql":
        return False
    from ..errors import SymbiError
    from ..store.daemons import count_live
    from ..timeutil import to_ms

    try:
        with app.store.read() as conn:
            return count_live(conn, to_ms(app.clock.now())) > 0
    except SymbiError:
        return False


def no_daemon_warning(app: App) -> str | None:
    """The one line to print when no daemon serves the store (None when one does)."""
    if daemon_serving(app):
        return None
    return "no daemon is running; jobs will not run (symbi cron daemon start)"
