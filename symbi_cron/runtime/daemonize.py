"""Running the supervisor as a daemon (SPEC §12): start, stop, status, the pidfile and readiness.

python-daemon does the detaching; these are its pitfalls (measured on this machine) and what we do about them:

- Its default umask is 0 (files created 0666): we pass ``umask=0o077``.
- Its default working directory is ``/``: we pass the data directory.
- It closes every descriptor not in ``files_preserve``, so a log handler opened before the fork silently loses
  its output: we open the log *after* detaching and preserve only the readiness pipe.
- Its default signal map has no SIGHUP entry (an unhandled SIGHUP kills the process) and maps SIGTERM to an
  abrupt ``SystemExit``: we pass our own map and install our handlers (SIGHUP reload, SIGTERM drain).
- Its lockfile-based pidfile survives a SIGKILL, and a relaunch then returns 0 while the new daemon dies on the
  stale lock: we keep our own pidfile, held with ``flock`` for the daemon's life. The kernel drops the lock when
  the process dies however it dies, so "locked" means "running" and an unlocked pidfile is stale, whatever pid
  it names (pid reuse cannot fool it).

``start`` returns only when the child says it is ready (store opened and writable, interrupted runs recovered,
API bound, first tick done) through a pipe, or fails with the child's reason.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import signal
import sys
import time
from typing import Any

from ..errors import DaemonNotRunning, InvalidState, StoreLost, SymbiError
from ..paths import Paths, ensure_private_dir, pinned_env
from ..processes import daemon_state, pid_alive, pidfile_locked, read_pid, remove_stale
from ..vocab import DaemonStatus

READY_TIMEOUT_SECONDS = 30.0
#: The signal that stops the daemon at once and leaves the runs in flight running (``daemon restart``).
LEAVE_SIGNAL = signal.SIGUSR2
#: The daemon's exit status after LEAVE_SIGNAL (EX_TEMPFAIL): systemd restarts it (RestartForceExitStatus=75).
EXIT_LEFT_RUNNING = 75


# -- the pidfile ---------------------------------------------------------------------------------------------------
class PidFile:
    """A pidfile held with an exclusive ``flock`` while the daemon lives."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.path = paths.pidfile
        self.fd: int | None = None

    def acquire(self, wait: float = 1.0) -> None:
        """Lock and write our pid; InvalidState when another live daemon holds it."""
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
                # A probe (status, reload) may hold a shared lock for an instant: retry briefly.
                if time.monotonic() >= deadline:
                    os.close(fd)
                    pid = read_pid(self.paths)
                    raise InvalidState(
                        f"the daemon is already running (pid {pid})" if pid else "the daemon is already running"
                    ) from None
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(fd)
        self.fd = fd

    def release(self) -> None:
        """Remove the file (while still holding the lock) and unlock."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


# -- start -------------------------------------------------------------------------------------------------------
def start(
    paths: Paths,
    *,
    env: dict[str, str] | None = None,
    timeout: float = READY_TIMEOUT_SECONDS,
    notes: list[str] | None = None,
    warnings: list[str] | None = None,
) -> int:
    """Fork the daemon and return its pid once it is ready; SymbiError with its reason otherwise.

    Messages worth showing (a stale pidfile cleaned) are appended to ``notes``.
    """
    state = daemon_state(paths)
    if state.state == DaemonStatus.running:
        raise InvalidState(f"the daemon is already running (pid {state.pid})")
    # Everything the child will look for, made absolute and read here, before it changes directory: the daemon
    # opens the store this process read from the config, or refuses to start (never a private SQLite store in
    # place of a shared one). A config that does not read is an error here, naming the key.
    env = pinned_env(paths, os.environ if env is None else env)
    expected = expected_store(paths, env)
    note = remove_stale(paths, state)
    if note and notes is not None:
        notes.append(note)
    ensure_private_dir(paths.data_dir)
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: become the daemon; never return into the CLI
        code = 1
        try:
            os.close(r)
            code = run(paths, env=env, detach=True, ready_fd=w, expect_store=expected)
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        message = _read_ready(r, timeout)
    finally:
        os.close(r)
        try:
            os.waitpid(pid, 0)  # the intermediate process exits as soon as python-daemon has forked
        except ChildProcessError:
            pass
    if message is None:
        raise SymbiError(f"the daemon did not become ready within {timeout:g}s; see {paths.daemon_log}")
    if message.startswith("READY"):
        words = message.split(" ", 2)
        if len(words) > 2 and warnings is not None:
            warnings.append(words[2])  # the daemon schedules, but something (its API) is missing
        return int(words[1])
    if message.startswith("ERROR "):
        raise SymbiError(f"the daemon could not start: {message[6:]}")
    raise SymbiError(f"the daemon exited during start-up without saying why; see {paths.daemon_log}")


def _read_ready(fd: int, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return buf.decode("utf-8", "replace").strip() or "EOF"
        buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8", "replace")


def _tell(fd: int | None, text: str) -> None:
    if fd is None:
        return
    try:
        os.write(fd, (text.replace("\n", " ") + "\n").encode("utf-8"))
    except OSError:
        pass


def _setup_logging(paths: Paths, foreground: bool, env: dict[str, str]) -> Any:
    """Log to daemon.log (or stderr in the foreground); return the stream the stdout channel writes to."""
    level_name = env.get("SYMBI_LOG_LEVEL", "INFO").upper()
    level = getattr(logging, level_name, logging.INFO)
    root = logging.getLogger("symbi")
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    if foreground:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        out = sys.stdout
    else:
        from ..logfiles import RotatingLog

        # Rotated past [retention] daemon_log_max_bytes (set once the settings are read); anything written to
        # fd 2 (a crash's traceback) lands in the current log too.
        stream = RotatingLog(paths.daemon_log, redirect_stderr=True)
        handler = logging.StreamHandler(stream)
        out = stream
    from ..logformat import formatter_for

    handler.setFormatter(formatter_for(sys.stderr if foreground else out, env))  # journal priorities under systemd
    root.addHandler(handler)
    root.propagate = False
    from ..logsafe import QuotedOutput

    return QuotedOutput(out)  # the stdout channel's output, quoted: it shares the log (or the journal)


def expected_store(paths: Paths, env: dict[str, str]) -> str:
    """Where the daemon for ``paths`` keeps its store, as read now from ``env`` and the config file (the settings
    are loaded in full, so a config that does not read fails here): a ``postgresql://`` URL or ``sqlite:FILE``."""
    from ..config import load_settings
    from ..store.factory import store_url

    load_settings(paths.config_file, env)
    return store_url(paths, env) or f"sqlite:{paths.db}"


def _check_store(paths: Paths, env: dict[str, str], expected: str | None) -> None:
    """After daemonising: the store must be the one ``daemon start`` read before (a relative SYMBI_HOME read again
    in the daemon's directory once sent a PostgreSQL host to a private SQLite file, with "started" printed)."""
    if expected is None:
        return
    found = expected_store(paths, env)
    if found != expected:
        from ..store.postgres import redact_url

        raise SymbiError(
            f"after daemonising, the daemon read its store as {redact_url(found)} from {paths.config_file},"
            f" where `daemon start` read {redact_url(expected)}; not starting on another store than the one"
            " configured (check that the config file is readable and stays in place)"
        )


def run(
    paths: Paths,
    *,
    env: dict[str, str] | None = None,
    detach: bool,
    ready_fd: int | None = None,
    expect_store: str | None = None,
) -> int:
    """The daemon's body (detached, or in the foreground when ``detach`` is false); returns an exit code.
    ``paths`` are used as resolved by the caller, never resolved again; with ``expect_store`` (what ``start`` read
    before forking) the daemon refuses to open any other store."""
    env = pinned_env(paths, os.environ if env is None else env)
    if detach:
        import daemon  # python-daemon

        ctx = daemon.DaemonContext(
            working_directory=str(paths.data_dir),
            umask=0o077,
            detach_process=True,
            prevent_core=True,
            files_preserve=[ready_fd] if ready_fd is not None else [],
            signal_map={signal.SIGTSTP: None, signal.SIGTTIN: None, signal.SIGTTOU: None},
        )
        ctx.open()
    else:
        os.umask(0o077)
    out = _setup_logging(paths, not detach, env)
    log = logging.getLogger("symbi.daemon")
    # Handlers first: a SIGTERM or SIGHUP that comes during start-up is remembered, never fatal.
    holder: dict[str, Any] = {"sup": None, "stop": False, "reload": False, "leave": False}

    def on_stop(*_: Any) -> None:
        holder["stop"] = True
        if holder["sup"] is not None:
            holder["sup"].request_stop()

    def on_reload(*_: Any) -> None:
        holder["reload"] = True
        if holder["sup"] is not None:
            holder["sup"].request_reload()

    def on_leave(*_: Any) -> None:
        holder["leave"] = True
        if holder["sup"] is not None:
            holder["sup"].request_leave()

    def on_recorded(*_: Any) -> None:
        if holder["sup"] is not None:
            holder["sup"].owner_recorded()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    signal.signal(LEAVE_SIGNAL, on_leave)  # `daemon restart`, upgrades: exit now, the runs go on
    signal.signal(signal.SIGUSR1, on_recorded)  # a run owner recorded its outcome: a place freed
    pidfile = PidFile(paths)
    try:
        pidfile.acquire()
    except OSError as exc:
        _tell(ready_fd, f"ERROR cannot write the pidfile {paths.pidfile}: {exc.strerror or exc}")
        return 1
    except SymbiError as exc:
        _tell(ready_fd, f"ERROR {exc}")
        log.error("not starting: %s", exc)
        return 1
    api = None
    try:
        _check_store(paths, env, expect_store)
        sup, api = _prepare(paths, env, out, log, close_fds=(pidfile.fd, ready_fd))
    except SymbiError as exc:
        log.error("not starting: %s", exc)
        _tell(ready_fd, f"ERROR {exc}")
        pidfile.release()
        return 1
    except Exception as exc:  # a bug: say so, with the traceback in the log
        log.exception("not starting")
        _tell(ready_fd, f"ERROR internal error: {type(exc).__name__}: {exc}")
        pidfile.release()
        return 1
    holder["sup"] = sup
    retention = _housekeeping(sup, out)
    if holder["leave"]:
        sup.request_leave()
    if holder["stop"]:
        sup.request_stop()
    if holder["reload"]:
        sup.request_reload()
    log.info(
        "daemon ready (pid %d, %s, store %s%s)",
        os.getpid(),
        sup.daemon_id,
        sup.app.store.path,
        f", API {api.url}" if api is not None and getattr(api, "url", None) else "",
    )
    api_note = ""
    try:
        api_note = paths.api_unavailable_file.read_text(encoding="utf-8").strip()
    except OSError:
        pass
    _tell(ready_fd, f"READY {os.getpid()}" + (f" {api_note}" if api_note else ""))
    if ready_fd is not None:
        os.close(ready_fd)
    if not detach:
        print(
            f"symbi daemon running in the foreground (pid {os.getpid()}); Ctrl-C or SIGTERM stops it",
            file=sys.stderr,
            flush=True,
        )
    code = 0
    try:
        try:
            sup.serve()
        except StoreLost as exc:
            log.error("stopping: %s", exc)
            code = 1  # a service manager restarts the daemon, which then opens the store that is there
            sup.request_leave()
        if sup.leaving:
            log.info("stopping at once: %d run(s) in flight go on under their owners", sup.in_flight())
        else:
            log.info(
                "stopping: no new runs; waiting up to %gs for %d run(s) in flight",
                sup.app.settings.scheduler.shutdown_timeout_seconds,
                sup.in_flight(),
            )
        stopped = sup.drain()
        if stopped:
            log.warning("%d run(s) were stopped and recorded interrupted", stopped)
    finally:
        retention.stop()
        if api is not None:
            try:
                api.close()
            except Exception:
                log.exception("closing the API")
        paths.api_unavailable_file.unlink(missing_ok=True)
        paths.api_url_file.unlink(missing_ok=True)
        pidfile.release()
        log.info("daemon stopped")
    if code == 0 and holder["leave"]:
        return EXIT_LEFT_RUNNING
    return code


def _prepare(paths: Paths, env: dict[str, str], out: Any, log: logging.Logger, *, close_fds: tuple = ()):
    """Read the config, start the fork server, open and check the store, adopt and recover, bind the API, first
    tick: everything that must work before READY."""
    from ..services.app import open_app
    from .forkserver import ForkServer
    from .supervisor import Supervisor

    app = open_app(env, actor="daemon", notify=False, paths=paths)
    settings = app.settings  # ConfigError names the key
    # Before any connection or thread of ours exists: an owner is a fork of a process with neither.
    launcher = ForkServer(
        app.paths,
        env,
        settings,
        stdout=out,
        close_fds=tuple(fd for fd in close_fds if fd is not None),
        store=app.store,
    )
    try:
        app.store.migrate()
        # A real (idempotent) write: a read-only store fails here, before READY, not at the first run.
        app.store.check_writable()
        app.store.must_exist()  # deleted from now on, it is not created again under the daemon
        sup = Supervisor(app, stdout=out, launcher=launcher)
    except BaseException:
        launcher.close()
        raise
    api = None
    try:
        sup.recover()
        if sup.adopted:
            log.info("%d run(s) still running under their owners adopted", sup.adopted)
        app.paths.api_unavailable_file.unlink(missing_ok=True)
        app.paths.api_url_file.unlink(missing_ok=True)
        if settings.api.enabled:
            try:
                from ..http.server import start_api
            except ImportError:  # pragma: no cover - the API ships with the package
                log.warning("the HTTP API is not available in this build")
            else:
                try:
                    api = start_api(app, sup)
                    log.info("HTTP API on %s", api.url)
                    from ..paths import write_private

                    write_private(app.paths.api_url_file, f"{api.url}\n")  # symbi ui: the port really bound
                except SymbiError as exc:
                    if settings.api.required:
                        raise
                    # The schedule does not depend on the API's port (two users of one machine, a dev server on
                    # 8080): schedule without it, and say so wherever someone looks.
                    why = f"the HTTP API is unavailable: {exc}"
                    log.error("%s; scheduling goes on without it (api.required = true makes this fatal)", why)
                    from ..paths import write_private

                    write_private(app.paths.api_unavailable_file, why + "\n")
        sup.tick()
    except BaseException:
        if api is not None:
            api.close()
        sup.request_leave()
        sup.close()
        raise
    return sup, api


def _housekeeping(sup: Any, out: Any) -> Any:
    """The daemon log's rotation limits (kept up to date by reloads) and the retention thread (docs/operations.md,
    "Retention"); returns the thread's handle."""
    from ..logfiles import RotatingLog
    from ..services.retention import RetentionWorker

    log_stream = getattr(out, "stream", out)  # under QuotedOutput
    if isinstance(log_stream, RotatingLog):
        log_stream.apply_settings(None, sup.app.settings)
        sup.reload_appliers.append(log_stream.apply_settings)
    return RetentionWorker(sup.app).start()


# -- stop, reload ------------------------------------------------------------------------------------------------
def stop(paths: Paths, *, timeout: float, leave_running: bool = False) -> int:
    """Stop the daemon and wait until it is gone; returns its pid. SIGTERM drains the runs in flight (they finish,
    or are stopped after ``shutdown_timeout_seconds``); with ``leave_running`` the daemon exits at once and the
    runs go on under their owners, for the next daemon to adopt."""
    state = daemon_state(paths)
    if state.state != DaemonStatus.running or state.pid is None:
        note = remove_stale(paths, state)
        raise DaemonNotRunning("the daemon is not running" + (f" ({note})" if note else ""))
    pid = state.pid
    try:
        os.kill(pid, LEAVE_SIGNAL if leave_running else signal.SIGTERM)
    except ProcessLookupError:
        return pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pidfile_locked(paths) and not pid_alive(pid):
            return pid
        time.sleep(0.05)
    raise SymbiError(
        f"the daemon (pid {pid}) did not stop within {timeout:g}s; it may still be draining runs"
        f" (see {paths.daemon_log}); `kill -9 {pid}` forces it (its runs go on under their owners)"
    )


def reload(paths: Paths) -> int:
    """SIGHUP the daemon (reload the config and the store); returns its pid."""
    state = daemon_state(paths)
    if state.state != DaemonStatus.running or state.pid is None:
        raise DaemonNotRunning("the daemon is not running")
    os.kill(state.pid, signal.SIGHUP)
    return state.pid
