"""stdout and log_file channels, the router's guarantees, and receipts in a real SQLite store."""

from __future__ import annotations

import io
import json
import stat
import threading
from datetime import datetime, timezone

import pytest
from delivery_samples import sample_job, sample_payload

from symbi_cron.delivery.base import Receipt
from symbi_cron.delivery.router import deliver
from symbi_cron.store.deliveries import failed_delivery_count, load_receipts, save_receipts


def test_stdout_writes_a_header_and_the_output(make_ctx):
    out = io.StringIO()
    [r] = deliver(sample_payload(output="line 1\nline 2"), ["stdout"], make_ctx(stdout=out))
    assert r.ok and r.attempts == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "[2026-11-27T12:00:00+00:00] job nightly-report run 0b7e9d1a-0000-4000-8000-0000000000aa succeeded "
        "(1.25s, schedule, exit 0)"
    )
    assert lines[1:] == ["line 1", "line 2"]


def test_log_file_appends_blocks_to_a_private_file(make_ctx, home):
    ctx = make_ctx()
    deliver(sample_payload(output="first ✓\n"), ["log_file"], ctx)
    [r] = deliver(
        sample_payload(output="second", status="failed", exit_code=2, error_message="exit 2"),
        ["log_file"],
        ctx,
    )
    path = ctx.paths.job_log("nightly-report")
    assert r.ok and str(path) in r.detail
    assert path.parent == home / "logs" / "jobs"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert text == (
        "=== 2026-11-27T12:00:00+00:00 run 0b7e9d1a-0000-4000-8000-0000000000aa succeeded"
        " (schedule, 1.25s, exit 0) ===\n"
        "first ✓\n"
        "=== 2026-11-27T12:00:00+00:00 run 0b7e9d1a-0000-4000-8000-0000000000aa failed"
        " (schedule, 1.25s, exit 2) ===\n"
        "error: exit 2\n"
        "second\n"
    )


def test_log_file_concurrent_runs_do_not_interleave(make_ctx):
    ctx = make_ctx()
    big = {i: (f"run-{i}:" + "x" * 200_000 + "\n") for i in range(6)}

    def one(i: int) -> None:
        deliver(sample_payload(output=big[i], id=f"run-{i}"), ["log_file"], ctx)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = ctx.paths.job_log("nightly-report").read_text()
    blocks = text.split("=== ")[1:]
    assert len(blocks) == 6
    for b in blocks:
        run = b.split(" run ", 1)[1].split(" ", 1)[0]
        assert b.split("\n", 1)[1] == big[int(run.split("-")[1])]


def test_log_file_unwritable_is_a_failed_receipt(make_ctx, home):
    ctx = make_ctx()
    jobs_dir = ctx.paths.jobs_log_dir
    jobs_dir.parent.mkdir(parents=True, exist_ok=True)
    jobs_dir.write_text("a file where the directory should be")
    [r] = deliver(sample_payload(), ["log_file"], ctx)
    assert not r.ok and r.detail.startswith("cannot write ")


def test_router_one_receipt_per_channel_in_order_and_never_raises(make_ctx):
    out = io.StringIO()
    receipts = deliver(
        sample_payload(), ["stdout", "webhook", "custom:missing", "stdout", "log_file"], make_ctx(stdout=out)
    )
    assert [(r.channel, r.ok) for r in receipts] == [
        ("stdout", True),
        ("webhook", False),
        ("custom:missing", False),
        ("log_file", True),
    ]
    assert all(r.at == datetime(2026, 11, 27, 12, tzinfo=timezone.utc) for r in receipts)


def test_router_logs_failures_as_warnings(make_ctx, caplog):
    caplog.set_level("INFO", logger="symbi_cron.delivery")
    deliver(sample_payload(), ["webhook", "stdout"], make_ctx())
    warn = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warn) == 1 and "delivery webhook for job nightly-report" in warn[0].getMessage()
    assert "FAILED" in warn[0].getMessage()


def _job_and_run(app, run_ids):
    with app.store.write() as conn:
        conn.execute(
            "INSERT INTO jobs (id, name, agent_id, status, spec, created_at, updated_at) "
            "VALUES ('j1', 'nightly-report', 'a', 'active', '{}', 0, 0)"
        )
        for i, rid in enumerate(run_ids):
            conn.execute(
                "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, created_at, updated_at) "
                "VALUES (?, 'j1', 'schedule', 'succeeded', ?, 0, 0)",
                (rid, i),
            )


def test_receipts_round_trip_in_the_store(app):
    _job_and_run(app, ["r1", "r2", "r3"])
    t = datetime(2026, 11, 27, 12, 0, 0, 123000, tzinfo=timezone.utc)
    with app.store.write() as conn:
        save_receipts(
            conn,
            "r1",
            [
                Receipt("log_file", True, "appended", 1, t),
                Receipt("webhook", False, "POST http://127.0.0.1:1: HTTP 500", 4, t),
            ],
        )
        save_receipts(conn, "r2", [Receipt("slack", True, None, 1, t)])
        # a re-delivery replaces the row for that channel
        save_receipts(conn, "r2", [Receipt("slack", False, "channel_not_found", 2, t)])
    got = load_receipts(app.store.connection(), ["r1", "r2", "r3"])
    assert set(got) == {"r1", "r2"}
    assert got["r1"] == [
        {"channel": "log_file", "ok": True, "detail": "appended", "attempts": 1, "at": t},
        {
            "channel": "webhook",
            "ok": False,
            "detail": "POST http://127.0.0.1:1: HTTP 500",
            "attempts": 4,
            "at": t,
        },
    ]
    assert got["r2"] == [{"channel": "slack", "ok": False, "detail": "channel_not_found", "attempts": 2, "at": t}]
    assert failed_delivery_count(app.store.connection()) == 2


def test_load_receipts_for_many_runs(app):
    ids = [f"r{i}" for i in range(1200)]
    _job_and_run(app, ids)
    t = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
    with app.store.write() as conn:
        for rid in ids:
            save_receipts(conn, rid, [Receipt("stdout", True, None, 1, t)])
    got = load_receipts(app.store.connection(), ids)
    assert len(got) == 1200


def test_payload_omits_job_configuration():
    job = sample_job(
        webhook_headers={"Authorization": "Bearer x"},
        email_recipients=["a@b.c"],
        custom={"slack_webhook_url": "https://hooks.slack.com/services/T/B/zzz"},
        agent_pin_jwt="${PIN}",
    )
    body = sample_payload(job=job).to_dict()
    assert set(body["job"]) == {"id", "name", "agent_id", "timezone"}


# -- the log_file channel through the CLI: one file per job, whatever the job's name -------------------------------


def _job(cli, name: str, **fields) -> str:
    spec = {"name": name, "agent_id": "echoer", "cron_expr": "0 9 * * *", **fields}
    return cli("cron", "add", "--json", json.dumps(spec), ok=True).stdout.strip()


@pytest.fixture
def echoer(cli):
    cli("agent", "add", "echoer", "--command", "echo hello", ok=True)


def test_jobs_whose_names_differ_only_in_punctuation_keep_separate_log_files(cli, home, echoer):
    # "a/b" used to become logs/jobs/a_b.log, the file of the job named "a_b": one job's log held the other's runs.
    for name in ("a/b", "a_b", "a b"):
        _job(cli, name, delivery=["log_file"])
        cli("cron", "run", name, "--wait", ok=True)
    files = sorted((home / "logs" / "jobs").iterdir())
    assert len(files) == 3
    assert (home / "logs" / "jobs" / "a_b.log") in files  # a plain name keeps its plain file name
    for f in files:
        assert f.read_text().count("=== ") == 1  # one run each


def test_a_long_unicode_job_name_still_gets_its_log_file(cli, home, echoer):
    # 200 characters of "é" are 400 bytes: over the 255-byte file-name limit, so log_file delivery failed.
    name = "é" * 200
    _job(cli, name, delivery=["log_file"])
    cli("cron", "run", name, "--wait", ok=True)
    run = json.loads(cli("cron", "history", name, "--format", "json", ok=True).stdout)[0]
    assert [(d["channel"], d["ok"]) for d in run["deliveries"]] == [("log_file", True)], run["deliveries"]
    [log] = (home / "logs" / "jobs").iterdir()
    assert len(log.name.encode()) < 255 and "hello" in log.read_text()
