"""A real interactive shell in tmux, for what only a terminal shows (readline's Tab completion)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid


class TmuxShell:
    """``with TmuxShell(["bash", "--norc"], env) as sh: sh.type("symbi cron pa\\t"); sh.screen()``. Its own tmux
    server (a private socket), killed at the end: nothing else's tmux is touched."""

    def __init__(self, argv: list[str], env: dict[str, str], *, width: int = 160, height: int = 40) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"symbi-test-{uuid.uuid4().hex[:12]}"
        self.env = dict(env)
        self.env.pop("TMUX", None)
        self.env.setdefault("TERM", "xterm")
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
             "--", *argv],
            env=self.env,
            check=True,
            timeout=30,
        )  # fmt: skip

    def __enter__(self) -> TmuxShell:
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=30)

    def keys(self, *keys: str) -> None:
        """tmux key names (``Tab``, ``Enter``, ``C-u``)."""
        subprocess.run(["tmux", "-L", self.socket, "send-keys", *keys], env=self.env, check=True, timeout=30)

    def type(self, text: str) -> None:
        """Literal text (``\\t`` presses Tab)."""
        for i, part in enumerate(text.split("\t")):
            if part:
                subprocess.run(
                    ["tmux", "-L", self.socket, "send-keys", "-l", part], env=self.env, check=True, timeout=30
                )
            if i < text.count("\t"):
                self.keys("Tab")

    def screen(self) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p"], env=self.env, capture_output=True, text=True, timeout=30
        )
        return out.stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on the screen within {timeout}s:\n{shown}")
            time.sleep(0.1)

    def run(self, command: str, done: str | None = None) -> None:
        """Type ``command`` and Enter; wait until a marker it echoes is on the screen."""
        marker = done or f"done-{uuid.uuid4().hex[:8]}"
        self.type(f"{command}; echo {marker}")
        self.keys("Enter")
        self.wait_for(f"\n{marker}" if done is None else marker)


def interactive_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PS1"] = "$ "
    return env
