"""`symbi doctor` checks the installation end to end: one line per problem and exit 1, or a summary and exit 0
(docs/operations.md, "symbi doctor"). Every problem is made for real: a config naming an unset variable, a file
left world-readable, a damaged store, a port taken by another program, a stale or lying pidfile."""

from __future__ import annotations

import json
import os
import socket

import pytest


def _doctor(d, *args: str):
    proc = d.symbi("doctor", *args)
    return proc.returncode, proc.stdout.splitlines()


def _api(d, port: int) -> None:
    cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {port}")
    (d.home / "config.toml").write_text(cfg)


@pytest.mark.slow
def test_a_healthy_installation_passes_every_check(d):
    d.start()
    code, lines = _doctor(d)
    assert code == 0, lines
    assert lines == ["ok: 7 checks passed (config, store, daemon, port, zones, disk, files)"]
    report = json.loads(d.symbi("doctor", "--format", "json").stdout)
    assert report["ok"] and [c["check"] for c in report["checks"]][:3] == ["config", "store", "daemon"]


def test_each_problem_is_one_line_and_the_exit_is_1(d):
    cfg = d.home / "config.toml"
    cfg.write_text(cfg.read_text() + '[scheduler.delivery]\nsmtp_password = "${DOCTOR_TEST_UNSET}"\n')
    os.chmod(cfg, 0o664)
    d.env.pop("DOCTOR_TEST_UNSET", None)
    code, lines = _doctor(d)
    assert code == 1
    assert (
        f"config: {cfg}: scheduler.delivery.smtp_password references ${{DOCTOR_TEST_UNSET}}, which is not set" in lines
    )
    assert "daemon: the daemon is not running: no job runs (symbi cron daemon start)" in lines
    assert f"files: {cfg} is mode 0664: others can change it (chmod 600 {cfg})" in lines
    assert len(lines) == 3, lines


def test_a_literal_secret_in_a_readable_config(d):
    cfg = d.home / "config.toml"
    cfg.write_text(cfg.read_text() + '[scheduler.delivery]\nsmtp_password = "hunter2"\n')
    os.chmod(cfg, 0o644)
    lines = _doctor(d)[1]
    assert any(
        line.startswith(f"files: {cfg} is mode 0644 and holds scheduler.delivery.smtp_password written literally")
        for line in lines
    ), lines
    os.chmod(cfg, 0o600)
    assert not any(line.startswith("files:") for line in _doctor(d)[1])


def test_a_config_that_does_not_parse(d):
    (d.home / "config.toml").write_text("[scheduler\n")
    code, lines = _doctor(d)
    assert code == 1 and any(line.startswith("config: ") and "config.toml" in line for line in lines)


def test_a_damaged_store_is_found_without_writing_to_it(d):
    d.symbi("cron", "list", check=True)  # creates the store
    db = d.home / "symbi.db"
    data = bytearray(db.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page of garbage
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    code, lines = _doctor(d)
    assert code == 1 and any(line.startswith("store: the store") and "damaged" in line for line in lines)
    assert db.read_bytes() == before


def test_the_port_must_be_free_when_the_daemon_is_stopped(d):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        _api(d, port)
        code, lines = _doctor(d)
    assert code == 1
    assert (
        f"port: port {port} on 127.0.0.1 is in use by another program: the daemon could not start (api.port)" in lines
    )


@pytest.mark.slow
def test_a_stale_or_lying_pidfile(d):
    pid = d.start()
    (d.home / "daemon.pid").write_text("1\n")  # the file no longer names the process holding its lock
    code, lines = _doctor(d)
    assert code == 1
    assert any(f"says pid 1, but pid {pid} holds its lock" in line for line in lines), lines
    (d.home / "daemon.pid").write_text(f"{pid}\n")
    d.kill9()
    code, lines = _doctor(d)
    assert any("its pidfile" in line and "is stale" in line for line in lines), lines


def test_the_probes_say_what_answers_on_the_port_or_why_nothing_does():
    from servers.http_recorder import RecordingHTTPServer, Reply

    from symbi_cron.services.doctor import probe_server
    from symbi_cron.services.health import probe_health

    with RecordingHTTPServer(Reply(200, "<html>not the daemon</html>")) as other:
        assert probe_server("127.0.0.1", other.port).startswith("BaseHTTP/")  # another program's Server header
        assert probe_health("0.0.0.0", other.port) == "HTTP 200, not JSON"  # a wildcard bind is asked on 127.0.0.1
    with RecordingHTTPServer(Reply(200, {"status": "healthy", "reasons": []})) as daemon_like:
        assert probe_health("127.0.0.1", daemon_like.port) == {"status": "healthy", "reasons": []}
        assert [r.path for r in daemon_like.requests] == ["/api/v1/health/scheduler"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert probe_server("127.0.0.1", free) is None
    assert probe_health("127.0.0.1", free) == "[Errno 111] Connection refused"
