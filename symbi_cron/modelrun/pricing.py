"""Prices per model -> the cost of a run.

``[models.prices."claude-sonnet-4-5"] input_per_mtok = 3.0, output_per_mtok = 15.0`` (US dollars per million
tokens). A key may be a glob (``"claude-*"``); an exact name wins, then the longest matching pattern. The
configured prices come first; a model none of them names takes the built-in table below (:data:`BUILTIN_PRICES`,
dated :data:`BUILTIN_PRICES_AS_OF`), unless ``[models] builtin_prices = false``. A model priced nowhere (a local
model) has ``cost_usd`` None: a wrong figure is worse than none.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

#: When the built-in prices were copied from the providers' public pricing pages (anthropic.com/pricing,
#: openai.com/api/pricing). Prices change: configure your own (``[models.prices]``) to be sure.
BUILTIN_PRICES_AS_OF = "2025-11-25"

#: US dollars per million tokens (input, output), by model id as the API spells it; globs cover dated snapshots
#: (``claude-sonnet-4-5-20250929``). Standard (not batch, not cached) rates. docs/model-agents.md lists them.
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    # Anthropic
    "claude-opus-4-5*": (5.0, 25.0),
    "claude-opus-4-1*": (15.0, 75.0),
    "claude-opus-4-0*": (15.0, 75.0),
    "claude-opus-4-2*": (15.0, 75.0),
    "claude-sonnet-4-5*": (3.0, 15.0),
    "claude-sonnet-4-0*": (3.0, 15.0),
    "claude-sonnet-4-2*": (3.0, 15.0),
    "claude-3-7-sonnet*": (3.0, 15.0),
    "claude-haiku-4-5*": (1.0, 5.0),
    "claude-3-5-haiku*": (0.8, 4.0),
    "claude-3-haiku*": (0.25, 1.25),
    # OpenAI
    "gpt-5": (1.25, 10.0),
    "gpt-5-2*": (1.25, 10.0),
    "gpt-5-mini*": (0.25, 2.0),
    "gpt-5-nano*": (0.05, 0.4),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-2*": (2.0, 8.0),
    "gpt-4.1-mini*": (0.4, 1.6),
    "gpt-4.1-nano*": (0.1, 0.4),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-2*": (2.5, 10.0),
    "gpt-4o-mini*": (0.15, 0.6),
    "o3": (2.0, 8.0),
    "o3-2*": (2.0, 8.0),
    "o3-mini*": (1.1, 4.4),
    "o4-mini*": (1.1, 4.4),
    "o1": (15.0, 60.0),
    "o1-2*": (15.0, 60.0),
}


def _get(price: Any, name: str) -> float:
    if isinstance(price, tuple):
        return float(price[0 if name == "input_per_mtok" else 1])
    value = price.get(name) if isinstance(price, Mapping) else getattr(price, name, None)
    return float(value or 0.0)


def lookup(model: str, table: Mapping[str, Any]) -> Any:
    """The entry of ``table`` for ``model``: its exact name, else the longest glob that matches; None."""
    if not table:
        return None
    entry = table.get(model)
    if entry is not None:
        return entry
    patterns = sorted(
        (k for k in table if any(c in k for c in "*?[") and fnmatch.fnmatchcase(model, k)),
        key=len,
        reverse=True,
    )
    return table[patterns[0]] if patterns else None


def price_for(model: str, prices: Mapping[str, Any], *, builtin: bool = False) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens for ``model``: the configured ``prices``, then (``builtin``)
    the built-in table; None when neither names it."""
    price = lookup(model, prices)
    if price is None and builtin:
        price = lookup(model, BUILTIN_PRICES)
    if price is None:
        return None
    return _get(price, "input_per_mtok"), _get(price, "output_per_mtok")


def model_price(
    model: str, prices: Mapping[str, Any], *, aliases: tuple[str, ...] = (), builtin: bool = False
) -> tuple[float, float] | None:
    """The price of ``model`` or of its other spellings (``aliases``: the id sent to the API), configured ones
    before built-in ones."""
    names = (model, *aliases)
    for name in names:
        p = price_for(name, prices)
        if p is not None:
            return p
    if builtin:
        for name in names:
            p = price_for(name, {}, builtin=True)
            if p is not None:
                return p
    return None


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, Any],
    *,
    aliases: tuple[str, ...] = (),
    builtin: bool = False,
) -> float | None:
    """The cost in dollars (rounded to a millionth), or None when the model has no price. ``aliases`` are
    other spellings of the model (the id sent to the API) tried after ``model``."""
    p = model_price(model, prices, aliases=aliases, builtin=builtin)
    if p is None:
        return None
    return round((input_tokens * p[0] + output_tokens * p[1]) / 1_000_000, 6)
