"""symbi_cron/outage.py: a thing that stays down is logged once, reminded at most once a minute with how long, and
its end logged once with its length (the reload listener logged a warning every second of a database outage)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from symbi_cron.clock import FakeClock
from symbi_cron.outage import Outage


def _outage(caplog, clock: FakeClock) -> Outage:
    caplog.set_level(logging.DEBUG, logger="test.outage")
    return Outage(logging.getLogger("test.outage"), "reload listener", hint="retrying", monotonic=clock.monotonic)


def test_a_70_second_outage_is_three_lines_not_71(caplog):
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    outage = _outage(caplog, clock)
    outage.ok()  # up: nothing to say
    for _ in range(70):  # one failed reconnection a second
        outage.failed(ConnectionError("connection refused"))
        clock.advance(1)
    outage.ok()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "reload listener down: connection refused; retrying",
        "reload listener still down after 60 s (61 failed attempts): connection refused",
        "reload listener back after 70 s (70 failed attempts)",
    ]
    assert {r.levelname for r in caplog.records} == {"WARNING"}
    assert not outage.down and outage.down_for() == 0


def test_reminders_come_at_most_once_a_minute_and_a_new_outage_starts_over(caplog):
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    outage = _outage(caplog, clock)
    outage.failed("refused")
    for _ in range(3):
        clock.advance(59)
        outage.failed("refused")  # 59 s after the last line: quiet
        clock.advance(1)
        outage.failed("timed out")  # 60 s: a reminder with the latest error
    assert outage.down and outage.down_for() == 180
    clock.advance(5)
    outage.ok()
    outage.ok()  # already up: nothing
    assert [r.getMessage() for r in caplog.records] == [
        "reload listener down: refused; retrying",
        "reload listener still down after 60 s (3 failed attempts): timed out",
        "reload listener still down after 2 min (5 failed attempts): timed out",
        "reload listener still down after 3 min (7 failed attempts): timed out",
        "reload listener back after 3 min (7 failed attempts)",
    ]
    caplog.clear()
    outage.failed("refused")
    clock.advance(3)
    outage.ok()
    assert [r.getMessage() for r in caplog.records] == [
        "reload listener down: refused; retrying",
        "reload listener back after 3 s (1 failed attempts)",
    ]


def test_each_new_error_is_logged_once_per_outage_when_asked(caplog):
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    caplog.set_level(logging.DEBUG, logger="test.outage")
    outage = Outage(
        logging.getLogger("test.outage"),
        "tick loop",
        states=("failing", "working again"),
        level=logging.ERROR,
        each_new_error=True,
        monotonic=clock.monotonic,
    )
    for error in ("lock timeout", "disk full", "lock timeout", "disk full", "lock timeout"):  # alternating errors
        outage.failed(error)
        clock.advance(1)
    outage.ok()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "tick loop failing: lock timeout"),
        ("ERROR", "tick loop failing: disk full"),
        ("WARNING", "tick loop working again after 5 s (5 failed attempts)"),
    ]
