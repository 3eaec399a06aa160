"""QA of delivery (SPEC §8): custom:NAME commands that leave children behind, real subprocesses."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from pathlib import Path

import pytest
from delivery_samples import sample_payload

from symbi_cron.delivery.router import deliver

# A child that leaves the command's process group (as a daemonising notifier does) and keeps the command's
# stderr open for a minute; its pid goes to a file so the test can end it.
ESCAPED_CHILD = "import os, sys, time; os.setsid(); open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"


def _command(tmp_path: Path, then: str) -> tuple[str, Path]:
    pidfile = tmp_path / "child.pid"
    child = " ".join(shlex.quote(a) for a in (sys.executable, "-c", ESCAPED_CHILD, str(pidfile)))
    script = f"{child} & while [ ! -s {shlex.quote(str(pidfile))} ]; do sleep 0.05; done; {then}"
    return f"sh -c {shlex.quote(script)}", pidfile


@pytest.fixture
def reap():
    pidfiles: list[Path] = []
    yield pidfiles.append
    for pidfile in pidfiles:
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def _deliver_in_thread(payload, channels, ctx):
    box: list = []
    t = threading.Thread(target=lambda: box.append(deliver(payload, channels, ctx)), daemon=True)
    t.start()
    t.join(20)  # the child lives 60 s: a delivery still waiting for it is the bug
    assert not t.is_alive(), "the delivery waited for a child the command left running"
    return box[0]


def test_a_command_that_exits_0_leaving_a_child_behind_succeeds_at_once(tmp_path, make_ctx, reap):
    command, pidfile = _command(tmp_path, "echo sent >&2; exit 0")
    reap(pidfile)
    ctx = make_ctx(custom_channels={"pager": command}, custom_timeout_seconds=10)
    [receipt] = _deliver_in_thread(sample_payload(), ["custom:pager"], ctx)
    assert receipt.ok, receipt.detail  # not "timed out after 10s (killed)": the command itself exited 0
    assert receipt.detail == "sh: exit 0"


def test_a_timed_out_command_whose_child_escaped_its_group_does_not_hang_the_delivery(tmp_path, make_ctx, reap):
    command, pidfile = _command(tmp_path, "sleep 60")
    reap(pidfile)
    ctx = make_ctx(custom_channels={"pager": command}, custom_timeout_seconds=1)
    [receipt] = _deliver_in_thread(sample_payload(), ["custom:pager"], ctx)
    assert not receipt.ok
    assert receipt.detail == "sh: timed out after 1s (killed)"


def test_a_failing_command_with_a_child_behind_still_quotes_its_stderr(tmp_path, make_ctx, reap):
    command, pidfile = _command(tmp_path, "echo 'quota exceeded' >&2; exit 4")
    reap(pidfile)
    ctx = make_ctx(custom_channels={"pager": command}, custom_timeout_seconds=10)
    [receipt] = _deliver_in_thread(sample_payload(), ["custom:pager"], ctx)
    assert not receipt.ok
    assert receipt.detail == "sh: exit 4: quota exceeded"
