"""The subprocess protocol (SPEC §6): run one agent process once and report what happened.

The agent runs without a shell (``shlex.split``) unless it asks for one, in its own session and process group (so a
timeout or a shutdown can stop everything it started), with the run's context directory as its working directory
(the agent's ``workdir`` when it names one), the input text on stdin and, like cron, a minimal environment: a few
variables of the supervisor's (:data:`BASE_ENV`), the agent's own ``env`` and the ``SYMBI_*`` variables
(:func:`agent_env`). stdout is the output: all of it goes to the run's log file (0600), the first ``output_cap``
bytes are kept for the store and the last few KiB for the summary and the heartbeat's ``sleep`` check. stderr goes
to the run's log, each line marked ``[stderr]``. What the agent took from ``${VAR}`` references is masked in all of
it, summary included.

One thread does everything: a ``selectors`` loop over the agent's pipes (and its pidfd, where Linux has one) that
also enforces the deadline, the cancellation and the kill grace. A run costs the agent's process and nothing else.

Nothing here touches the store: the caller records the :class:`ExecResult`.
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..vocab import RunStatus

#: How much of the output's end is kept in memory (summary, ``sleep`` detection).
TAIL_BYTES = 16_384
#: Characters of the output's tail used as the summary when the agent writes none.
SUMMARY_CHARS = 2_000
#: After the agent exits, how long its pipes may stay open (a background child holding them) before the group
#: is killed so the run can finish.
PIPE_LINGER_SECONDS = 2.0
#: How often the loop looks at the cancel event when nothing else happens.
CANCEL_POLL_SECONDS = 0.2
#: Environment variables of the supervisor that an agent never inherits, even with ``inherit_env``.
PRIVATE_ENV = ("SYMBI_API_KEY", "SYMBI_SLACK_TOKEN", "SYMBI_WEBHOOK_AUTH_HEADER", "SYMBI_SLACK_WEBHOOK_URL")
#: What an agent gets of the supervisor's environment, like cron gives a job (plus every ``LC_*``).
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR")
#: PATH when the supervisor has none (cron's, with /usr/local/bin first).
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class CancelFlag(Protocol):
    """What stops an agent early: a ``threading.Event`` or anything with ``is_set`` (a signal handler's flag)."""

    def is_set(self) -> bool: ...


class AgentError(Exception):
    """The agent cannot be started (bad command, missing executable, unsupported kind)."""


class NotStarted(Exception):
    """A prepared run that must not start after all (raised by :attr:`ExecRequest.ready`): its job was paused
    before its start time (the run is ``cancelled``: ``requeue`` False), or the owner was told to stop before it
    (the run goes back to the queue, unstarted, for the next daemon: ``requeue`` True)."""

    def __init__(self, reason: str, *, requeue: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.requeue = requeue


@dataclass
class ExecRequest:
    """Everything one execution needs."""

    agent: Mapping[str, Any]
    input_text: str
    cwd: Path
    env: dict[str, str]
    log_path: Path
    output_cap: int = 65_536
    #: Absolute monotonic deadline (None: no limit) and the limit in seconds (for the message).
    deadline: float | None = None
    max_runtime: float | None = None
    kill_grace: float = 5.0
    #: Optional tee of stdout (``symbi run`` and foreground ``--wait`` stream to the terminal).
    echo: TextIO | None = None
    #: Optional tee of stderr (``symbi run`` shows it on the terminal).
    echo_stderr: TextIO | None = None
    #: Set from another thread (or a signal handler) to stop the agent early (shutdown); the result is
    #: ``interrupted``.
    cancel: threading.Event | CancelFlag | None = None
    #: Header line written to the run log before the agent's output (e.g. an iteration marker).
    log_header: str | None = None
    #: The supervisor's whole environment: ``${VAR}`` references are expanded from it, and a model agent's
    #: runner reads its configuration and API key with it (never handed to the agent itself). None: os.environ.
    source_env: Mapping[str, str] | None = None
    #: Values to mask wherever the run's text surfaces (see :func:`env_secrets`); None: computed from the agent.
    secrets: list[bytes] | None = None
    #: The agent leads a new session (True), or only a new process group in the caller's session (a run owner
    #: process, which leads its own session so that whatever the run leaves behind can be found by it).
    new_session: bool = True
    #: Model agents: the budgets to check before each model call (``modelrun.budget.Limit`` as JSON) and what
    #: the run spent before this execution (the earlier iterations of a heartbeat wake).
    budget: list[dict[str, Any]] | None = None
    usage_before: dict[str, Any] | None = None
    #: Called once everything is ready and just before the agent process starts: a run prepared ahead of its
    #: start time waits there (``Supervisor``: ``prepare_ahead_seconds``), so at that moment only the process
    #: is started. Raises :class:`NotStarted` when the run must not start.
    ready: Callable[[], None] | None = None
    #: A run prepared ahead, started at the same instant as others (a burst): how long the caller leaves the CPU
    #: to their agents once its own is released, before it starts to look after it (its output waits in its
    #: pipe). A run shorter than that is recorded as lasting that long.
    settle: float = 0.0
    #: With ``ready``: start the agent's process now and hold it just before its exec until ``ready`` returns
    #: (:class:`HeldProcess`), so that then only the exec is left.
    hold: bool = True


@dataclass
class ExecResult:
    """What one execution gave. ``status`` is succeeded, failed, timed_out or interrupted (a model agent:
    budget_exceeded too)."""

    status: str
    exit_code: int | None
    output: str
    truncated: bool
    tail: str
    duration_ms: int
    error_message: str | None = None
    pid: int | None = None
    output_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.succeeded

    def last_line(self) -> str:
        """The output's last non-empty line (the heartbeat's ``sleep`` check)."""
        for line in reversed(self.tail.splitlines()):
            if line.strip():
                return line.strip()
        return ""


def agent_argv(agent: Mapping[str, Any]) -> list[str]:
    """The argv for a command agent. Raises AgentError for an empty or bad command."""
    command = agent.get("command")
    if not command:
        raise AgentError(f"agent {agent.get('name')!r} has no command")
    if agent.get("shell"):
        return ["/bin/sh", "-c", command]
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise AgentError(f"agent {agent.get('name')!r}: command cannot be split like a shell would: {exc}") from None
    if not argv:
        raise AgentError(f"agent {agent.get('name')!r} has an empty command")
    return argv


def agent_env(
    agent: Mapping[str, Any],
    symbi_vars: Mapping[str, str],
    base: Mapping[str, str] | None = None,
    *,
    withheld: Iterable[str] = (),
) -> dict[str, str]:
    """The agent's environment, like cron's: :data:`BASE_ENV` and ``LC_*`` of the supervisor's, the agent's ``env``
    with ``${VAR}`` expanded now (never stored), then the ``SYMBI_*`` protocol variables.

    An agent with ``inherit_env: true`` starts from the supervisor's whole environment instead, less symbi's own
    variables and ``withheld`` (the variables the configuration refers to: API key, SMTP password, tokens), which
    only an agent that names them in its ``env`` gets.
    """
    from ..envref import expand_env

    base = os.environ if base is None else base
    if agent.get("inherit_env"):
        hidden = set(withheld) | set(PRIVATE_ENV)
        env = {k: v for k, v in base.items() if k not in hidden and not k.startswith("SYMBI_")}
    else:
        env = {k: base[k] for k in BASE_ENV if k in base}
        env.update((k, v) for k, v in base.items() if k.startswith("LC_"))
    env.setdefault("PATH", DEFAULT_PATH)
    for k, v in (agent.get("env") or {}).items():
        env[str(k)] = expand_env(str(v), base)
    env.update({k: str(v) for k, v in symbi_vars.items()})
    return env


def env_secrets(
    agent: Mapping[str, Any], env: Mapping[str, str], source: Mapping[str, str] | None = None
) -> list[bytes]:
    """What the agent's ``env`` took from ``${VAR}`` references: the referenced values (read in ``source``, the
    supervisor's environment, default ``env``) and the expanded ones. Secrets: masked in everything the run
    records, should the agent print them."""
    from ..envref import env_refs

    source = env if source is None else source
    out: set[bytes] = set()
    for k, v in (agent.get("env") or {}).items():
        names = env_refs(str(v))
        if names:
            out.update(str(source.get(n, env.get(n, ""))).strip().encode("utf-8") for n in names)
            out.add(env.get(str(k), "").strip().encode("utf-8"))
    return sorted((s for s in out if len(s) >= 4), key=len, reverse=True)  # shorter would garble everything


def mask_text(text: str, secrets: Iterable[bytes]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for s in secrets:
        text = text.replace(s.decode("utf-8", "replace"), "***")
    return text


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class _Masker:
    """Replaces secret values with ``***`` in a byte stream; holds back the few bytes that could begin one."""

    def __init__(self, secrets: list[bytes]) -> None:
        self.secrets = secrets
        self.keep = max(len(s) for s in secrets) - 1
        self.pending = b""

    def mask(self, data: bytes) -> bytes:
        for s in self.secrets:
            data = data.replace(s, b"***")
        return data

    def feed(self, chunk: bytes) -> bytes:
        data = self.mask(self.pending + chunk)
        cut = max(0, len(data) - self.keep)
        self.pending = data[cut:]
        return data[:cut]

    def flush(self) -> bytes:
        data, self.pending = self.mask(self.pending), b""
        return data


def _log_write(log: Any, data: bytes) -> Any:
    """Append to the run's log; a log that cannot be written (a full disk) is given up, the run goes on (its output
    is still kept for the store). Returns the log, or None once given up."""
    if log is None:
        return None
    try:
        log.write(data)
        log.flush()
    except (OSError, ValueError):
        return None
    return log


def _tee(echo: TextIO | None, data: bytes) -> TextIO | None:
    """Write to a terminal tee; a tee that fails is dropped (returns None)."""
    if echo is None:
        return None
    try:
        echo.write(data.decode("utf-8", "replace"))
        echo.flush()
    except (OSError, ValueError):
        return None
    return echo


class _Stdout:
    """stdout: everything to the log, the head for the store, the tail for summaries (masked first)."""

    def __init__(self, cap: int, log: Any, echo: TextIO | None, masker: _Masker | None, logged: bool = True) -> None:
        self.cap = cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.log = log if logged else None
        self.echo = echo
        self.masker = masker

    def feed(self, chunk: bytes) -> None:
        if self.masker is not None:
            chunk = self.masker.feed(chunk)
            if not chunk:
                return
        self._take(chunk)

    def flush(self) -> None:
        if self.masker is not None and (rest := self.masker.flush()):
            self._take(rest)

    def _take(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(self.head) < self.cap:
            self.head += chunk[: self.cap - len(self.head)]
        self.tail += chunk
        if len(self.tail) > TAIL_BYTES:
            del self.tail[: len(self.tail) - TAIL_BYTES]
        self.log = _log_write(self.log, chunk)
        self.echo = _tee(self.echo, chunk)


class _Stderr:
    """stderr: whole lines to the log marked ``[stderr]`` (masked), the last 20 kept for the error message."""

    def __init__(self, log: Any, echo: TextIO | None, masker: _Masker | None) -> None:
        self.log = log
        self.echo = echo
        self.masker = masker
        self.pending = b""
        self.last: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            self._emit(line + b"\n")

    def flush(self) -> None:
        if self.pending:
            self._emit(self.pending + b"\n")
            self.pending = b""

    def _emit(self, line: bytes) -> None:
        if self.masker is not None:
            line = self.masker.mask(line)
        self.echo = _tee(self.echo, line)
        self.last.append(line)
        if len(self.last) > 20:
            del self.last[0]
        self.log = _log_write(self.log, b"[stderr] " + line)


def _group_args(new_session: bool) -> dict[str, Any]:
    """Popen arguments that make the agent lead its own process group (and session, when asked)."""
    if new_session:
        return {"start_new_session": True}
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}  # Python 3.10: the slower path, still one fork and exec


def _popen(launch: Launch, new_session: bool, argv: list[str] | None = None) -> subprocess.Popen:
    """Start the agent's process (or ``argv`` in its place), its stdio piped to the supervising loop."""
    return subprocess.Popen(
        argv or launch.argv,
        cwd=str(launch.cwd),
        env=launch.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        **_group_args(new_session),
    )


#: A held agent: ``/bin/sh`` stops itself and, once continued, becomes the agent (``exec``, same pid, same
#: process group). The shell sets ``PWD`` to its working directory: unset again when the agent's environment has
#: none, set back to the agent's own value (its first argument) when it has one (``inherit_env``: the daemon's).
HOLD_SCRIPT = 'kill -STOP $$ && PWD=$1 && shift && exec "$@"'
HOLD_SCRIPT_NO_PWD = 'kill -STOP $$ && unset PWD && exec "$@"'


class HeldProcess:
    """An agent's process started ahead of its run's time and held, stopped, just before its ``exec``
    (``SIGCONT`` releases it): at the run's time only the ``exec`` is left to do, not the fork, and the owner of
    the run does a ``kill`` instead of a ``Popen``. Its input is already in its stdin pipe (up to a pipe's
    worth). A held process whose owner dies is killed by the kernel (its process group is orphaned while stopped:
    SIGHUP, then SIGCONT), never started.

    ``start`` returns None when the agent cannot be held (no ``/bin/sh``, its command not found on its PATH: the
    run then starts, or fails with the usual message, the ordinary way at its time)."""

    def __init__(self, proc: subprocess.Popen, stdin_written: int, argv0: str = "") -> None:
        self.proc = proc
        self.stdin_written = stdin_written
        self.argv0 = argv0

    @classmethod
    def start(cls, launch: Launch, new_session: bool) -> HeldProcess | None:
        import shutil

        if not os.path.exists("/bin/sh"):
            return None
        name = launch.argv[0]
        if os.sep in name and not os.path.isabs(name):
            name = os.path.join(launch.cwd, name)  # the agent's own directory, as its exec would see it
        if shutil.which(name, path=launch.env.get("PATH", os.defpath)) is None:
            return None  # not found or not executable: at its time, Popen says which, the ordinary way
        if "PWD" in launch.env:
            hold = ["/bin/sh", "-c", HOLD_SCRIPT, launch.argv[0], launch.env["PWD"], *launch.argv]
        else:
            hold = ["/bin/sh", "-c", HOLD_SCRIPT_NO_PWD, launch.argv[0], *launch.argv]
        try:
            proc = _popen(launch, new_session, hold)
        except OSError:
            return None
        held = cls(proc, 0, launch.argv[0])
        try:
            _, status = os.waitpid(proc.pid, os.WUNTRACED)  # it stops itself, or ends (its kill failed)
        except ChildProcessError:
            status = 0
        if not os.WIFSTOPPED(status):  # not held after all: the run starts the ordinary way
            held.abandon()
            return None
        if launch.stdin:
            assert proc.stdin is not None
            os.set_blocking(proc.stdin.fileno(), False)
            try:
                held.stdin_written = os.write(proc.stdin.fileno(), launch.stdin[:65_536])
            except OSError:
                held.stdin_written = 0
        return held

    def release(self) -> subprocess.Popen:
        """Let the agent run now."""
        os.kill(self.proc.pid, signal.SIGCONT)
        return self.proc

    def exec_failed(self, code: int | None, stdout_bytes: int, stderr_lines: list[bytes]) -> bool:
        """Whether the released process ended as the holding shell, its ``exec`` of the agent refused (the command
        was deleted or lost its execute bit while held): 127 or 126, no output, and the shell's one message, which
        names the command (``ARGV0: 1: exec: ARGV0: not found``) -- what ``Popen`` raises for an agent not held."""
        if code not in (126, 127) or stdout_bytes or len(stderr_lines) != 1:
            return False
        line = stderr_lines[0].decode("utf-8", "replace").rstrip("\n")
        name = self.argv0
        return line.startswith(f"{name}: ") and line.endswith(
            (f"exec: {name}: not found", f"exec: {name}: Permission denied")
        )

    def abandon(self) -> None:
        """The run does not start: kill the held process (it never ran the agent) and reap it."""
        _killpg(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            _close(stream)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)  # type: ignore[attr-defined]  # Linux >= 5.3, Python >= 3.9
    except (AttributeError, OSError):
        return None


@dataclass
class _Proc:
    """What the loop learnt about one agent process."""

    outcome: str | None  # timed_out | interrupted | None (it ended by itself)
    returncode: int | None
    pid: int


def _supervise(
    proc: subprocess.Popen,
    stdin_data: bytes,
    out: _Stdout,
    err: _Stderr,
    *,
    deadline: float | None,
    cancel: threading.Event | CancelFlag | None,
    kill_grace: float,
    monotonic: Callable[[], float],
) -> _Proc:
    """Feed stdin, drain stdout and stderr, enforce the deadline and the cancellation, reap the agent."""
    pgid = proc.pid  # the agent leads its own process group
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
    readers: dict[int, _Stdout | _Stderr] = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    for fd in readers:
        sel.register(fd, selectors.EVENT_READ, "r")
    stdin_fd = proc.stdin.fileno()
    view = memoryview(stdin_data)
    if view:
        os.set_blocking(stdin_fd, False)
        sel.register(stdin_fd, selectors.EVENT_WRITE, "w")
    else:
        proc.stdin.close()
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ, "p")
    outcome: str | None = None
    kill_at: float | None = None  # SIGKILL the group then (the grace after a TERM)
    linger_until: float | None = None  # the leader is gone: the pipes may stay open until then
    give_up_at: float | None = None  # even a KILL did not close the pipes (a process outside the group)
    try:
        while True:
            now = monotonic()
            if proc.returncode is None and pidfd is None:
                proc.poll()
            if proc.returncode is not None:
                if not readers:
                    break
                if linger_until is None:
                    linger_until = now + PIPE_LINGER_SECONDS
            if outcome is None:
                if deadline is not None and now >= deadline:
                    outcome = RunStatus.timed_out
                elif cancel is not None and cancel.is_set():
                    outcome = RunStatus.interrupted
                if outcome is not None:
                    _killpg(pgid, signal.SIGTERM)
                    kill_at = now + kill_grace
            if kill_at is not None and now >= kill_at:
                _killpg(pgid, signal.SIGKILL)
                kill_at = None
                if proc.returncode is not None and give_up_at is None:
                    give_up_at = now + 1.0
            if linger_until is not None and now >= linger_until and give_up_at is None:
                _killpg(pgid, signal.SIGKILL)  # children it left behind still hold the pipes
                give_up_at = now + 1.0
            if give_up_at is not None and now >= give_up_at:
                break  # a process outside the group (setsid, a daemon it started) holds the pipes: stop reading
            wake = [now + CANCEL_POLL_SECONDS]
            for t in (deadline if outcome is None else None, kill_at, linger_until, give_up_at):
                if t is not None:
                    wake.append(t)
            timeout = max(0.0, min(wake) - now)
            for key, _ in sel.select(timeout):
                kind = key.data
                if kind == "r":
                    try:
                        chunk = os.read(key.fd, 65_536)
                    except OSError:
                        chunk = b""
                    if chunk:
                        readers[key.fd].feed(chunk)
                    else:
                        sel.unregister(key.fd)
                        del readers[key.fd]
                elif kind == "w":
                    try:
                        n = os.write(stdin_fd, view[:65_536])
                    except BlockingIOError:
                        continue
                    except OSError:  # the agent closed its stdin: it does not want the rest
                        n = len(view)
                    view = view[n:]
                    if not view:
                        sel.unregister(stdin_fd)
                        _close(proc.stdin)
                elif kind == "p":
                    sel.unregister(key.fd)
                    proc.wait()
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
        if not proc.stdin.closed:
            _close(proc.stdin)
    if outcome is not None:
        _killpg(pgid, signal.SIGKILL)  # whatever of the group is left after a timeout or a shutdown
    if proc.returncode is None:
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        _close(stream)
    return _Proc(outcome, proc.returncode, proc.pid)


def _close(stream: Any) -> None:
    if stream is None:
        return
    try:
        stream.close()
    except OSError:
        pass


@dataclass
class Launch:
    """How to start one agent process: its argv, stdin, and whether stdout is the output (logged and kept) or a
    private answer for the caller (a model agent's runner answers in JSON; its transcript goes to the log)."""

    argv: list[str]
    stdin: bytes
    env: dict[str, str]
    cwd: Path
    stdout_is_output: bool = True


def execute(req: ExecRequest, *, monotonic: Callable[[], float] = time.monotonic) -> ExecResult:
    """Run the command agent once; never raises for an agent's failure (a bad command is a ``failed`` result)."""
    from ..paths import ensure_private_dir

    ensure_private_dir(req.cwd)
    workdir = req.agent.get("workdir")
    cwd = Path(os.path.expanduser(str(workdir))) if workdir else req.cwd
    try:
        argv = agent_argv(req.agent)
    except AgentError as exc:
        return run_process(req, None, error=str(exc), monotonic=monotonic)
    if not cwd.is_dir():
        return run_process(
            req, None, error=f"agent {req.agent.get('name')!r}: workdir {cwd} does not exist", monotonic=monotonic
        )
    return run_process(req, Launch(argv, req.input_text.encode("utf-8"), req.env, cwd), monotonic=monotonic)


def run_process(
    req: ExecRequest,
    launch: Launch | None,
    *,
    error: str | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> ExecResult:
    """Start ``launch`` and supervise it to the end (the shared body of every kind of agent). With no launch, the
    run fails with ``error`` (logged)."""
    from ..paths import open_private

    started = monotonic()
    try:
        log: Any = open_private(req.log_path, "ab", encoding=None)
    except OSError:
        log = None  # a full disk: the run goes on without its log file
    if req.log_header:
        log = _log_write(log, req.log_header.encode("utf-8") + b"\n")

    def failed(message: str, code: int | None = None) -> ExecResult:
        _log_write(log, f"[symbi] {message}\n".encode())
        _close(log)
        return ExecResult(
            status=RunStatus.failed,
            exit_code=code,
            output="",
            truncated=False,
            tail="",
            duration_ms=int((monotonic() - started) * 1000),
            error_message=message,
        )

    held: HeldProcess | None = None
    if req.ready is not None:
        # A run prepared ahead waits for its time even when it cannot start: it is never recorded (failed) before
        # its slot, ending before it started. Its process is started now and held just before its exec.
        if launch is not None and req.hold:
            held = HeldProcess.start(launch, req.new_session)
        try:
            req.ready()
        except BaseException:
            if held is not None:
                held.abandon()
            _close(log)
            raise
        started = monotonic()  # the run's time is counted from its start, not from its preparation
    if launch is None:
        return failed(error or "the agent cannot be started")
    name = req.agent.get("name")
    stdin_data = launch.stdin
    try:
        if held is not None:
            proc = held.release()
            if req.settle > 0:
                time.sleep(req.settle)  # the agents released with it start first; this one's output waits in its pipe
            stdin_data = stdin_data[held.stdin_written :]
        else:
            proc = _popen(launch, req.new_session)
    except FileNotFoundError:
        return failed(f"agent {name!r}: command not found: {launch.argv[0]}", 127)
    except PermissionError:
        return failed(f"agent {name!r}: permission denied running {launch.argv[0]}", 126)
    except OSError as exc:
        return failed(f"agent {name!r}: cannot start {launch.argv[0]}: {exc.strerror or exc}")
    secrets = req.secrets if req.secrets is not None else env_secrets(req.agent, req.env)
    out_cap = req.output_cap if launch.stdout_is_output else 64 * 1024 * 1024
    out = _Stdout(
        out_cap,
        log,
        req.echo if launch.stdout_is_output else None,
        _Masker(secrets) if secrets and launch.stdout_is_output else None,
        logged=launch.stdout_is_output,
    )
    err = _Stderr(log, req.echo_stderr, _Masker(secrets) if secrets else None)
    try:
        ended = _supervise(
            proc,
            stdin_data,
            out,
            err,
            deadline=req.deadline,
            cancel=req.cancel,
            kill_grace=req.kill_grace,
            monotonic=monotonic,
        )
    except BaseException:
        _killpg(proc.pid, signal.SIGKILL)
        _close(log)
        raise
    out.flush()
    err.flush()
    code = ended.returncode
    if held is not None and held.exec_failed(code, out.total, err.last):
        return failed(
            f"agent {name!r}: command not found: {launch.argv[0]}"
            if code == 127
            else f"agent {name!r}: permission denied running {launch.argv[0]}",
            code,
        )
    duration_ms = int((monotonic() - started) * 1000)
    raw = bytes(out.head)
    output = raw.decode("utf-8", "replace")
    truncated = out.total > len(out.head)
    if truncated and launch.stdout_is_output:
        output += f"\n[output truncated at {req.output_cap} bytes of {out.total}; full text in {req.log_path}]"
    error_message: str | None = None
    if ended.outcome == RunStatus.timed_out:
        status = RunStatus.timed_out
        error_message = (
            f"killed after max_runtime of {req.max_runtime:g}s (TERM, then KILL after the grace period)"
            if req.max_runtime is not None
            else "killed: time limit reached"
        )
    elif ended.outcome == RunStatus.interrupted:
        status = RunStatus.interrupted
        error_message = "stopped by the supervisor's shutdown"
    elif code == 0:
        status = RunStatus.succeeded
    else:
        status = RunStatus.failed
        if code is not None and code < 0:
            sig = signal.Signals(-code).name if -code in signal.valid_signals() else -code
            error_message = f"agent killed by signal {sig}"
        else:
            error_message = f"agent exited with status {code}"
        last_err = b"".join(err.last[-3:]).decode("utf-8", "replace").strip()
        if last_err:
            error_message += f": {last_err[-500:]}"
    result = ExecResult(
        status=status,
        exit_code=code,
        output=output,
        truncated=truncated,
        tail=bytes(out.tail).decode("utf-8", "replace"),
        duration_ms=duration_ms,
        error_message=error_message,
        pid=ended.pid,
        output_bytes=out.total,
    )
    if launch.stdout_is_output:
        sep = b"\n" if out.tail and not out.tail.endswith(b"\n") else b""
        _log_write(out.log or err.log, sep + f"[symbi] {status} (exit {code}) after {duration_ms} ms\n".encode())
    _close(log)
    return result


def read_summary(summary_file: Path | None, result: ExecResult, secrets: Iterable[bytes] = ()) -> str | None:
    """The agent's summary: ``SYMBI_SUMMARY_FILE`` when it wrote one, else the tail of its output; the agent's
    secrets masked either way (the summary is stored, delivered and handed to the next run)."""
    if summary_file is not None:
        try:
            text = summary_file.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        if text:
            return mask_text(text[: SUMMARY_CHARS * 4], secrets)
    tail = result.tail.strip()
    if not tail:
        return None
    return tail if len(tail) <= SUMMARY_CHARS else tail[-SUMMARY_CHARS:]
