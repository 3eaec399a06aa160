"""Reading a ``.symbi`` file: its text (UTF-8, byte-order mark dropped; ``-`` is stdin), then :func:`parse`."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from pathlib import Path

from ..errors import InvalidInput
from ..models import JobSpec
from .checker import Document, parse
from .problems import DslError, Problem


def read_text(path: str | Path) -> str:
    """A file's text (``-`` is stdin) without a leading byte-order mark, or InvalidInput naming the file."""
    import sys

    name = "<stdin>" if str(path) == "-" else str(path)
    if not name:
        raise InvalidInput("no file name given (use - for stdin)", field="file")
    try:
        if name == "<stdin>":
            stdin = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
            data = stdin.read() if stdin is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        else:
            data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}", field="file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a file", field="file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror or exc}", field="file") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DslError([Problem(name, line, col, "the file is not valid UTF-8")]) from None
    # Editors on Windows start a UTF-8 file with a BOM; it is not part of the text (a crontab's first field).
    return text[1:] if text.startswith("\ufeff") else text


def parse_file(
    path: str | Path,
    *,
    known_agents: Iterable[str] | None = None,
    check_schedule: typing.Callable[[JobSpec], list[tuple[str | None, str, str | None]]] | None = None,
) -> Document:
    """:func:`parse` on a file's text; errors name the file as given."""
    return parse(read_text(path), file=str(path), known_agents=known_agents, check_schedule=check_schedule)
