"""Aligned plain-text tables for people, fitted to the terminal.

Not tabulate: importing it pulls in importlib.metadata (about 20 ms here, a fifth of `symbi cron list`'s budget)
to render what is a column-width computation. See docs/decisions.md, "Tables".

A table wider than the terminal is never wrapped: first the columns that may shrink are cut with an ellipsis
(down to their minimum width), then optional columns are dropped in their order, and only then are the lines
themselves cut. ``--wide`` asks for every column at full width.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ELLIPSIS = "…"
GAP = 2  # spaces between columns


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


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, ending in an ellipsis when something was cut."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    out, used = [], 0
    for ch in text:
        w = 0 if unicodedata.combining(ch) else (2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


@dataclass(frozen=True)
class Fit:
    """How a column behaves when the table is too wide for the terminal.

    ``shrink``: the narrowest it may be cut to (with an ellipsis); None: never cut. ``early``: cut before any
    column is dropped (long free text, such as an error message); otherwise only once every droppable column is
    gone (names). ``drop``: its place in the order optional columns are dropped (1 goes first); 0: always shown.
    ``wide``: shown only with ``--wide``.
    """

    shrink: int | None = None
    drop: int = 0
    wide: bool = False
    early: bool = False


KEEP = Fit()


def _cut(ws: dict[int, int], cols: list[int], floor: dict[int, int], excess: int) -> int:
    """Take ``excess`` columns of width from ``cols``, the widest first, none below its floor; what is left."""
    while excess > 0:
        candidates = [i for i in cols if ws[i] > floor[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: (ws[i] - floor[i], ws[i]))
        ws[widest] -= 1
        excess -= 1
    return excess


def _plan(widths: list[int], fits: Sequence[Fit], limit: int) -> tuple[list[int], list[int]]:
    """The columns to show and their widths so the table fits ``limit`` columns (best effort): cut the early
    columns, then drop optional columns one at a time, then cut the others."""
    floor = {i: widths[i] if f.shrink is None else min(widths[i], f.shrink) for i, f in enumerate(fits)}
    early = [i for i, f in enumerate(fits) if f.early]
    late = [i for i, f in enumerate(fits) if not f.early]
    droppable = sorted((i for i, f in enumerate(fits) if f.drop), key=lambda i: fits[i].drop)
    shown = list(range(len(widths)))
    while True:
        ws = {i: widths[i] for i in shown}
        excess = sum(ws.values()) + GAP * max(len(shown) - 1, 0) - limit
        excess = _cut(ws, [i for i in early if i in shown], floor, excess)
        if excess <= 0:
            break
        if droppable:
            shown.remove(droppable.pop(0))
            continue
        _cut(ws, [i for i in late if i in shown], floor, excess)
        break
    return shown, [ws[i] for i in shown]


def format_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    align: Sequence[str] | None = None,
    *,
    width: int | None = None,
    fits: Sequence[Fit] | None = None,
) -> str:
    """Rows under headers, columns separated by two spaces, a dashed rule under the headers.

    ``align`` gives "left" or "right" per column (default left). Cells are shown with ``str``; newlines in a cell
    are folded to spaces so every row stays one line. With ``width`` the table is fitted to that many terminal
    columns as described in the module's docstring (``fits`` says how each column may give way).
    """
    cells = [[c if isinstance(c, str) and "\n" not in c else " ".join(str(c).split("\n")) for c in row] for row in rows]
    ncols = len(headers)
    align = list(align or ["left"] * ncols)
    fits = list(fits or [KEEP] * ncols)
    cell_widths = [[display_width(c) for c in row] for row in cells]  # measured once: 1,000 rows add up
    widths = [display_width(h) for h in headers]
    for row in cell_widths:
        for i, w in enumerate(row):
            if w > widths[i]:
                widths[i] = w
    shown = list(range(ncols))
    if width is not None and sum(widths) + GAP * (ncols - 1) > width:
        shown, fitted = _plan(widths, fits, width)
        widths = [0] * ncols
        for i, w in zip(shown, fitted, strict=True):
            widths[i] = w

    def line(values: Sequence[str], measured: Sequence[int]) -> str:
        out = []
        for i in shown:
            v, w = values[i], measured[i]
            if w > widths[i]:
                v = truncate(v, widths[i])
                w = display_width(v)
            pad = " " * (widths[i] - w)
            out.append(pad + v if align[i] == "right" else v + pad)
        text = (" " * GAP).join(out).rstrip()
        return truncate(text, width) if width is not None else text

    rule = ["-" * w for w in widths]
    parts = [line(list(headers), [display_width(h) for h in headers]), line(rule, widths)]
    parts.extend(line(row, measured) for row, measured in zip(cells, cell_widths, strict=True))
    return "\n".join(parts)
