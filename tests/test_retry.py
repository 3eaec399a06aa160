"""symbi_cron.retry, the one retry loop: waits, limits, the deadline and cancellation on an injected clock (waits are
recorded, not slept), one cancellation on the real clock, and the loop around real HTTP calls (tests/servers)."""

from __future__ import annotations

import threading
import time

import pytest
from servers.http_recorder import RecordingHTTPServer, Reply

from symbi_cron import net, retry
from symbi_cron.retry import Again, Backoff, GaveUp


class Clock:
    """Time that moves only when the loop waits (or the test says)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def answers(*outcomes):
    """An attempt that gives ``outcomes`` in turn (an exception instance is raised), recording each Try."""
    tries: list[retry.Try] = []
    queue = list(outcomes)

    def attempt(t: retry.Try):
        tries.append(t)
        outcome = queue.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    attempt.tries = tries  # type: ignore[attr-defined]
    return attempt


def test_backoff_doubles_up_to_its_cap():
    assert [Backoff(1.0).wait(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert [Backoff(0.5, cap=3).wait(n) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]
    assert Backoff(0).wait(4) == 0


def test_the_first_answer_that_is_not_again_is_returned():
    clock = Clock()
    attempt = answers(Again("503"), Again("503"), "done")
    assert retry.run(attempt, retries=5, backoff=Backoff(1.0), clock=clock, sleep=clock.sleep) == "done"
    assert [t.number for t in attempt.tries] == [1, 2, 3]
    assert clock.waits == [1.0, 2.0]


def test_a_wait_the_other_side_asked_for_replaces_the_backoff():
    clock = Clock()
    attempt = answers(Again("429", after=7.0), Again("500"), "done")
    retry.run(attempt, retries=5, backoff=Backoff(1.0), clock=clock, sleep=clock.sleep)
    assert clock.waits == [7.0, 2.0]


def test_no_wait_means_no_sleep():
    clock = Clock()
    retry.run(answers(Again("x", after=0), "done"), retries=1, backoff=Backoff(0), clock=clock, sleep=clock.sleep)
    assert clock.waits == []


def test_retries_spent_is_exhausted_with_the_last_answer():
    clock = Clock()
    with pytest.raises(GaveUp) as caught:
        retry.run(
            answers(Again("a"), Again("b"), Again("c", value=42)), retries=2, backoff=Backoff(1), sleep=clock.sleep
        )
    stop = caught.value
    assert (stop.why, stop.attempts, stop.last.detail, stop.last.value) == (retry.EXHAUSTED, 3, "c", 42)
    assert str(stop) == "exhausted: c"
    assert clock.waits == [1, 2]


def test_no_retries_means_one_attempt():
    with pytest.raises(GaveUp) as caught:
        retry.run(answers(Again("a")), retries=0, backoff=Backoff(1), sleep=pytest.fail)
    assert (caught.value.why, caught.value.attempts) == (retry.EXHAUSTED, 1)


def test_without_a_limit_it_goes_on_until_an_answer():
    clock = Clock()
    attempt = answers(*[Again("store busy")] * 30, None)
    assert retry.run(attempt, retries=None, backoff=Backoff(0.2, cap=5), clock=clock, sleep=clock.sleep) is None
    assert len(attempt.tries) == 31 and max(clock.waits) == 5 and clock.waits[:3] == [0.2, 0.4, 0.8]


def test_an_exception_is_the_callers_and_never_retried():
    attempt = answers(Again("a"), ValueError("not retryable"))
    with pytest.raises(ValueError, match="not retryable"):
        retry.run(attempt, retries=5, backoff=Backoff(0))
    assert len(attempt.tries) == 2


def test_a_wait_longer_than_max_wait_is_too_long():
    clock = Clock()
    with pytest.raises(GaveUp) as caught:
        retry.run(answers(Again("429", after=600)), retries=3, backoff=Backoff(1), max_wait=300, sleep=clock.sleep)
    assert (caught.value.why, caught.value.wait, caught.value.attempts) == (retry.TOO_LONG, 600, 1)
    assert clock.waits == []


def test_a_wait_that_would_end_past_the_deadline_gives_up_before_waiting():
    clock = Clock()
    attempt = answers(Again("a"), Again("b"), Again("c"))
    with pytest.raises(GaveUp) as caught:
        retry.run(attempt, retries=9, backoff=Backoff(2), deadline=clock() + 5, clock=clock, sleep=clock.sleep)
    # waits 2 (ends at +2), then 4 would end at +6: past the deadline at +5
    assert (caught.value.why, caught.value.wait, caught.value.last.detail) == (retry.DEADLINE, 4, "b")
    assert clock.waits == [2]


def test_each_try_knows_the_time_left_and_cuts_its_timeout_to_it():
    clock = Clock()
    seen: list[tuple[float | None, float]] = []

    def attempt(t: retry.Try):
        seen.append((t.left(), t.timeout(10.0)))
        clock.now += 3  # the call took 3 s
        return Again("slow")

    with pytest.raises(GaveUp) as caught:
        retry.run(attempt, retries=9, backoff=Backoff(0.5), deadline=clock() + 12, clock=clock, sleep=clock.sleep)
    # tries at +0, +3.5 (3 s call, 0.5 s wait), +7.5; then a 2 s wait would end at +12.5, past the deadline
    assert seen == [(12, 10.0), (8.5, 8.5), (4.5, 4.5)]
    assert (caught.value.why, caught.value.wait) == (retry.DEADLINE, 2)
    no_deadline = retry.Try(1, None, clock)
    assert no_deadline.left() is None and no_deadline.timeout(10.0) == 10.0


def test_a_try_with_no_time_left_gives_up():
    clock = Clock()
    with pytest.raises(GaveUp) as caught:
        retry.Try(3, clock() - 1, clock).timeout(10.0)
    assert (caught.value.why, caught.value.attempts, caught.value.wait) == (retry.DEADLINE, 2, None)


def test_cancelled_before_an_attempt_or_during_a_wait():
    cancel = threading.Event()
    cancel.set()
    attempt = answers("never")
    with pytest.raises(GaveUp) as caught:
        retry.run(attempt, retries=3, backoff=Backoff(1), cancel=cancel)
    assert (caught.value.why, caught.value.attempts, attempt.tries) == (retry.CANCELLED, 0, [])

    cancel = threading.Event()
    clock = Clock()

    def sleep(seconds: float) -> None:  # a shutdown arrives while it waits
        clock.sleep(seconds)
        cancel.set()

    with pytest.raises(GaveUp) as caught:
        retry.run(answers(Again("a"), "never"), retries=3, backoff=Backoff(1), sleep=sleep, cancel=cancel)
    assert (caught.value.why, caught.value.attempts, caught.value.last.detail) == (retry.CANCELLED, 1, "a")


def test_a_cancel_wakes_a_wait_on_the_real_clock_at_once():
    cancel = threading.Event()
    timer = threading.Timer(0.1, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(GaveUp) as caught:
        retry.run(answers(Again("a"), "never"), retries=3, backoff=Backoff(600), cancel=cancel)
    assert caught.value.why == retry.CANCELLED
    assert time.monotonic() - started < 60  # not the 600 s wait
    timer.join()


def test_on_retry_is_told_each_failed_attempt_and_its_wait_before_waiting():
    clock = Clock()
    told: list[tuple[str, int, float, list[float]]] = []
    retry.run(
        answers(Again("a"), Again("b", after=5), "ok"),
        retries=3,
        backoff=Backoff(1),
        clock=clock,
        sleep=clock.sleep,
        on_retry=lambda again, n, wait: told.append((again.detail, n, wait, list(clock.waits))),
    )
    assert told == [("a", 1, 1, []), ("b", 2, 5, [1])]


# -- around real HTTP calls ------------------------------------------------------------------------------------
def test_retrying_a_real_call_honours_retry_after_then_succeeds():
    clock = Clock()

    with RecordingHTTPServer() as srv:
        srv.script(Reply(503, "busy", {"Retry-After": "2"}), Reply(502, "bad gateway"), Reply(200, "ok"))

        def attempt(t: retry.Try):
            answer = net.request("POST", srv.url("/hook"), body=b"x", timeout=t.timeout(5.0))
            if answer.status >= 500:
                return Again(f"HTTP {answer.status}", after=net.retry_after(answer.headers))
            return answer

        answer = retry.run(attempt, retries=3, backoff=Backoff(0.5), clock=clock, sleep=clock.sleep)
        assert answer.body == b"ok" and len(srv.requests) == 3
    assert clock.waits == [2.0, 1.0]
