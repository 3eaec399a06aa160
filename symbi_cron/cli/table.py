"""Aligned plain-text tables for people.

Not tabulate: importing it pulls in importlib.metadata (about 20 ms here, a fifth of `symbi cron list`'s budget)
to render what is a column-width computation. See docs/decisions.md, "Tables".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any


def display_width(text: str) -> int:
    """Columns a string takes in a terminal (wide East Asian characters count two, combining marks zero)."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], align: Sequence[str] | None = None) -> str:
    """Rows under headers, columns separated by two spaces, a dashed rule under the headers.

    ``align`` gives "left" or "right" per column (default left). Cells are shown with ``str``; newlines in a cell
    are folded to spaces so every row stays one line.
    """
    cells = [[" ".join(str(c).split("\n")) for c in row] for row in rows]
    ncols = len(headers)
    align = list(align or ["left"] * ncols)
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], display_width(c))

    def line(values: Sequence[str]) -> str:
        out = []
        for i, v in enumerate(values):
            pad = " " * (widths[i] - display_width(v))
            out.append(pad + v if align[i] == "right" else v + pad)
        return "  ".join(out).rstrip()

    parts = [line(list(headers)), "  ".join("-" * w for w in widths)]
    parts.extend(line(row) for row in cells)
    return "\n".join(parts)
