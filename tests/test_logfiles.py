"""Log files that do not grow forever (symbi_cron/logfiles.py): size rotation with backups, fd 2 following the
current file, an outside truncation noticed, and the daemon's own log rotated by [retention]."""

from __future__ import annotations

import os
import signal
import stat

import pytest

from symbi_cron.logfiles import RotatingLog, backups_of, rotate


def test_rotate_shifts_copies_and_drops_the_oldest(tmp_path):
    log = tmp_path / "x.log"
    for text in ("one", "two", "three", "four"):
        log.write_text(text)
        rotate(log, 2)
    assert not log.exists()
    assert [p.read_text() for p in backups_of(log)] == ["four", "three"]
    log.write_text("five")
    rotate(log, 0)  # no backups: emptied in place
    assert log.read_text() == "" and [p.name for p in backups_of(log)] == ["x.log.1", "x.log.2"]


def test_a_rotating_log_stays_under_its_limit_and_keeps_fd_2_on_the_current_file(tmp_path):
    path = tmp_path / "daemon.log"
    saved = os.dup(2)
    try:
        log = RotatingLog(path, max_bytes=1000, backups=2, redirect_stderr=True)
        for i in range(100):
            log.write(f"line {i:03d} " + "x" * 40 + "\n")
            log.flush()
        assert path.stat().st_size <= 1000
        os.write(2, b"a traceback\n")  # straight to fd 2, as a crash would
        assert [p.name for p in backups_of(path)] == ["daemon.log.1", "daemon.log.2"]
        assert all(p.stat().st_size <= 1000 for p in backups_of(path))
        assert path.read_text().endswith("a traceback\n") and "line 099" in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        log.configure(max_bytes=0, backups=2)  # a reload turning rotation off
        log.write("y" * 5000 + "\n")
        log.flush()
        assert path.stat().st_size > 5000 and len(backups_of(path)) == 2
        log.close()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def test_an_outside_truncation_is_noticed(tmp_path):
    path = tmp_path / "daemon.log"
    log = RotatingLog(path, max_bytes=200, backups=1)
    log.write("a" * 150 + "\n")
    log.flush()
    with open(path, "r+") as fh:  # logrotate copytruncate
        fh.truncate(0)
    log.write("b" * 100 + "\n")  # 101 bytes: under the limit once the truncation is seen
    log.flush()
    assert backups_of(path) == []
    log.close()


@pytest.mark.slow
def test_the_daemon_rotates_its_log(d):
    with open(d.home / "config.toml", "a") as fh:
        fh.write("[retention]\ndaemon_log_max_bytes = 600\ndaemon_log_backups = 2\n")
    pid = d.start()
    from agents.daemon_helper import wait_for

    def reload_until_rotated_twice() -> bool:
        os.kill(pid, signal.SIGHUP)  # each reload logs a line
        return len(backups_of(d.home / "daemon.log")) == 2

    wait_for(reload_until_rotated_twice, timeout=30, interval=0.1, what="two rotated daemon logs")
    assert all(p.stat().st_size <= 600 for p in [d.home / "daemon.log", *backups_of(d.home / "daemon.log")])
    assert d.symbi("cron", "daemon", "status", check=True).stdout.startswith("running")


def test_symbi_logs_reads_the_rotated_copies_too(d):
    from datetime import datetime, timedelta

    now = datetime.now()  # daemon.log is written in local time

    def line(minutes_ago: int, text: str) -> str:
        return f"{now - timedelta(minutes=minutes_ago):%Y-%m-%d %H:%M:%S},000 INFO symbi.scheduler: {text}\n"

    (d.home / "daemon.log.2").write_text(line(300, "five hours ago"))
    (d.home / "daemon.log.1").write_text(line(90, "ninety minutes ago") + "a continuation line\n")
    (d.home / "daemon.log").write_text(line(10, "ten minutes ago"))
    out = d.symbi("logs", "--since", "2h", check=True).stdout
    assert out.splitlines() == [
        line(90, "ninety minutes ago").rstrip("\n"),
        "a continuation line",
        line(10, "ten minutes ago").rstrip("\n"),
    ]
    assert d.symbi("logs", "--lines", "1", check=True).stdout.endswith("ten minutes ago\n")
