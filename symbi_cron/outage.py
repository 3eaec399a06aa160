"""Quiet logging of something that stays broken for a while (a database outage under the reload listener): one
line when it goes down, at most one reminder a minute while it stays down, with how long and how many attempts
failed, and one line when it is back -- instead of a warning at every retry (71 lines for a 70 s outage).

The clock is a ``monotonic()`` callable, so tests step it (symbi_cron/clock.py: ``FakeClock.monotonic``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: At most one "still down" line per this many seconds.
REMIND_SECONDS = 60.0


class Outage:
    """The state of one thing that can go down, and the lines it logs (``failed`` at each failed attempt, ``ok``
    at each success)."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        hint: str = "",
        states: tuple[str, str] = ("down", "back"),
        level: int = logging.WARNING,
        each_new_error: bool = False,
        remind_seconds: float = REMIND_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.what = what
        self.hint = hint
        self.down_word, self.back_word = states
        self.level = level
        #: Log each distinct error text once per outage too (a full disk after a lock timeout is news).
        self.each_new_error = each_new_error
        self.remind_seconds = remind_seconds
        self.monotonic = monotonic
        self.down_since: float | None = None
        self.failures = 0
        self._reminded_at = 0.0
        self._seen: set[str] = set()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def down_for(self) -> float:
        """Seconds since the first failure of the current outage (0 when up)."""
        return 0.0 if self.down_since is None else max(0.0, self.monotonic() - self.down_since)

    def failed(self, error: object) -> None:
        """An attempt failed: the first failure of an outage is logged, later ones at most every
        ``remind_seconds``."""
        now = self.monotonic()
        self.failures += 1
        text = str(error)
        if self.down_since is None or (self.each_new_error and text not in self._seen):
            if self.down_since is None:
                self.down_since = now
            self._reminded_at = now
            self._seen.add(text)
            hint = f"; {self.hint}" if self.hint else ""
            self.log.log(self.level, "%s %s: %s%s", self.what, self.down_word, text, hint)
            return
        if now - self._reminded_at >= self.remind_seconds:
            self._reminded_at = now
            self.log.log(
                self.level,
                "%s still %s after %s (%d failed attempts): %s",
                self.what,
                self.down_word,
                _seconds(now - self.down_since),
                self.failures,
                text,
            )

    def ok(self) -> None:
        """An attempt succeeded: after an outage, one line saying how long it lasted."""
        if self.down_since is None:
            return
        lasted = self.monotonic() - self.down_since
        self.log.warning(  # a warning like the first line, so that `symbi logs --level warning` shows both ends
            "%s %s after %s (%d failed attempts)",
            self.what,
            self.back_word,
            _seconds(lasted),
            self.failures,
        )
        self.down_since = None
        self.failures = 0
        self._seen.clear()


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"
