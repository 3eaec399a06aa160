"""custom:NAME channels: a configured command (real subprocess), including one that leaves a child behind, and a
Python entry point discovered by the real importlib.metadata from a dist-info directory on sys.path."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from delivery_samples import sample_job, sample_payload

from symbi_cron.delivery.router import deliver, get_channel

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    data = json.load(sys.stdin)
    out = sys.argv[1]
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"payload": data, "argv": sys.argv[2:], "env": {
            k: v for k, v in os.environ.items() if k.startswith("SYMBI_")}}, fh)
    code = int(os.environ.get("EXIT_CODE", "0"))
    if code:
        sys.stderr.write("line one\\n" + "x" * 2000 + "\\nthe real reason: quota exceeded\\n")
    sys.exit(code)
    """
)


def _command(tmp_path: Path, *extra: str) -> tuple[str, Path]:
    script = tmp_path / "hook.py"
    script.write_text(SCRIPT, encoding="utf-8")
    out = tmp_path / "received.json"
    return " ".join(shlex.quote(a) for a in (sys.executable, str(script), str(out), *extra)), out


def test_command_gets_the_json_payload_on_stdin(tmp_path, make_ctx):
    cmd, out = _command(tmp_path, "--team", "${TEAM}", "two words")
    ctx = make_ctx(custom_channels={"pager": cmd}, env={"TEAM": "blue", "PATH": "/usr/bin:/bin"})
    payload = sample_payload(output="ünïcode output\n")
    [r] = deliver(payload, ["custom:pager"], ctx)
    assert r.ok and r.channel == "custom:pager", r.detail
    got = json.loads(out.read_text(encoding="utf-8"))
    assert got["payload"] == json.loads(payload.to_json())
    assert got["argv"] == ["--team", "blue", "two words"]  # ${ENV} expanded, split like a shell, no shell
    assert got["env"]["SYMBI_RUN_ID"] == payload.run["id"]
    assert got["env"]["SYMBI_RUN_STATUS"] == "succeeded"
    assert got["env"]["SYMBI_DELIVERY_CHANNEL"] == "custom:pager"


def test_command_non_zero_exit_is_a_failure_with_stderrs_tail(tmp_path, make_ctx):
    cmd, _ = _command(tmp_path)
    ctx = make_ctx(custom_channels={"pager": cmd}, env={"EXIT_CODE": "3"})
    [r] = deliver(sample_payload(), ["custom:pager"], ctx)
    assert not r.ok
    assert r.detail.startswith(f"{sys.executable}: exit 3: …")
    assert r.detail.endswith("the real reason: quota exceeded")
    assert len(r.detail) < 700


def test_command_timeout_kills_it(tmp_path, make_ctx):
    cmd = f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(30)'"
    ctx = make_ctx(custom_channels={"slow": cmd}, custom_timeout_seconds=0.3)
    [r] = deliver(sample_payload(), ["custom:slow"], ctx)
    assert not r.ok and "timed out after 0.3s" in r.detail


def test_command_not_found(make_ctx):
    ctx = make_ctx(custom_channels={"gone": "/nonexistent/notify-me --now"})
    [r] = deliver(sample_payload(), ["custom:gone"], ctx)
    assert not r.ok and r.detail == "command not found: /nonexistent/notify-me"


def test_unknown_custom_channel_is_a_failed_receipt(make_ctx):
    ctx = make_ctx(custom_channels={"pager": "true"})
    [r] = deliver(sample_payload(), ["custom:nope"], ctx)
    assert not r.ok
    assert "unknown channel 'custom:nope'" in r.detail and "configured: pager" in r.detail


PLUGIN = textwrap.dedent(
    """
    from symbi_cron.delivery.base import Receipt

    SENT = []

    class PagerChannel:
        name = "pager"

        def send(self, payload, ctx):
            SENT.append(payload.to_dict())
            return ctx.receipt("whatever", True, "paged the on-call")

    def make_bool_channel():
        class C:
            def send(self, payload, ctx):
                return False
        return C()

    class Exploding:
        def send(self, payload, ctx):
            raise RuntimeError("plugin bug")

    def broken_factory():
        raise ImportError("missing optional dependency foo")
    """
)


def _install_plugin(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "symbi_test_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "symbi_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: symbi-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[symbi_cron.delivery]\n"
        "pager = symbi_test_plugin:PagerChannel\n"
        "boolean = symbi_test_plugin:make_bool_channel\n"
        "exploding = symbi_test_plugin:Exploding\n"
        "broken = symbi_test_plugin:broken_factory\n"
    )
    monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
    monkeypatch.delitem(sys.modules, "symbi_test_plugin", raising=False)


def test_entry_point_channels(tmp_path, make_ctx, monkeypatch):
    _install_plugin(tmp_path, monkeypatch)
    ctx = make_ctx()
    payload = sample_payload(job=sample_job(name="ep-job"))
    receipts = deliver(payload, ["custom:pager", "custom:boolean", "custom:exploding", "custom:broken"], ctx)
    by = {r.channel: r for r in receipts}
    assert [r.channel for r in receipts] == [
        "custom:pager",
        "custom:boolean",
        "custom:exploding",
        "custom:broken",
    ]
    assert by["custom:pager"].ok and by["custom:pager"].detail == "paged the on-call"
    import symbi_test_plugin  # type: ignore[import-not-found]

    assert symbi_test_plugin.SENT[0]["job"]["name"] == "ep-job"
    assert not by["custom:boolean"].ok and "reported a failure" in by["custom:boolean"].detail
    assert not by["custom:exploding"].ok and by["custom:exploding"].detail == "channel error: RuntimeError: plugin bug"
    assert not by["custom:broken"].ok and "missing optional dependency foo" in by["custom:broken"].detail


def test_config_command_wins_over_an_entry_point(tmp_path, make_ctx, monkeypatch):
    _install_plugin(tmp_path, monkeypatch)
    from symbi_cron.delivery.custom import CommandChannel

    ctx = make_ctx(custom_channels={"pager": "true"})
    assert isinstance(get_channel("custom:pager", ctx), CommandChannel)


# -- a command that leaves a child behind ------------------------------------------------------------------

# A child that leaves the command's process group (as a daemonising notifier does) and keeps the command's
# stderr open for a minute; its pid goes to a file so the test can end it.
ESCAPED_CHILD = "import os, sys, time; os.setsid(); open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"


def _command_leaving_a_child(tmp_path: Path, then: str) -> tuple[str, Path]:
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
    command, pidfile = _command_leaving_a_child(tmp_path, "echo sent >&2; exit 0")
    reap(pidfile)
    ctx = make_ctx(custom_channels={"pager": command}, custom_timeout_seconds=10)
    [receipt] = _deliver_in_thread(sample_payload(), ["custom:pager"], ctx)
    assert receipt.ok, receipt.detail  # not "timed out after 10s (killed)": the command itself exited 0
    assert receipt.detail == "sh: exit 0"


def test_a_timed_out_command_whose_child_escaped_its_group_does_not_hang_the_delivery(tmp_path, make_ctx, reap):
    command, pidfile = _command_leaving_a_child(tmp_path, "sleep 60")
    reap(pidfile)
    ctx = make_ctx(custom_channels={"pager": command}, custom_timeout_seconds=1)
    [receipt] = _deliver_in_thread(sample_payload(), ["custom:pager"], ctx)
    assert not receipt.ok
    assert receipt.detail == "sh: timed out after 1s (killed)"


def test_a_failing_command_with_a_child_behind_still_quotes_its_stderr(tmp_path, make_ctx, reap):
    command, pidfile = _command_leaving_a_child(tmp_path, "echo 'quota exceeded' >&2; exit 4")
    reap(pidfile)
    ctx = make_ctx(custom_channels={"pager": command}, custom_timeout_seconds=10)
    [receipt] = _deliver_in_thread(sample_payload(), ["custom:pager"], ctx)
    assert not receipt.ok
    assert receipt.detail == "sh: exit 4: quota exceeded"
