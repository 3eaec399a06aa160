"""Faults with a real daemon process: kill -9 mid-run, SIGTERM drain, 20 concurrent CLI writers, a full disk and
a read-only store. The full-disk test puts SYMBI_HOME on a small tmpfs and the read-only test marks the store
file immutable (`chattr +i`, which holds even for root); both skip cleanly where that is not allowed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from agents.daemon_helper import Daemon, wait_for

pytestmark = pytest.mark.slow


def _marks(path) -> list[tuple[str, str, int]]:
    """The agent's own record: (start|end, run id, pid) per line."""
    if not path.exists():
        return []
    return [(w[0], w[1], int(w[2])) for w in (line.split() for line in path.read_text().splitlines()) if w]


def _owner_pid(d, job: str) -> int:
    (run,) = [r for r in d.runs(job) if r["status"] == "running"]
    return int(run["daemon_id"].split(":")[1])


def test_kill_9_mid_run_leaves_the_run_to_its_owner_and_the_next_daemon_adopts_it(d, tmp_path):
    marks = tmp_path / "marks"
    d.add_agent("slow", "mark", str(marks), "3")
    job = d.add_job("j", "slow", retry_backoff_seconds=1)
    d.start()
    slot = d.make_due(job)
    wait_for(lambda: _marks(marks), what="the agent to start")
    owner = _owner_pid(d, job)
    d.kill9()
    # The daemon is gone; the run is not: its owner still runs the agent (the idle owners go with the daemon).
    wait_for(lambda: d.owners() == [owner], what="only the run's owner left")
    d.start()
    runs = wait_for(lambda: [r for r in d.runs(job) if r["status"] not in ("queued", "running")], what="the run")
    assert [(r["scheduled_for"], r["status"], r["trigger"]) for r in d.runs(job)] == [(slot, "succeeded", "schedule")]
    assert runs[0]["daemon_id"].startswith(f"owner:{owner}:")
    # The agent's own record: started once, ended once, never restarted.
    assert [(kind, run) for kind, run, _pid in _marks(marks)] == [("start", runs[0]["id"]), ("end", runs[0]["id"])]
    assert "adopted" in d.log()
    job_row = d.query("SELECT * FROM jobs WHERE id = ?", (job,))[0]
    assert job_row["failure_count"] == 0 and job_row["next_run"] > slot
    assert d.query("PRAGMA integrity_check")[0][0] == "ok"


def test_a_dead_owner_is_recovered_once_its_whole_session_is_gone(d, tmp_path):
    """The owner itself dies (OOM killer, kill -9 of the wrong pid): the daemon kills what its session still
    runs (the agent and the child the agent started), then records the run interrupted, then retries it."""
    pidfile = tmp_path / "child.pid"
    d.add_agent("spawner", "spawn", str(pidfile))
    job = d.add_job("j", "spawner", retry_backoff_seconds=3600, max_retries=3)
    d.start()
    d.make_due(job)
    child = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the agent's child"))
    os.kill(_owner_pid(d, job), 9)
    run = wait_for(
        lambda: [r for r in d.runs(job) if r["status"] == "interrupted"], timeout=20, what="the run recovered"
    )[0]
    assert "owner process died" in run["error_message"]
    from symbi_cron.processes import pid_alive

    assert not pid_alive(child), "the agent's child outlived the recovery"
    assert [(r["trigger"], r["status"]) for r in d.runs(job)] == [("schedule", "interrupted"), ("retry", "queued")]


def test_sigterm_drains_in_flight_runs(d):
    d.add_agent("slow", "sleep", "1.5")
    job = d.add_job("j", "slow")
    d.start()
    d.make_due(job)
    wait_for(lambda: [r for r in d.runs(job) if r["status"] == "running"], what="a running run")
    pid = d.pid
    stop = d.symbi("cron", "daemon", "stop", check=True, timeout=30)
    assert f"stopped (pid {pid})" in stop.stdout
    assert [r["status"] for r in d.runs(job)] == ["succeeded"]  # waited for it
    assert "woke" in d.runs(job)[0]["output"]


def test_sigterm_interrupts_runs_beyond_the_shutdown_timeout(tmp_path):
    d = Daemon(tmp_path / "home", shutdown_timeout_seconds=0.5)
    try:
        d.add_agent("slow", "sleep", "60")
        job = d.add_job("j", "slow", retry_backoff_seconds=3600)
        d.start()
        d.make_due(job)
        wait_for(lambda: [r for r in d.runs(job) if r["status"] == "running"], what="a running run")
        started = time.monotonic()
        d.symbi("cron", "daemon", "stop", check=True, timeout=30)
        assert time.monotonic() - started < 10
        statuses = [(r["trigger"], r["status"]) for r in d.runs(job)]
        assert ("schedule", "interrupted") in statuses
        assert "shutdown" in [r for r in d.runs(job) if r["status"] == "interrupted"][0]["error_message"]
    finally:
        d.cleanup()


def test_twenty_cli_processes_in_parallel_lose_nothing(d):
    d.add_agent("a", "echo")
    ticker = d.add_job("ticker", "a", cron="* * * * *")
    d.start()
    d.make_due(ticker)

    def worker(i: int) -> list[int]:
        codes = []
        name = f"job-{i:02d}"
        spec = json.dumps({"name": name, "agent_id": "a", "cron_expr": "*/5 * * * *"})
        codes.append(d.symbi("cron", "add", "--json", spec).returncode)
        if i % 2 == 0:
            codes.append(d.symbi("cron", "pause", name).returncode)
        if i % 5 == 0:
            codes.append(d.symbi("cron", "remove", name, "--force").returncode)
        return codes

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(worker, range(20)))
    assert all(code == 0 for codes in results for code in codes), results
    rows = {r["name"]: r["status"] for r in d.query("SELECT name, status FROM jobs")}
    expected = {f"job-{i:02d}": ("paused" if i % 2 == 0 else "active") for i in range(20) if i % 5}
    expected["ticker"] = "active"
    assert rows == expected
    created = d.query("SELECT COUNT(*) FROM audit WHERE type = 'CronJobCreated'")[0][0]
    assert created == 21  # ticker + 20
    assert d.query("PRAGMA integrity_check")[0][0] == "ok"
    verified = d.symbi("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr  # the audit chain is intact
    assert json.loads(d.symbi("cron", "daemon", "status", "--format", "json").stdout)["state"] == "running"
    wait_for(lambda: d.runs(ticker), what="the ticker's run")


def _mount_tmpfs(path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True
    )
    return proc.returncode == 0


def test_full_disk_gives_a_clear_error_and_recovers(tmp_path):
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "2m"):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    d = Daemon(mnt / "home")
    try:
        d.add_agent("a", "echo")
        job = d.add_job("j", "a")
        d.start()
        filler = mnt / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # fill the filesystem to the last block
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        proc = d.symbi("cron", "add", "--json", json.dumps({"name": "k", "agent_id": "a", "cron_expr": "* * * * *"}))
        assert proc.returncode == 1 and "full" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        filler.unlink()
        # Space is back: the daemon carries on (it never stopped) and records runs again.
        d.make_due(job)
        wait_for(lambda: [r for r in d.runs(job) if r["status"] == "succeeded"], what="a run after the disk freed")
        assert json.loads(d.symbi("cron", "daemon", "status", "--format", "json").stdout)["state"] == "running"
    finally:
        d.cleanup()  # waits until the daemon has exited: nothing holds the mount any more
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_read_only_store_gives_a_clear_error(tmp_path):
    d = Daemon(tmp_path / "home")
    d.add_agent("a", "echo")
    db = d.home / "symbi.db"
    d.symbi("cron", "list", check=True)
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        proc = d.symbi("cron", "add", "--json", json.dumps({"name": "k", "agent_id": "a", "cron_expr": "* * * * *"}))
        assert proc.returncode == 1 and "read-only" in proc.stderr, proc.stderr
        start = d.symbi("cron", "daemon", "start")
        assert start.returncode == 1
        assert "could not start" in start.stderr and "read-only" in start.stderr, start.stderr
    finally:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)
        d.cleanup()
