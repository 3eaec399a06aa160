"""Log lines that say only what we wrote: anything untrusted inside a message (a job name from the API, an agent's
error text, a request path) has its control characters escaped, so it can neither break a line nor forge one
(``\\n2026-... ERROR ...``), and a traceback's lines are indented so none of them can pass for a record either.
"""

from __future__ import annotations

import logging
import re

#: C0 controls but tab, DEL, C1 controls, and the Unicode line and paragraph separators.
_CONTROL_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape_one(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape_controls(text: str) -> str:
    """``text`` on one line: control characters as ``\\n``, ``\\r``, ``\\xNN`` or ``\\uNNNN``."""
    return _CONTROL_RE.sub(_escape_one, text)


class SafeFormatter(logging.Formatter):
    """A Formatter whose records are one line each (the message escaped); tracebacks follow, indented."""

    def format(self, record: logging.LogRecord) -> str:
        # The stdlib caches a record's traceback text on the record, possibly formatted by another handler's
        # plain Formatter: format it here, then put back what was there.
        cached = record.exc_text
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - the stdlib's name
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802, ANN001 - the stdlib's name and signature
        return _indent(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - the stdlib's name
        return _indent(super().formatStack(stack_info))


def _indent(text: str) -> str:
    return "\n".join("  " + escape_controls(line) for line in text.splitlines())


class QuotedOutput:
    """The daemon's stream for the ``stdout`` delivery channel when it shares the daemon's log (or the journal):
    the channel writes each line of an agent's output quoted (``  | ...``, control characters escaped), so output
    can never pass for one of the daemon's own records (``2026-... ERROR ...``, or ``<0>`` to the journal)."""

    quote_output = True

    def __init__(self, stream: object) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text)  # type: ignore[attr-defined]

    def flush(self) -> None:
        self.stream.flush()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


def quote_lines(text: str) -> str:
    """Each line of ``text`` as ``  | line`` with its control characters escaped (tabs kept)."""
    return "".join(f"  | {escape_controls(line)}\n" for line in text.splitlines())
