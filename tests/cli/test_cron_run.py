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


def _normalised(text: str) -> str:
    """The streamed log without what differs from run to run (durations, run ids)."""
    import re

    text = re.sub(r"after \d+ ms", "after N ms", text)
    return re.sub(r"run [0-9a-f]{8}", "run RUN", text)


def test_wait_prints_the_same_whether_the_daemon_runs_the_job_or_the_command_does(d):
    d.add_agent("bad", "fail", "4")
    d.add_job("j", "bad", delivery=[], max_retries=5, retry_backoff_seconds=3600)
    here = d.symbi("cron", "run", "j", "--wait", timeout=30)
    d.start()
    there = d.symbi("cron", "run", "j", "--wait", timeout=30)
    assert here.returncode == there.returncode == 1
    assert "about to fail" in here.stdout and "[stderr] something broke" in here.stdout
    assert _normalised(here.stdout) == _normalised(there.stdout)
    assert _normalised(here.stderr.splitlines()[-1]) == _normalised(there.stderr.splitlines()[-1])


def _interrupted_wait(d, *args: str):
    """`symbi cron run ... --wait` interrupted by Ctrl-C (SIGINT) once the agent has started."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "symbi_cron", "cron", "run", "j", "--wait", *args],
        env=d.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background suite ignores SIGINT
    )
    wait_for(lambda: d.query("SELECT 1 FROM runs WHERE status = 'running'"), what="the run to start")
    wait_for(lambda: list((d.home / "logs" / "runs").glob("*.log")), what="the agent's log")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_ctrl_c_stops_the_waiting_and_the_run_goes_on(d):
    d.add_agent("slow", "sleep", "2")
    job = d.add_job("j", "slow", delivery=[])
    code, _out, err = _interrupted_wait(d)  # no daemon: the command forked the run's owner
    assert code == 130
    assert "stopped waiting; run" in err and "continues" in err
    wait_for(lambda: [r["status"] for r in d.runs(job)] == ["succeeded"], what="the run to finish on its own")


def test_ctrl_c_with_cancel_on_interrupt_cancels_the_run(d):
    d.add_agent("slow", "sleep", "30")
    job = d.add_job("j", "slow", delivery=[], retry_backoff_seconds=0)
    d.start()
    code, _out, err = _interrupted_wait(d, "--cancel-on-interrupt")
    assert code == 130 and "cancelling run" in err
    runs = d.runs(job)
    assert [(r["status"], r["trigger"]) for r in runs] == [("cancelled", "manual")]  # not a failure: no retry
    assert d.query("SELECT failure_count FROM jobs WHERE id = ?", (job,))[0][0] == 0
    events = [r["type"] for r in d.query("SELECT type FROM audit ORDER BY seq")]
    assert "CronRunCancelled" in events


def test_cron_cancel_a_queued_and_a_running_run(d):
    d.add_agent("slow", "sleep", "30")
    job = d.add_job("j", "slow", delivery=[])
    d.start()
    running = d.symbi("cron", "run", "j", check=True).stdout.strip()
    wait_for(lambda: d.query("SELECT status FROM runs WHERE id = ?", (running,))[0][0] == "running", what="running")
    queued = d.symbi("cron", "run", "j", check=True).stdout.strip()  # waits: the job is at its max_concurrent
    out = d.symbi("cron", "cancel", queued[:8], check=True).stdout
    assert out.startswith(f"run {queued[:8]}: cancelled")
    out = d.symbi("cron", "cancel", running[:8], check=True, timeout=60).stdout
    assert out.startswith(f"run {running[:8]}: cancelled: cancelled on request")
    assert sorted(r["status"] for r in d.runs(job)) == ["cancelled", "cancelled"]
    again = d.symbi("cron", "cancel", running[:8])
    assert again.returncode == 4 and "already cancelled" in again.stderr


def test_cron_run_with_format_json_prints_only_the_run_on_stdout(d):
    # `symbi cron run J --wait --format json | jq` got the agent's streamed output (and the stdout channel's)
    # ahead of the JSON object.
    d.add_agent("a", "echo")
    d.add_job("j", "a", delivery=["stdout", "log_file"], input="the output")
    for args in ((), ("--wait",)):
        proc = d.symbi("cron", "run", "j", *args, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        run = json.loads(proc.stdout)
        assert run["status"] == "succeeded" and run["output"] == "the output"
        assert "the output" in proc.stderr  # still shown to the person at the terminal
    d.start()
    proc = d.symbi("cron", "run", "j", "--wait", "--format", "json", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == "the output" and "the output" in proc.stderr
