"""Run owners through real daemons (issue 13): a restart leaves runs running, a dead owner's deliveries are sent
again with the same idempotency key, nothing stays stuck when the store refuses a write for half a minute, a run
past its deadline is reported, one unreadable job never stops the others, a deleted store stops the daemon, and no
secret of the configuration reaches an agent that did not ask for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from agents.daemon_helper import Daemon, wait_for
from servers.http_recorder import RecordingHTTPServer, Reply

pytestmark = pytest.mark.slow


def _marks(path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [(w[0], w[1]) for w in (line.split() for line in path.read_text().splitlines()) if w]


def _owner_pid(d, job: str) -> int:
    (run,) = [r for r in d.runs(job) if r["status"] == "running"]
    return int(run["daemon_id"].split(":")[1])


def test_restart_leaves_the_run_running_and_the_new_daemon_adopts_it(d, tmp_path):
    marks = tmp_path / "marks"
    d.add_agent("slow", "mark", str(marks), "2")
    job = d.add_job("j", "slow")
    d.start()
    d.make_due(job)
    wait_for(lambda: _marks(marks), what="the agent to start")
    old = d.pid
    d.symbi("cron", "daemon", "restart", check=True, timeout=30)
    assert d.pid != old
    run = wait_for(lambda: [r for r in d.runs(job) if r["status"] == "succeeded"], what="the run")[0]
    assert [r["status"] for r in d.runs(job)] == ["succeeded"]
    assert [kind for kind, _run in _marks(marks)] == ["start", "end"]  # not restarted, not interrupted
    assert run["id"] in {r for _k, r in _marks(marks)}
    assert "leaving 1 run(s) running" in d.log() and "adopted run" in d.log()


def test_stop_leave_running_then_start(d, tmp_path):
    marks = tmp_path / "marks"
    d.add_agent("slow", "mark", str(marks), "1.5")
    job = d.add_job("j", "slow")
    d.start()
    d.make_due(job)
    wait_for(lambda: _marks(marks), what="the agent to start")
    out = d.symbi("cron", "daemon", "stop", "--leave-running", check=True, timeout=30)
    assert "stopped" in out.stdout
    # No daemon; the run finishes under its owner and records itself.
    wait_for(lambda: [r for r in d.runs(job) if r["status"] == "succeeded"], what="the run, daemon-less")
    assert [kind for kind, _run in _marks(marks)] == ["start", "end"]


def test_a_dead_owner_s_deliveries_are_sent_again_with_the_same_idempotency_key(d):
    gate = threading.Event()
    seen: list[str] = []

    def handler(rec):
        seen.append(rec.header("Idempotency-Key"))
        if len(seen) == 1:
            gate.wait(30)  # the first attempt hangs: its owner is killed meanwhile
        return Reply(200)

    with RecordingHTTPServer(handler=handler) as hook:
        d.add_agent("a", "echo")
        job = d.add_job("j", "a", delivery=["webhook"], webhook_url=hook.url("/hook"), input="hi")
        d.start()
        d.make_due(job)
        wait_for(lambda: seen, what="the first delivery attempt")
        run = d.runs(job)[0]
        assert run["status"] == "succeeded"
        owner = int(run["daemon_id"].split(":")[1])
        assert d.query("SELECT channel FROM outbox WHERE run_id = ?", (run["id"],))[0][0] == "webhook"
        os.kill(owner, signal.SIGKILL)  # the webhook was sent, the receipt never written
        gate.set()
        wait_for(lambda: d.query("SELECT * FROM deliveries WHERE run_id = ?", (run["id"],)), timeout=20, what="receipt")
        assert seen == [run["id"], run["id"]]  # sent again, with the run id as its idempotency key
        (receipt,) = d.query("SELECT * FROM deliveries WHERE run_id = ?", (run["id"],))
        assert receipt["ok"] == 1
        assert d.query("SELECT COUNT(*) FROM outbox")[0][0] == 0
        assert [r["status"] for r in d.runs(job)] == ["succeeded"]  # the run itself was never touched


def _mount_tmpfs(path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode == 0


def _fill(path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_an_outcome_the_store_refuses_for_half_a_minute_is_recorded_when_it_comes_back(tmp_path):
    """The store's disk is full when the agent ends: its owner keeps trying (it used to give up after 8 attempts,
    ~22 s, and the run stayed `running` for ever); the next slot is not skipped behind a wedged run."""
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "2m"):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    d = Daemon(mnt / "home")
    marks = tmp_path / "marks"  # the agent's own record, off the full disk
    try:
        d.add_agent("a", "mark", str(marks), "1")
        job = d.add_job("j", "a", max_retries=0)
        d.start()
        d.make_due(job)
        wait_for(lambda: _marks(marks), what="the agent to start")
        _fill(mnt / "filler")
        wait_for(lambda: len(_marks(marks)) == 2, what="the agent to end")
        wait_for(lambda: "cannot record the outcome" in d.log(), what="the refused write logged")
        time.sleep(30)  # the outage outlasts the old 8 attempts (~22 s); nothing to poll for: the run must wait
        assert [r["status"] for r in d.runs(job)] == ["running"]
        (mnt / "filler").unlink()
        run = wait_for(lambda: [r for r in d.runs(job) if r["status"] == "succeeded"], timeout=20, what="the run")
        assert len(run) == 1 and len(d.runs(job)) == 1
        d.make_due(job)  # the job is not wedged: its next slot runs
        wait_for(lambda: len([r for r in d.runs(job) if r["status"] == "succeeded"]) == 2, what="the next slot")
    finally:
        d.cleanup()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_run_past_its_deadline_is_reported(d):
    """A frozen owner cannot enforce max_runtime: the daemon says so in its log and in its health snapshot."""
    d.add_agent("slow", "sleep", "60")
    job = d.add_job("j", "slow", policy={"max_runtime": 1})
    d.start()
    d.make_due(job)
    wait_for(lambda: [r for r in d.runs(job) if r["status"] == "running"], what="a running run")
    owner = _owner_pid(d, job)
    os.kill(owner, signal.SIGSTOP)
    try:
        wait_for(lambda: "past its max_runtime" in d.log(), timeout=30, what="the overdue run reported")
        assert d.runs(job)[0]["status"] == "running"
    finally:
        os.kill(owner, signal.SIGCONT)
    wait_for(lambda: d.runs(job)[0]["status"] == "timed_out", what="the run timed out once the owner thawed")


def test_one_unreadable_job_is_flagged_and_never_stops_the_others(d):
    d.add_agent("a", "echo")
    bad = d.add_job("bad", "a")
    good = d.add_job("good", "a")
    conn = d.db()
    try:
        conn.execute("UPDATE jobs SET spec = '{not json' WHERE id = ?", (bad,))
        conn.commit()
    finally:
        conn.close()
    d.start()
    d.make_due(bad)
    d.make_due(good)
    wait_for(lambda: [r for r in d.runs(good) if r["status"] == "succeeded"], what="the good job's run")
    row = d.query("SELECT status, next_run FROM jobs WHERE id = ?", (bad,))[0]
    assert row["status"] == "failed" and row["next_run"] is None
    assert "could not be scheduled" in d.log()
    assert d.runs(bad) == []


def test_a_deleted_store_stops_the_daemon_with_a_clear_error(d):
    d.add_agent("a", "echo")
    d.start()
    pid = d.pid
    for name in ("symbi.db", "symbi.db-wal", "symbi.db-shm"):
        try:
            os.unlink(d.home / name)
        except FileNotFoundError:
            pass
    from symbi_cron.processes import pid_alive

    wait_for(lambda: not pid_alive(pid), timeout=15, what="the daemon to stop")
    assert "was deleted while the daemon ran" in d.log()
    assert json.loads(d.symbi("cron", "daemon", "status", "--format", "json").stdout)["state"] != "running"


def test_no_secret_of_the_configuration_reaches_an_agent_that_did_not_ask(d):
    """The API key, the SMTP password, a webhook header token: referenced by config.toml as ${VAR}, set in the
    daemon's environment, never in an agent's (unless it names one in its env, and then it is masked)."""
    with open(d.home / "config.toml", "a") as fh:
        fh.write('[scheduler.delivery]\nsmtp_password = "${SMTP_PW_SECRET}"\nwebhook_auth_header = "${HOOK_SECRET}"\n')
    cfg = (
        (d.home / "config.toml")
        .read_text()
        .replace("[api]\nenabled = false", '[api]\nenabled = false\nkey = "${MY_API_KEY}"')
    )
    (d.home / "config.toml").write_text(cfg)
    d.env.update(MY_API_KEY="api-key-value-123", SMTP_PW_SECRET="smtp-pw-value-456", HOOK_SECRET="hook-789-value")
    d.env["INNOCENT_VAR"] = "plain"
    d.add_agent("plain", "allenv")
    d.symbi(
        "agent", "add", "asks", "--command", _allenv(), "--env", "PW=${SMTP_PW_SECRET}", "--inherit-env", check=True
    )
    plain = d.add_job("plain", "plain")
    asks = d.add_job("asks", "asks")
    d.start()
    d.make_due(plain)
    d.make_due(asks)
    wait_for(
        lambda: [r["status"] for r in d.runs(plain) + d.runs(asks)] == ["succeeded", "succeeded"], what="both runs"
    )
    plain_env = json.loads(d.runs(plain)[0]["output"])
    asks_env = json.loads(d.runs(asks)[0]["output"])
    for env in (plain_env, asks_env):
        assert "MY_API_KEY" not in env and "SMTP_PW_SECRET" not in env and "HOOK_SECRET" not in env
    assert "INNOCENT_VAR" not in plain_env  # cron's minimal environment
    assert asks_env["INNOCENT_VAR"] == "plain"  # inherit_env
    assert asks_env["PW"] == "***"  # named in its env: it got it, and the record masks it
    everything = (d.home / "daemon.log").read_text() + "".join(
        p.read_text() for p in (d.home / "logs" / "runs").glob("*.log")
    )
    for secret in ("api-key-value-123", "smtp-pw-value-456", "hook-789-value"):
        assert secret not in everything


def _allenv() -> str:
    from agents.daemon_helper import agent_command

    return agent_command("allenv")


def test_a_reload_reaches_the_owners_already_forked(d):
    """Owners are kept between runs: a reloaded setting (here output_cap_bytes) applies to their next run."""
    d.add_agent("big", "big", "5000")
    job = d.add_job("j", "big", delivery=[])
    d.start()
    d.make_due(job)
    wait_for(lambda: [r for r in d.runs(job) if r["status"] == "succeeded"], what="the first run")
    assert "truncated" not in d.runs(job)[0]["output"]
    with open(d.home / "config.toml", "a") as fh:
        fh.write("output_cap_bytes = 1024\n")  # the file ends in the [scheduler] section
    d.symbi("cron", "daemon", "reload", check=True)
    wait_for(lambda: "output_cap_bytes" in d.log(), what="the reload")
    d.make_due(job, in_seconds=1)  # the next whole second: a slot of its own (slots are unique per job)
    wait_for(lambda: len([r for r in d.runs(job) if r["status"] == "succeeded"]) == 2, what="the second run")
    assert "[output truncated at 1024 bytes of 5000" in d.runs(job)[1]["output"]


_CARRY_IMPORTS = r"""
import json, os, sys
from symbi_cron.runtime import forkserver
forkserver.preload()
from symbi_cron.runtime.owner import RunOwner, _begin_gated
from symbi_cron.services.app import open_app
from symbi_cron.services.runs import queue_manual

app = open_app(dict(os.environ), actor="test", notify=False)
run = queue_manual(app, "j")
owner_id = "owner:%d:test:host:-" % os.getpid()
begun = _begin_gated(app, run["id"], owner_id, app.clock.now(), "test")  # the daemon's part
before = set(sys.modules)
done = RunOwner(app, owner_id, agents_in_own_session=False).carry(run["id"], begun)  # the owner's part
print(json.dumps({"status": done["status"], "imported": sorted(set(sys.modules) - before)}))
"""


def test_an_owner_imports_nothing_when_it_carries_a_run(d):
    """Everything a run needs is imported by the fork server before it forks owners: an import at a run compiles
    modules in every owner (milliseconds each, and a burst's runs are their owners' first)."""
    d.add_agent("a", "echo")
    d.add_job("j", "a")
    out = subprocess.run(
        [sys.executable, "-c", _CARRY_IMPORTS], env=d.env, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "succeeded"
    assert [m for m in result["imported"] if m.startswith("symbi_cron")] == []


def test_a_fork_server_whose_daemon_leaves_while_it_forks_ends_quietly(home):
    """A daemon that stops while owners are being forked for it (a stop lets the owners of prepared runs go, and
    the pool asks for others) is no failure of the fork server: it ends with 0, not with a traceback."""
    from symbi_cron.config import Settings
    from symbi_cron.paths import resolve
    from symbi_cron.runtime.forkserver import ForkServer

    server = ForkServer(resolve(), dict(os.environ), Settings())
    server.request(3)
    server.sock.close()  # the daemon leaves at once: the request is still there to read
    _, status = os.waitpid(server.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_an_agent_starts_with_no_signal_ignored_or_blocked(d):
    """The owner ignores Ctrl-C and hang-ups and takes TERM, USR1 and USR2 itself; its agent starts with every
    signal at its default (an ignored signal would pass through exec: a shell agent could not even trap it)."""
    d.symbi("agent", "add", "sigs", "--command", "cat /proc/self/status", check=True)
    job = d.add_job("sigs", "sigs")
    d.start()
    d.make_due(job)
    wait_for(lambda: [r["status"] for r in d.runs(job)] == ["succeeded"], what="the run")
    status = dict(line.split(":\t", 1) for line in d.runs(job)[0]["output"].splitlines() if ":\t" in line)
    assert int(status["SigIgn"], 16) == 0, f"ignored: {status['SigIgn']}"
    assert int(status["SigBlk"], 16) == 0, f"blocked: {status['SigBlk']}"
