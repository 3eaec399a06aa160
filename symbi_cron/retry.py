"""The one retry loop: what symbi retries in-process goes through :func:`run` -- an outbound HTTP call (a webhook
or Slack delivery, a model call) and a store write that must land (a run's outcome, a delivery receipt).

The caller writes one attempt; the loop decides when to try again::

    def attempt(t: Try):
        answer = net.request("POST", url, body=body, timeout=t.timeout(10.0))
        if answer.ok:
            return answer                                   # done: run() returns it
        if answer.status >= 500:
            return Again(f"HTTP {answer.status}")           # another attempt, after the backoff's wait
        raise SomeError(...)                                # done: the exception reaches the caller

    run(attempt, retries=3, backoff=Backoff(1.0, cap=30.0), deadline=clock() + 60, clock=clock, sleep=sleep)

Before retry *n* it waits what the attempt asked for (``Again.after``: a server's Retry-After) or else
``backoff.wait(n)``: ``first * 2**(n-1)``, at most ``cap``. It stops with :class:`GaveUp`, which says why, when
``retries`` retries are spent (``exhausted``), when a wait is longer than ``max_wait`` (``too_long``), when the
wait would end at or after ``deadline`` (``deadline``; an attempt with no time left raises the same from
:meth:`Try.timeout`), or when ``cancel`` is set (``cancelled``; a wait on the real clock wakes at once). Time is
the injected ``clock``/``sleep`` (tests record the waits instead of waiting).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

__all__ = ["CANCELLED", "DEADLINE", "EXHAUSTED", "TOO_LONG", "Again", "Backoff", "GaveUp", "Try", "run"]

T = TypeVar("T")

#: Why :func:`run` gave up.
EXHAUSTED, TOO_LONG, DEADLINE, CANCELLED = "exhausted", "too_long", "deadline", "cancelled"


class Cancel(Protocol):
    """A ``threading.Event``, or anything that says whether to stop and can wait for it."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class Backoff:
    """Doubling waits: ``first`` before the first retry, twice that before the next..., at most ``cap`` (None:
    no cap)."""

    first: float
    cap: float | None = None

    def wait(self, retry: int) -> float:
        """The wait before retry ``retry`` (1 for the first)."""
        seconds = self.first * (2 ** (retry - 1))
        return seconds if self.cap is None else min(seconds, self.cap)


@dataclass(frozen=True)
class Again:
    """An attempt's answer asking for another: ``detail`` says what went wrong; ``after`` is the wait the other
    side asked for (None: the backoff's); ``value`` whatever the caller wants back if the loop gives up."""

    detail: str
    after: float | None = None
    value: Any = None


class GaveUp(Exception):
    """The loop stopped without a result. ``why``: exhausted, too_long, deadline, cancelled; ``attempts`` made;
    ``last`` the last :class:`Again` (None before any); ``wait`` the wait that was refused (too_long, or a
    deadline the wait would have crossed; None when the deadline left no time for an attempt)."""

    def __init__(self, why: str, *, attempts: int, last: Again | None = None, wait: float | None = None) -> None:
        super().__init__(why if last is None else f"{why}: {last.detail}")
        self.why = why
        self.attempts = attempts
        self.last = last
        self.wait = wait


@dataclass(frozen=True)
class Try:
    """One attempt: its ``number`` (1 for the first) and the time it has."""

    number: int
    deadline: float | None
    clock: Callable[[], float]

    def left(self) -> float | None:
        """Seconds until the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - self.clock()

    def timeout(self, limit: float) -> float:
        """``limit`` cut to the time left; raises GaveUp (``deadline``) when none is left."""
        left = self.left()
        if left is None:
            return limit
        if left <= 0:
            raise GaveUp(DEADLINE, attempts=self.number - 1)
        return min(limit, left)


def run(
    attempt: Callable[[Try], T | Again],
    *,
    retries: int | None,
    backoff: Backoff,
    max_wait: float | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    cancel: Cancel | None = None,
    on_retry: Callable[[Again, int, float], None] | None = None,
) -> T:
    """Call ``attempt`` until it returns something other than :class:`Again` (returned) or raises (raised), at most
    ``retries`` + 1 times (None: until it succeeds). ``deadline`` is a ``clock()`` instant. ``on_retry(again, n,
    wait)`` is told before the wait that follows attempt ``n`` (to log it)."""
    made = 0
    last: Again | None = None
    while True:
        if cancel is not None and cancel.is_set():
            raise GaveUp(CANCELLED, attempts=made, last=last)
        made += 1
        outcome = attempt(Try(made, deadline, clock))
        if not isinstance(outcome, Again):
            return outcome
        last = outcome
        if retries is not None and made > retries:
            raise GaveUp(EXHAUSTED, attempts=made, last=last)
        wait = outcome.after if outcome.after is not None else backoff.wait(made)
        if max_wait is not None and wait > max_wait:
            raise GaveUp(TOO_LONG, attempts=made, last=last, wait=wait)
        if deadline is not None and clock() + wait >= deadline:
            raise GaveUp(DEADLINE, attempts=made, last=last, wait=wait)
        if on_retry is not None:
            on_retry(outcome, made, wait)
        if wait > 0:
            if cancel is not None and sleep is time.sleep:
                cancel.wait(wait)  # a cancel wakes it at once
            else:
                sleep(wait)
