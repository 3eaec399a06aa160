"""Run a command on a real pseudo-terminal of a given size (what a person's terminal is to the program)."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass


@dataclass
class TerminalRun:
    output: str  # stdout and stderr as the terminal showed them
    exit_code: int

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


def symbi_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "symbi_cron", *args]


class Terminal:
    """A program on a new pty of ``columns`` x ``rows`` (stdin, stdout and stderr); COLUMNS and LINES are unset
    so the program must ask the terminal. Output is kept with ``\\r\\n`` turned into ``\\n``."""

    def __init__(
        self, argv: list[str], *, columns: int = 80, rows: int = 24, env: dict[str, str] | None = None
    ) -> None:
        full_env = dict(os.environ if env is None else env)
        full_env.pop("COLUMNS", None)
        full_env.pop("LINES", None)
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            start_new_session=True,
            # A terminal's program gets Ctrl-C; a test run in the background (`pytest &`) ignores SIGINT, and a
            # child would inherit that.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        os.close(slave)
        self.buffer = b""
        self.closed = False

    @property
    def output(self) -> str:
        return self.buffer.decode("utf-8", "replace").replace("\r\n", "\n")

    def _read(self, wait: float) -> bool:
        """Read what is there (waiting up to ``wait``); False once the pty is closed."""
        if self.closed:
            return False
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every writer has closed the pty
            data = b""
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def read_until(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or not self._read(0.1):
                if text in self.output:
                    break
                raise AssertionError(f"{text!r} not shown by {self.argv} within {timeout}s: {self.output!r}")
        return self.output

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def interrupt(self) -> None:
        """Ctrl-C as the terminal sends it: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float = 60) -> TerminalRun:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._read(0.1) or (self.proc.poll() is not None and not self._drain()):
                break
        else:
            self.proc.kill()
            raise AssertionError(f"{self.argv} did not finish within {timeout}s: {self.output!r}")
        code = self.proc.wait(timeout=10)
        os.close(self.master)
        return TerminalRun(self.output, code)

    def _drain(self) -> bool:
        ready, _, _ = select.select([self.master], [], [], 0)
        return bool(ready)


def run_in_terminal(
    argv: list[str], *, columns: int = 80, rows: int = 24, env: dict[str, str] | None = None, timeout: float = 60
) -> TerminalRun:
    """Run ``argv`` to its end on a pty of ``columns`` x ``rows``."""
    return Terminal(argv, columns=columns, rows=rows, env=env).wait(timeout)
