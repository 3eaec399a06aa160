"""Budgets, as the runner checks them before each model call (docs/model-agents.md, "Budgets").

The run's owner reads what the job and the model already spent (``services/budgets.py``) and hands the runner a
list of :class:`Limit`; the runner adds what this run spent so far (the earlier iterations of a heartbeat wake
included) and, before every model call, asks :func:`check`. A limit stops the run when it is reached, or when the
next call would pass it: the next request re-sends at least the conversation the last call sent and received, so
that many input tokens (at the model's input price) are certain to be spent. The first call of a run has no such
estimate: a limit already reached still stops it before it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Scopes, in the order they are checked (the narrowest first: the message names the tightest limit).
RUN, DAY, MONTH, MODEL_DAY = "run", "day", "month", "model_day"
SCOPES = (RUN, DAY, MONTH, MODEL_DAY)
TOKENS, USD = "tokens", "usd"


@dataclass(frozen=True)
class Limit:
    """One ceiling: its scope, a label that says whose (``job 'digest' per day``), the limit in tokens and/or
    dollars, and what was spent in that scope before this run (0 for ``run``)."""

    scope: str
    label: str
    tokens: int | None = None
    usd: float | None = None
    used_tokens: int = 0
    used_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "label": self.label,
            "tokens": self.tokens,
            "usd": self.usd,
            "used_tokens": self.used_tokens,
            "used_usd": self.used_usd,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Limit:
        return cls(
            scope=str(data["scope"]),
            label=str(data.get("label") or data["scope"]),
            tokens=int(data["tokens"]) if data.get("tokens") is not None else None,
            usd=float(data["usd"]) if data.get("usd") is not None else None,
            used_tokens=int(data.get("used_tokens") or 0),
            used_usd=float(data.get("used_usd") or 0.0),
        )


@dataclass(frozen=True)
class Exceeded:
    """Why a run stops: the limit, its unit, what is spent in its scope, what the next call would add."""

    limit: Limit
    unit: str
    used: float
    next_call: float

    @property
    def ceiling(self) -> float:
        return float(self.limit.tokens if self.unit == TOKENS else self.limit.usd or 0)

    def message(self, calls_made: int) -> str:
        amount = _amount(self.ceiling, self.unit)
        spent = _amount(self.used, self.unit)
        if self.used >= self.ceiling:
            why = f"{spent} used"
        else:
            why = f"{spent} used, and the next model call would add at least {_amount(self.next_call, self.unit)}"
        return (
            f"budget exceeded: {self.limit.label} budget of {amount} ({why});"
            f" stopped before model call {calls_made + 1}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.limit.scope,
            "label": self.limit.label,
            "unit": self.unit,
            "limit": self.ceiling,
            "used": round(self.used, 6) if self.unit == USD else int(self.used),
            "next_call": round(self.next_call, 6) if self.unit == USD else int(self.next_call),
        }


def _amount(value: float, unit: str) -> str:
    return f"${value:,.4f}".rstrip("0").rstrip(".") if unit == USD else f"{int(value):,} tokens"


def check(
    limits: Iterable[Limit],
    *,
    run_tokens: int,
    run_usd: float | None,
    next_tokens: int = 0,
    input_price: float | None = None,
) -> Exceeded | None:
    """The first limit the next model call may not be made under, or None. ``run_tokens``/``run_usd`` are this
    run's spending so far (``run_usd`` None: the model has no price and adds nothing to a dollar limit);
    ``next_tokens`` the input the next call is certain to send; ``input_price`` dollars per million input
    tokens."""
    next_usd = next_tokens * input_price / 1_000_000 if input_price else 0.0
    for limit in sorted(limits, key=lambda lim: SCOPES.index(lim.scope) if lim.scope in SCOPES else len(SCOPES)):
        if limit.tokens is not None:
            used = limit.used_tokens + run_tokens
            if used >= limit.tokens or used + next_tokens > limit.tokens:
                return Exceeded(limit, TOKENS, used, next_tokens)
        if limit.usd is not None:
            used_usd = limit.used_usd + (run_usd or 0.0)
            if used_usd >= limit.usd or used_usd + next_usd > limit.usd:
                return Exceeded(limit, USD, used_usd, next_usd)
    return None
