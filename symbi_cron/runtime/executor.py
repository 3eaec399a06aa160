"""The subprocess protocol (SPEC §6): run one agent command once and report what happened.

The agent runs without a shell (``shlex.split``) unless it asks for one, in its own process group (so a timeout or a
shutdown can stop everything it started), with the run's context directory as its working directory (the agent's
``workdir`` when it names one), the input text on stdin and the ``SYMBI_*`` variables in its environment. stdout is
the output: all of it goes to the run's log file (0600), the first ``output_cap`` bytes are kept for the store and
the last few KiB for the summary and the heartbeat's ``sleep`` check. stderr goes to the run's log, each line marked
``[stderr]``.

Nothing here touches the store: the caller records the :class:`ExecResult`.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

#: How much of the output's end is kept in memory (summary, ``sleep`` detection).
TAIL_BYTES = 16_384
#: Characters of the output's tail used as the summary when the agent writes none.
SUMMARY_CHARS = 2_000
#: After the agent exits, how long its pipes may stay open (a background child holding them) before the group
#: is killed so the run can finish.
PIPE_LINGER_SECONDS = 2.0
#: Environment variables of the supervisor that an agent never inherits (secrets of symbi itself).
PRIVATE_ENV = ("SYMBI_API_KEY", "SYMBI_SLACK_TOKEN", "SYMBI_WEBHOOK_AUTH_HEADER", "SYMBI_SLACK_WEBHOOK_URL")

MODEL_AGENTS_UNSUPPORTED = "model agents are not supported yet (agent {name!r} has a model and no command)"


class AgentError(Exception):
    """The agent cannot be started (bad command, missing executable, unsupported kind)."""


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
    #: Set from another thread to stop the agent early (daemon shutdown); the result is ``interrupted``.
    cancel: threading.Event | None = None
    #: Header line written to the run log before the agent's output (e.g. an iteration marker).
    log_header: str | None = None


@dataclass
class ExecResult:
    """What one execution gave. ``status`` is succeeded, failed, timed_out or interrupted."""

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
        return self.status == "succeeded"

    def last_line(self) -> str:
        """The output's last non-empty line (the heartbeat's ``sleep`` check)."""
        for line in reversed(self.tail.splitlines()):
            if line.strip():
                return line.strip()
        return ""


def agent_argv(agent: Mapping[str, Any], env: Mapping[str, str] | None = None) -> list[str]:
    """The argv for a command agent. Raises AgentError for a model agent or an empty/bad command."""
    command = agent.get("command")
    if not command:
        if agent.get("model"):
            raise AgentError(MODEL_AGENTS_UNSUPPORTED.format(name=agent.get("name")))
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
    agent: Mapping[str, Any], symbi_vars: Mapping[str, str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The agent's environment: the supervisor's (minus symbi's own secrets), the agent's ``env`` with
    ``${VAR}`` expanded now (never stored), then the ``SYMBI_*`` protocol variables."""
    from ..envref import expand_env

    base = dict(os.environ if base is None else base)
    for k in PRIVATE_ENV:
        base.pop(k, None)
    env = dict(base)
    for k, v in (agent.get("env") or {}).items():
        env[str(k)] = expand_env(str(v), base)
    env.update({k: str(v) for k, v in symbi_vars.items()})
    return env


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def env_secrets(agent: Mapping[str, Any], env: Mapping[str, str]) -> list[bytes]:
    """What the agent's ``env`` took from ``${VAR}`` references (the referenced values and the expanded ones):
    secrets that are masked in everything the run records, should the agent print them."""
    from ..envref import env_refs

    out: set[bytes] = set()
    for k, v in (agent.get("env") or {}).items():
        names = env_refs(str(v))
        if names:
            out.update(env.get(n, "").strip().encode("utf-8") for n in names)
            out.add(env.get(str(k), "").strip().encode("utf-8"))
    return sorted((s for s in out if len(s) >= 4), key=len, reverse=True)  # shorter would garble everything


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


class _Collector:
    """Reads stdout: everything to the log, the head for the store, the tail for summaries."""

    def __init__(
        self, cap: int, log: Any, lock: threading.Lock, echo: TextIO | None, masker: _Masker | None = None
    ) -> None:
        self.cap = cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.log = log
        self.lock = lock
        self.echo = echo
        self.masker = masker

    def feed(self, chunk: bytes) -> None:
        if self.masker is not None:
            chunk = self.masker.feed(chunk)
            if not chunk:
                return
        self._take(chunk)

    def flush(self) -> None:
        """The bytes a masker held back, once the stream has ended."""
        if self.masker is not None and (rest := self.masker.flush()):
            self._take(rest)

    def _take(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(self.head) < self.cap:
            self.head += chunk[: self.cap - len(self.head)]
        self.tail += chunk
        if len(self.tail) > TAIL_BYTES:
            del self.tail[: len(self.tail) - TAIL_BYTES]
        with self.lock:
            self.log.write(chunk)
            self.log.flush()
        if self.echo is not None:
            try:
                self.echo.write(chunk.decode("utf-8", "replace"))
                self.echo.flush()
            except (OSError, ValueError):
                self.echo = None


def _chunks(stream: Any, stop: threading.Event):
    """Yield what the pipe gives until EOF or ``stop``. Reads the raw descriptor with a timeout: a blocking read on
    the buffered object cannot be interrupted, and closing that object from another thread waits for the read (a
    grandchild that left the agent's process group with the pipe open would hang the run for its whole life)."""
    import select

    fd = stream.fileno()
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        chunk = os.read(fd, 65_536)
        if not chunk:
            return
        yield chunk


def _pump_stdout(stream: Any, sink: _Collector, stop: threading.Event) -> None:
    try:
        for chunk in _chunks(stream, stop):
            sink.feed(chunk)
    except (OSError, ValueError):
        pass


def _pump_stderr(
    stream: Any,
    log: Any,
    lock: threading.Lock,
    keep: list[bytes],
    echo: TextIO | None = None,
    stop: threading.Event | None = None,
    masker: _Masker | None = None,
) -> None:
    def emit(line: bytes) -> None:
        nonlocal echo
        if not line.endswith(b"\n"):
            line += b"\n"
        if masker is not None:
            line = masker.mask(line)
        if echo is not None:
            try:
                echo.write(line.decode("utf-8", "replace"))
                echo.flush()
            except (OSError, ValueError):
                echo = None
        keep.append(line)
        if len(keep) > 20:
            del keep[0]
        with lock:
            log.write(b"[stderr] " + line)
            log.flush()

    pending = b""
    try:
        for chunk in _chunks(stream, stop or threading.Event()):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(line + b"\n")
    except (OSError, ValueError):
        pass
    if pending:
        emit(pending)


def _feed_stdin(stream: Any, data: bytes) -> None:
    try:
        if data:
            stream.write(data)
        stream.close()
    except (OSError, ValueError):
        pass


def execute(req: ExecRequest, *, monotonic: Callable[[], float] = time.monotonic) -> ExecResult:
    """Run the agent once; never raises for an agent's failure (a bad command is a ``failed`` result)."""
    from ..paths import ensure_private_dir, open_private

    started = monotonic()
    workdir = req.agent.get("workdir")
    cwd = Path(os.path.expanduser(str(workdir))) if workdir else req.cwd
    ensure_private_dir(req.cwd)
    log = open_private(req.log_path, "ab")
    lock = threading.Lock()
    if req.log_header:
        log.write(req.log_header.encode("utf-8") + b"\n")
        log.flush()

    def failed(message: str, code: int | None = None) -> ExecResult:
        with lock:
            log.write(f"[symbi] {message}\n".encode())
        log.close()
        return ExecResult(
            status="failed",
            exit_code=code,
            output="",
            truncated=False,
            tail="",
            duration_ms=int((monotonic() - started) * 1000),
            error_message=message,
        )

    try:
        argv = agent_argv(req.agent)
    except AgentError as exc:
        return failed(str(exc))
    if not cwd.is_dir():
        return failed(f"agent {req.agent.get('name')!r}: workdir {cwd} does not exist")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=str(cwd),
            env=req.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except FileNotFoundError:
        return failed(f"agent {req.agent.get('name')!r}: command not found: {argv[0]}", 127)
    except PermissionError:
        return failed(f"agent {req.agent.get('name')!r}: permission denied running {argv[0]}", 126)
    except OSError as exc:
        return failed(f"agent {req.agent.get('name')!r}: cannot start {argv[0]}: {exc.strerror or exc}")
    pgid = proc.pid  # start_new_session: the child leads its own group
    secrets = env_secrets(req.agent, req.env)
    sink = _Collector(req.output_cap, log, lock, req.echo, _Masker(secrets) if secrets else None)
    err_lines: list[bytes] = []
    stop_pumps = threading.Event()
    threads = [
        threading.Thread(target=_pump_stdout, args=(proc.stdout, sink, stop_pumps), daemon=True),
        threading.Thread(
            target=_pump_stderr,
            args=(
                proc.stderr,
                log,
                lock,
                err_lines,
                req.echo_stderr,
                stop_pumps,
                _Masker(secrets) if secrets else None,
            ),
            daemon=True,
        ),
        threading.Thread(target=_feed_stdin, args=(proc.stdin, req.input_text.encode("utf-8")), daemon=True),
    ]
    for t in threads:
        t.start()

    outcome: str | None = None
    while True:
        wait = 0.2
        if req.deadline is not None:
            wait = min(wait, max(0.0, req.deadline - monotonic()))
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            pass
        if req.deadline is not None and monotonic() >= req.deadline:
            outcome = "timed_out"
        elif req.cancel is not None and req.cancel.is_set():
            outcome = "interrupted"
        if outcome:
            _killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=req.kill_grace)
            except subprocess.TimeoutExpired:
                _killpg(pgid, signal.SIGKILL)
                proc.wait()
            break
    # The leader is gone; children it left behind may still hold the pipes (or run on after a timeout).
    if outcome:
        _killpg(pgid, signal.SIGKILL)
    linger_until = monotonic() + PIPE_LINGER_SECONDS
    for t in threads[:2]:
        t.join(timeout=max(0.0, linger_until - monotonic()))
    if any(t.is_alive() for t in threads[:2]):
        _killpg(pgid, signal.SIGKILL)
        for t in threads[:2]:
            t.join(timeout=1.0)
    # Still open: a process outside the group (setsid, a daemon it started) holds the pipes. Stop reading.
    stop_pumps.set()
    for t in threads[:2]:
        t.join(timeout=1.0)
    for stream in (proc.stdout, proc.stderr):
        try:
            stream.close()  # type: ignore[union-attr]
        except OSError:
            pass
    sink.flush()
    code = proc.returncode
    duration_ms = int((monotonic() - started) * 1000)
    output = sink.head.decode("utf-8", "replace")
    truncated = sink.total > len(sink.head)
    if truncated:
        output += f"\n[output truncated at {req.output_cap} bytes of {sink.total}; full text in {req.log_path}]"
    error: str | None = None
    if outcome == "timed_out":
        status = "timed_out"
        error = (
            f"killed after max_runtime of {req.max_runtime:g}s (TERM, then KILL after the grace period)"
            if req.max_runtime is not None
            else "killed: time limit reached"
        )
    elif outcome == "interrupted":
        status = "interrupted"
        error = "stopped by the supervisor's shutdown"
    elif code == 0:
        status = "succeeded"
    else:
        status = "failed"
        if code is not None and code < 0:
            error = f"agent killed by signal {signal.Signals(-code).name if -code in signal.valid_signals() else -code}"
        else:
            error = f"agent exited with status {code}"
        last_err = b"".join(err_lines[-3:]).decode("utf-8", "replace").strip()
        if last_err:
            error += f": {last_err[-500:]}"
    with lock:
        sep = b"\n" if sink.tail and not sink.tail.endswith(b"\n") else b""
        log.write(sep + f"[symbi] {status} (exit {code}) after {duration_ms} ms\n".encode())
    log.close()
    return ExecResult(
        status=status,
        exit_code=code,
        output=output,
        truncated=truncated,
        tail=bytes(sink.tail).decode("utf-8", "replace"),
        duration_ms=duration_ms,
        error_message=error,
        pid=proc.pid,
        output_bytes=sink.total,
    )


def read_summary(summary_file: Path | None, result: ExecResult) -> str | None:
    """The agent's summary: ``SYMBI_SUMMARY_FILE`` when it wrote one, else the tail of its output."""
    if summary_file is not None:
        try:
            text = summary_file.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        if text:
            return text[: SUMMARY_CHARS * 4]
    tail = result.tail.strip()
    if not tail:
        return None
    return tail if len(tail) <= SUMMARY_CHARS else tail[-SUMMARY_CHARS:]
