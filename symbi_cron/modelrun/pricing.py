"""Optional prices per model -> the cost of a run.

``[models.prices."claude-sonnet-4-5"] input_per_mtok = 3.0, output_per_mtok = 15.0`` (US dollars per million
tokens). A key may be a glob (``"claude-*"``); an exact name wins, then the longest matching pattern. No
prices are built in: they change, and a wrong figure is worse than none (``cost_usd`` is then None).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any


def _get(price: Any, name: str) -> float:
    value = price.get(name) if isinstance(price, Mapping) else getattr(price, name, None)
    return float(value or 0.0)


def price_for(model: str, prices: Mapping[str, Any]) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens for ``model``, or None when no price is configured."""
    if not prices:
        return None
    price = prices.get(model)
    if price is None:
        patterns = sorted(
            (k for k in prices if any(c in k for c in "*?[") and fnmatch.fnmatchcase(model, k)),
            key=len,
            reverse=True,
        )
        if not patterns:
            return None
        price = prices[patterns[0]]
    return _get(price, "input_per_mtok"), _get(price, "output_per_mtok")


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, Any],
    *,
    aliases: tuple[str, ...] = (),
) -> float | None:
    """The cost in dollars (rounded to a millionth), or None when the model has no price. ``aliases`` are
    other spellings of the model (the id sent to the API) tried after ``model``."""
    for name in (model, *aliases):
        p = price_for(name, prices)
        if p is not None:
            return round((input_tokens * p[0] + output_tokens * p[1]) / 1_000_000, 6)
    return None
