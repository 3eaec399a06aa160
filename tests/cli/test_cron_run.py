"""`symbi cron run` (queued for a daemon, or in the foreground) and `symbi run AGENT`, as real processes."""

from __future__ import annotations

import json

from agents.daemon_helper import wait_for


def test_foreground_run_without_a_daemon(d):
    d.add_agent("a", "echo")
    d.add_job("j", "a", delivery=["stdout", "log_file"], input="default input")
    proc = d.symbi("cron", "run", "j")
    assert proc.returncode == 0, proc.stderr
    assert "default input" in proc.stdout  # the stdout channel writes to the terminal
    assert ": succeeded (exit 0)" in proc.stderr
    proc = d.symbi("cron", "run", "j", "--input", "given", "--format", "json")
    run = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert (run["status"], run["trigger"], run["output"]) == ("succeeded", "manual", "given")
    assert "given" in (d.home / "logs" / "jobs" / "j.log").read_text()


def test_foreground_failure_exits_1(d):
    d.add_agent("bad", "fail", "6")
    d.add_job("j", "bad", delivery=[])
    proc = d.symbi("cron", "run", "j", "--wait")
    assert proc.returncode == 1
    assert "about to fail" in proc.stdout  # streamed
    assert "failed (exit 6)" in proc.stderr


def test_queued_for_the_daemon_and_wait_streams(d):
    d.add_agent("a", "echo")
    job = d.add_job("j", "a", delivery=[])
    d.start()
    proc = d.symbi("cron", "run", "j", "--input", "for the daemon")
    assert proc.returncode == 0 and "for the daemon (pid" in proc.stderr
    run_id = proc.stdout.strip()
    wait_for(
        lambda: d.query("SELECT status FROM runs WHERE id = ?", (run_id,))[0][0] == "succeeded",
        what="the daemon to run it",
    )
    proc = d.symbi("cron", "run", "j", "--input", "streamed", "--wait", timeout=30)
    assert proc.returncode == 0 and "streamed" in proc.stdout
    assert len(d.runs(job)) == 2


def test_unknown_job_and_dead_letter(d):
    assert d.symbi("cron", "run", "nope").returncode == 3
    d.add_agent("bad", "fail")
    job = d.add_job("j", "bad", max_retries=0, delivery=[])
    assert d.symbi("cron", "run", "j").returncode == 1
    assert d.query("SELECT status FROM jobs WHERE id = ?", (job,))[0][0] == "dead_letter"
    proc = d.symbi("cron", "run", "j")
    assert proc.returncode == 4 and "reset" in proc.stderr


def test_symbi_run_agent(d):
    d.add_agent("a", "echo")
    proc = d.symbi("run", "a", "--input", "once")
    assert (proc.returncode, proc.stdout) == (0, "once")
    d.add_agent("bad", "fail", "9")
    proc = d.symbi("run", "bad")
    assert proc.returncode == 9 and "something broke" in proc.stderr
    d.add_agent("slow", "sleep", "30")
    proc = d.symbi("run", "slow", "--timeout", "0.5")
    assert proc.returncode == 124
    assert d.symbi("run", "ghost").returncode == 3
    assert not d.query("SELECT * FROM runs")  # outside the scheduler: nothing recorded
