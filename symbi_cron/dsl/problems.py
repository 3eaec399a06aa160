"""Problems in a ``.symbi`` file and the error that carries them all.

A :class:`Problem` is one thing wrong, at a line and column, rendered compiler style; :class:`DslError` raises
every problem found in one pass together. The lexer, the parser and the checker all report through here.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

#: More problems than this and the file is probably not .symbi at all: stop listing.
MAX_PROBLEMS = 100


@dataclass
class Problem:
    """One thing wrong in a file, at a line and column (both 1-based)."""

    file: str
    line: int
    column: int
    message: str
    expected: str | None = None
    found: str | None = None
    source_line: str = ""
    hint: str | None = None

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def caret(self) -> str:
        # Reuse the source's tabs so the caret lines up in a terminal.
        prefix = "".join(c if c == "\t" else " " for c in self.source_line[: max(self.column - 1, 0)])
        return prefix + "^"

    def render(self) -> str:
        """Compiler style: ``F:L:C: error: message``, the source line, a caret."""
        text = f"{self.location()}: error: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        if self.source_line or self.line:
            text += f"\n    {self.source_line}\n    {self.caret()}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
            "hint": self.hint,
            "source_line": self.source_line,
        }


class DslError(InvalidInput):
    """A ``.symbi`` file has problems. ``problems`` lists them all, in file order."""

    code = "invalid_dsl"

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("DslError needs at least one problem")
        self.problems = problems
        first = problems[0]
        message = f"{first.location()}: {first.message}"
        if first.hint:
            message += f" ({first.hint})"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more; `symbi cron validate --file {first.file}` lists them all)"
        super().__init__(message, details={"problems": [p.to_dict() for p in problems]})

    def render(self) -> str:
        """Every problem, compiler style, separated by blank lines."""
        return "\n".join(p.render() for p in self.problems)


class _Stop(Exception):
    """Too many problems: stop parsing."""


def raise_problems(problems: list[Problem], text: str) -> typing.NoReturn:
    """Raise DslError for ``problems`` (sorted, each with its source line taken from ``text``)."""
    if len(problems) >= MAX_PROBLEMS:
        last = problems[-1]
        problems.append(Problem(last.file, last.line, last.column, f"too many problems ({MAX_PROBLEMS}); stopped here"))
    problems.sort(key=lambda p: (p.line, p.column))
    lines = text.split("\n")
    for p in problems:
        if 1 <= p.line <= len(lines):
            p.source_line = lines[p.line - 1].rstrip("\r")
    raise DslError(problems)
