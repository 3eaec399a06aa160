"""Reading a TOML file (``config.toml``) so that nothing in it becomes an internal error: a clean ConfigError that
names the file and what is wrong, whatever the bytes.

No pydantic here: the store factory reads ``[store] url`` on the light path of every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError

#: Deeper nesting than any configuration needs; tomllib recurses per level and would blow the stack first.
MAX_DEPTH = 64


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file ({} when it does not exist); ConfigError naming ``path`` for anything else wrong."""
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}, line {line}): save it as UTF-8") from None
    depth = _nesting(text)
    if depth > MAX_DEPTH:
        raise ConfigError(f"{path}: arrays or tables nested {depth} levels deep (at most {MAX_DEPTH})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:  # a shape _nesting did not foresee: still the user's file, never a traceback
        raise ConfigError(f"{path}: nested too deeply") from None


def _nesting(text: str) -> int:
    """An upper bound of the nesting of inline arrays and tables (brackets outside strings and comments)."""
    deepest = depth = 0
    quote: str | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote is not None:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote or (c == "\n" and quote in ("'", '"')):
                quote = None
        elif c in "\"'":
            triple = text[i : i + 3]
            if triple in ('"""', "'''"):
                end = text.find(triple, i + 3)
                i = n if end < 0 else end + 3
                continue
            quote = c
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest
