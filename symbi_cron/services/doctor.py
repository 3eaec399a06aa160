"""``symbi doctor``: check the installation end to end and say, one line each, what is wrong (docs/operations.md,
"symbi doctor").

Each check returns the problems it found (an empty list when all is well):

- ``config``: config.toml parses and validates, and every ``${VAR}`` it references (and every one in the agents'
  ``env`` and the jobs' webhook settings) is set in this environment;
- ``store``: the store opens, passes SQLite's integrity and foreign-key checks (read-only: nothing is written
  before they pass), has this symbi's schema, and its audit chain verifies;
- ``daemon``: the daemon runs, the pid in its pidfile is the process holding the pidfile's lock, and its health is
  not degraded;
- ``port``: the API's port is free (daemon stopped) or served by our daemon (daemon running);
- ``zones``: the time zone database is there, and the default zone and every job's zone load;
- ``disk``: the data directory's file system has space and inodes left;
- ``files``: the data and config directories are 0700 and the store, key, config, log and pidfile are not
  readable by group or others, and belong to this user.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import net
from ..errors import SymbiError
from ..paths import Paths
from ..vocab import DaemonStatus

#: Below this much free space (or this share of the file system) the disk check complains.
MIN_FREE_BYTES = 100 * 1024 * 1024
MIN_FREE_SHARE = 0.02
MIN_FREE_INODES = 10_000


class Doctor:
    """Runs the checks for one installation (``paths``, ``env``)."""

    def __init__(self, paths: Paths, env: dict[str, str] | None = None) -> None:
        self.paths = paths
        self.env = dict(os.environ if env is None else env)
        self.settings: Any = None
        self.app: Any = None
        self.daemon: Any = None

    def checks(self) -> list[tuple[str, Callable[[], list[str]]]]:
        return [
            ("config", self.check_config),
            ("store", self.check_store),
            ("daemon", self.check_daemon),
            ("port", self.check_port),
            ("zones", self.check_zones),
            ("disk", self.check_disk),
            ("files", self.check_files),
        ]

    def run(self) -> list[dict[str, Any]]:
        """Every check in order: ``[{"check", "ok", "problems"}]``. A check that crashes reports that."""
        out = []
        for name, check in self.checks():
            try:
                problems = check()
            except SymbiError as exc:
                problems = [str(exc)]
            except Exception as exc:  # a check must never hide the others
                problems = [f"the check failed: {type(exc).__name__}: {exc}"]
            out.append({"check": name, "ok": not problems, "problems": problems})
        return out

    # -- config ----------------------------------------------------------------------------------------------------
    def check_config(self) -> list[str]:
        from ..config import _read_toml, load_settings

        problems: list[str] = []
        try:
            self.settings = load_settings(self.paths.config_file, self.env)
        except SymbiError as exc:
            problems.append(str(exc))
            try:
                data = _read_toml(self.paths.config_file)
            except SymbiError:
                return problems
        else:
            data = _read_toml(self.paths.config_file)
        for key, var in _refs(data):
            if var not in self.env:
                problems.append(f"{self.paths.config_file}: {key} references ${{{var}}}, which is not set")
        return problems

    # -- store -----------------------------------------------------------------------------------------------------
    def check_store(self) -> list[str]:
        from ..services.app import App
        from ..store import open_store
        from ..store.migrations import LATEST_VERSION

        problems: list[str] = []
        store = open_store(self.paths, self.env)
        if getattr(store, "dialect", "sqlite") == "sqlite":
            from ..store.db import inspect_file

            version, found = inspect_file(store.path)
            if found:
                return [f"the store {store.path} is damaged: {p}" for p in found] + [
                    "restore it from a backup (docs/service.md)"
                ]
            if version is not None and version > LATEST_VERSION:
                return [
                    f"the store {store.path} has schema version {version}, newer than this symbi ({LATEST_VERSION})"
                ]
        self.app = App(paths=self.paths, store=store, env=self.env, actor="doctor")
        if self.settings is not None:
            self.app.settings = self.settings
        version = store.schema_version()  # opens (and migrates, as any command does) the store
        if version != LATEST_VERSION:
            problems.append(f"the store {store.path} is at schema version {version}, expected {LATEST_VERSION}")
        from .audit import verify_chain

        chain = verify_chain(self.app)
        for p in chain["problems"][:5]:
            problems.append(f"audit log: {p['message']} (symbi audit verify)")
        problems += self._secret_refs(store)
        return problems

    def _secret_refs(self, store: Any) -> list[str]:
        """Unset ``${VAR}`` in the agents' env and the jobs' webhook URL and headers."""
        import json

        from ..envref import env_refs
        from ..store import agents as agent_rows
        from ..store import jobs as job_rows

        with store.read() as conn:
            agents, jobs = agent_rows.spec_texts(conn), job_rows.spec_texts(conn)
        out = []
        for name, spec in agents:
            env = (json.loads(spec) or {}).get("env") or {}
            for key, value in env.items():
                for var in env_refs(value) if isinstance(value, str) else ():
                    if var not in self.env:
                        out.append(f"agent {name}: env {key} references ${{{var}}}, which is not set here")
        for name, spec in jobs:
            body = json.loads(spec) or {}
            values = {"webhook_url": body.get("webhook_url")}
            values.update({f"webhook_headers.{k}": v for k, v in (body.get("webhook_headers") or {}).items()})
            for key, value in values.items():
                for var in env_refs(value) if isinstance(value, str) else ():
                    if var not in self.env:
                        out.append(f"job {name}: {key} references ${{{var}}}, which is not set here")
        return out

    # -- daemon ----------------------------------------------------------------------------------------------------
    def check_daemon(self) -> list[str]:
        from ..processes import daemon_state

        state = daemon_state(self.paths)
        self.daemon = state
        if state.state == DaemonStatus.stopped:
            return ["the daemon is not running: no job runs (symbi cron daemon start)"]
        if state.state == DaemonStatus.stale:
            return [
                f"the daemon is not running, and its pidfile {self.paths.pidfile} is stale (pid {state.pid}):"
                " `symbi cron daemon start` cleans it"
            ]
        problems = []
        holder = lock_holder(self.paths.pidfile)
        if holder is not None and holder != state.pid:
            problems.append(
                f"the pidfile {self.paths.pidfile} says pid {state.pid}, but pid {holder} holds its lock:"
                " signals would go to the wrong process (restart the daemon)"
            )
        if self.app is not None and self.settings is not None:
            from .health import daemon_health

            health = daemon_health(self.app)
            problems += [f"{health['status']}: {r['message']}" for r in health["reasons"]]
        return problems

    # -- port ------------------------------------------------------------------------------------------------------
    def check_port(self) -> list[str]:
        if self.settings is None or not self.settings.api.enabled or not self.settings.api.port:
            return []
        import errno
        import socket

        bind, port = self.settings.api.bind, int(self.settings.api.port)
        running = self.daemon is not None and self.daemon.state == DaemonStatus.running
        if running:
            server = probe_server(bind, port)
            if server is None:
                return [f"the daemon runs but nothing answers on {bind}:{port} (api.port): is the API enabled there?"]
            if server != "symbi-cron":
                return [f"port {port} on {bind} is answered by another program ({server}), not the daemon"]
            return []
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((bind, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return [
                        f"port {port} on {bind} is in use by another program: the daemon could not start (api.port)"
                    ]
                return [f"cannot listen on {bind}:{port}: {exc.strerror or exc} (api.bind, api.port)"]
        return []

    # -- zones -----------------------------------------------------------------------------------------------------
    def check_zones(self) -> list[str]:
        import zoneinfo

        from ..timeutil import load_zone, local_zone_name

        problems = []
        if not zoneinfo.available_timezones():
            return ["no time zone database: install tzdata (apt-get install tzdata, or pip install tzdata)"]
        for probe in ("UTC", "Europe/Madrid", "America/New_York"):
            try:
                load_zone(probe)
            except SymbiError:
                problems.append(f"the time zone database lacks {probe}: reinstall tzdata")
        names = {local_zone_name()}
        if self.settings is not None and self.settings.scheduler.default_timezone:
            names.add(self.settings.scheduler.default_timezone)
        for name in sorted(names):
            try:
                load_zone(name)
            except SymbiError:
                problems.append(f"time zone {name!r} (default or local zone) is unknown to the zone database")
        if self.app is not None:
            import json

            from ..store import jobs as job_rows

            with self.app.store.read() as conn:
                specs = job_rows.spec_texts(conn)
            for job, spec in specs:
                zone = (json.loads(spec) or {}).get("timezone")
                if zone:
                    try:
                        load_zone(zone)
                    except SymbiError:
                        problems.append(f"job {job}: time zone {zone!r} is unknown to the zone database")
        return problems

    # -- disk ------------------------------------------------------------------------------------------------------
    def check_disk(self) -> list[str]:
        where = self.paths.data_dir if self.paths.data_dir.exists() else self.paths.data_dir.parent
        st = os.statvfs(where)
        problems = []
        free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
        if free < MIN_FREE_BYTES or (total and free / total < MIN_FREE_SHARE):
            problems.append(
                f"{where}: only {_size(free)} free of {_size(total)}: runs and their logs will fail to be written"
                " (free some space, or enable [retention])"
            )
        if st.f_files and (st.f_favail < MIN_FREE_INODES or st.f_favail / st.f_files < MIN_FREE_SHARE):
            problems.append(
                f"{where}: only {st.f_favail:,} inodes left: every run writes a log file (enable [retention])"
            )
        return problems

    # -- files -----------------------------------------------------------------------------------------------------
    def check_files(self) -> list[str]:
        """Data and secrets 0600 (the store, its WAL and lock, the key, logs, the pidfile); config.toml writable only
        by its owner, and not readable by others while it holds a secret written literally; directories writable
        only by their owner; everything owned by this user."""
        p = self.paths
        uid = os.getuid()
        problems = []
        private = [p.db, p.db.with_name(p.db.name + "-wal"), p.lock, p.api_key_file, p.pidfile]
        private += sorted(p.data_dir.glob("daemon.log*")) if p.data_dir.exists() else []
        dirs = [p.data_dir, p.config_dir, p.logs_dir, p.runs_log_dir, p.jobs_log_dir, p.contexts_dir]
        for path in dict.fromkeys([*dirs, *private, p.config_file]):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            except OSError as exc:
                problems.append(f"{path}: cannot be read ({exc.strerror})")
                continue
            if st.st_uid != uid:
                problems.append(f"{path} belongs to uid {st.st_uid}, not to this user ({uid})")
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                if mode & 0o022:
                    problems.append(f"{path} is mode {mode:04o}: others can change what is in it (chmod 700 {path})")
            elif path == p.config_file:
                if mode & 0o022:
                    problems.append(f"{path} is mode {mode:04o}: others can change it (chmod 600 {path})")
                elif mode & 0o044 and self._literal_secrets():
                    problems.append(
                        f"{path} is mode {mode:04o} and holds {', '.join(self._literal_secrets())} written"
                        f" literally: readable by others (chmod 600 {path}, or use ${{VAR}} references)"
                    )
            elif mode & 0o077:
                problems.append(f"{path} is mode {mode:04o}: readable by others (chmod 600 {path})")
        return problems

    def _literal_secrets(self) -> list[str]:
        """The secret keys config.toml sets to a literal value (not a ``${VAR}`` reference)."""
        from ..config import SECRET_KEYS, _read_toml
        from ..envref import has_env_ref

        try:
            flat = dict(_flat_toml(_read_toml(self.paths.config_file)))
        except SymbiError:
            return []
        return [k for k in sorted(SECRET_KEYS) if isinstance(flat.get(k), str) and not has_env_ref(flat[k])]


def _flat_toml(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _flat_toml(v, f"{prefix}{k}.")
    else:
        out.append((prefix.rstrip("."), data))
    return out


def _refs(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, variable) for every ``${VAR}`` in a parsed TOML document."""
    from ..envref import env_refs

    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _refs(v, f"{prefix}{k}.")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _refs(v, f"{prefix}{i}.")
    elif isinstance(data, str):
        out += [(prefix.rstrip("."), var) for var in env_refs(data)]
    return out


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def lock_holder(path: Path) -> int | None:
    """The pid holding a ``flock`` on ``path`` according to /proc/locks (Linux), or None when unknown."""
    try:
        st = path.stat()
        with open("/proc/locks", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    wanted = f":{st.st_ino}"
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].endswith(wanted):
            if parts[5].rsplit(":", 1)[0] == dev:
                try:
                    return int(parts[4])
                except ValueError:
                    return None
    return None


def probe_server(bind: str, port: int, timeout: float = 2.0) -> str | None:
    """The ``Server`` header answering ``GET /health`` on bind:port (``"?"`` when it answers without one), or
    None when nothing answers. Never through a proxy: it asks this machine."""
    try:
        answer = net.request("GET", net.local_url(bind, port, "/health"), timeout=timeout, direct=True)
    except net.NetError:
        return None
    return answer.headers.get("Server") or "?"
