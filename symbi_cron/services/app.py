"""The application context every use case receives: where things are, the settings, the store, the clock and
who is acting. Entry points (CLI, HTTP, daemon) build one; services never build their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ..clock import Clock, SystemClock
from ..paths import Paths, resolve
from ..store import Store, open_store


def current_user() -> str:
    """The name of the real user id running this process (the actor of CLI changes, the approver of CLI
    approvals). Never $USER or $LOGNAME: anyone can set those (``USER=alice symbi cron approve`` must not pass an
    ``approvers: [alice]`` policy)."""
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry (a container's): the number itself
        return str(uid)


@dataclass
class App:
    paths: Paths
    store: Store
    clock: Clock = field(default_factory=SystemClock)
    actor: str = field(default_factory=lambda: f"cli:{current_user()}")
    #: Called after a committed change so a running supervisor reloads (CLI: SIGHUP to the daemon).
    notify: Callable[[], None] = lambda: None
    _settings: object | None = None
    env: dict | None = None

    @property
    def settings(self):  # -> Settings; loaded on first use (start-up time)
        if self._settings is None:
            from ..config import load_settings

            self._settings = load_settings(self.paths.config_file, self.env)
        return self._settings

    @settings.setter
    def settings(self, value) -> None:
        self._settings = value

    @property
    def daemon_name(self) -> str:
        """The name of this home's daemon (``[daemon] name``, else host name + hash of the data directory): what
        runs started here carry, and what `daemon status --all` lists."""
        from ..processes import daemon_name

        return daemon_name(self.paths, self.settings.daemon.name)

    def changed(self) -> None:
        """Tell the supervisor the store changed, once the current transaction commits (and, on a shared
        PostgreSQL store, every daemon: a NOTIFY in the same transaction)."""
        announce = getattr(self.store, "notify_changed", None)
        if announce is not None:
            announce(self.actor)
        self.store.after_commit(self.notify)


def open_app(
    env: dict[str, str] | None = None, *, actor: str | None = None, notify: bool = True, paths: Paths | None = None
) -> App:
    """The App for this process's environment (``SYMBI_HOME`` or platformdirs), or for ``paths`` resolved earlier
    (a daemon after it changed directory: never resolved again)."""
    if paths is None:
        paths = resolve(env)
    store = open_store(paths, env)
    app = App(paths=paths, store=store, env=env)
    if actor:
        app.actor = actor
    if notify:
        from ..processes import signal_reload

        def reload_daemon() -> None:
            signal_reload(paths)

        app.notify = reload_daemon
    return app
