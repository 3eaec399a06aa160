"""Untrusted text never breaks or forges a line of the daemon's log (symbi_cron/logsafe.py)."""

from __future__ import annotations

import io
import logging
import re

import pytest

from symbi_cron.logsafe import SafeFormatter, escape_controls

FORGED = "x\n2026-01-01 00:00:00,000 ERROR symbi.scheduler: forged"
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def test_escape_controls():
    assert escape_controls("a\nb\rc\x00d\x1be\x7ff\x85g\u2028h\ti") == "a\\nb\\rc\\x00d\\x1be\\x7ff\\x85g\\u2028h\ti"
    assert escape_controls("caf\u00e9 \u2603") == "caf\u00e9 \u2603"


def _logged(fn) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("symbi.test-logsafe")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    try:
        fn(log)
    finally:
        log.removeHandler(handler)
    return stream.getvalue()


def test_a_forged_record_in_an_argument_stays_on_its_line():
    text = _logged(lambda log: log.info("run %s of job %s started", "1234", FORGED))
    assert text.count("\n") == 1 and "job x\\n2026-01-01 00:00:00,000 ERROR symbi.scheduler: forged started" in text


def test_a_traceback_is_indented_and_its_message_escaped():
    def boom(log):
        try:
            raise ValueError(FORGED)
        except ValueError:
            log.exception("failed")

    lines = _logged(boom).splitlines()
    assert RECORD_START.match(lines[0]) and lines[0].endswith("failed")
    assert all(line.startswith("  ") for line in lines[1:]) and lines[1] == "  Traceback (most recent call last):"
    assert not any(RECORD_START.match(line) for line in lines[1:])


@pytest.mark.slow
def test_the_daemon_log_escapes_a_job_name_that_tries_to_forge_a_record(tmp_path):
    """A name with a line break can no longer be written (the models refuse it), but a store written before that
    rule, or edited by hand, may hold one: the daemon's log still keeps it on its line."""
    from agents.daemon_helper import Daemon, wait_for

    d = Daemon(tmp_path / "home")
    d.add_agent("worker")
    job_id = d.add_job("plain", "worker")
    conn = d.db()
    conn.execute("UPDATE jobs SET name = ? WHERE id = ?", (FORGED, job_id))
    conn.commit()
    conn.close()
    d.start()
    try:
        d.make_due(job_id)
        wait_for(lambda: "of job x\\n2026-01-01" in d.log(), what="the run's log line")
        assert not any(line.startswith("2026-01-01 00:00:00,000 ERROR") for line in d.log().splitlines())
    finally:
        d.symbi("cron", "daemon", "stop")
        d.cleanup()


def test_the_stdout_channel_quotes_an_agents_output_in_the_daemons_log():
    """An agent's output delivered to the daemon's log (the stdout channel) cannot pass for a record of the daemon:
    each line is quoted, control characters escaped; in a terminal (no QuotedOutput) it is written as is."""
    import io
    from datetime import datetime, timezone

    from symbi_cron.delivery.base import DeliveryContext, DeliveryPayload
    from symbi_cron.delivery.stdout import StdoutChannel
    from symbi_cron.logsafe import QuotedOutput

    forged = "2026-11-29 10:00:00,000 ERROR symbi.scheduler: forged\n<0>emergency\x1b[31mred\n"
    payload = DeliveryPayload(job={"name": "j"}, run={"id": "r1", "status": "succeeded"}, output=forged)

    class Clock:
        def now(self):
            return datetime(2026, 11, 29, tzinfo=timezone.utc)

    for stream, quoted in ((QuotedOutput(io.StringIO()), True), (io.StringIO(), False)):
        ctx = DeliveryContext(settings=None, paths=None, clock=Clock(), env={}, stdout=stream)
        assert StdoutChannel().send(payload, ctx).ok
        text = getattr(stream, "stream", stream).getvalue()
        lines = text.splitlines()[1:]
        if quoted:
            assert lines == [
                "  | 2026-11-29 10:00:00,000 ERROR symbi.scheduler: forged",
                "  | <0>emergency\\x1b[31mred",
            ]
        else:
            assert text.endswith(forged)
