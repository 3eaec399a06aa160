"""How the daemon's log lines look: ``TIME LEVEL LOGGER: message`` in ``daemon.log`` and on a terminal, and
under systemd (stderr is the journal, ``JOURNAL_STREAM`` names it) ``<N>LEVEL LOGGER: message``: the journal
keeps its own timestamp and reads the syslog priority ``<N>`` from the start of each line (sd-daemon(3)), so
``journalctl -p warning`` and the colours work.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from .logsafe import SafeFormatter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"

#: syslog priorities (sd-daemon(3): SD_ERR is <3>, SD_WARNING <4>, SD_INFO <6>, SD_DEBUG <7>).
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels in between take the next one down)."""
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


class JournalFormatter(SafeFormatter):
    """Each line of a record (a traceback's too) prefixed with the record's priority, no timestamp; the message
    escaped like every log line's (logsafe)."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def writes_to_journal(stream: Any, env: Mapping[str, str]) -> bool:
    """True when ``stream`` is the journal systemd connected us to: ``JOURNAL_STREAM`` (``DEVICE:INODE``) names
    its file (a stderr redirected elsewhere by the unit, or inherited by a child, does not match)."""
    value = env.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def formatter_for(stream: Any, env: Mapping[str, str]) -> logging.Formatter:
    """The formatter for a log handler writing to ``stream``."""
    return JournalFormatter() if writes_to_journal(stream, env) else SafeFormatter(LOG_FORMAT)
