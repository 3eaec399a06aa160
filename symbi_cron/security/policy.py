"""The policy gate (SPEC §9): a pure function from a job, its agent and the moment to a decision.

Nothing here reads the clock, the environment or the store: the caller passes ``now``, the environment name, the
configured AgentPin default and a ``verify_pin`` callable. Checks run in order of cost (cheapest first) and the
first that fails decides:

1. ``allowed_hours``        a daily UTC window ``start``..``end``; ``end`` is exclusive; ``end < start`` wraps
                            midnight; ``start == end`` means the whole day (a window that never opens would deny
                            every run, which is what ``pause`` is for).
2. ``allowed_environments`` the environment (``SYMBI_ENV`` / config ``environment``) must be listed; an unset
                            environment under a restriction is denied (fail closed).
3. ``require_capabilities`` every listed capability must be registered on the agent; the missing ones are named.
4. ``require_agent_pin``    ``verify_pin()`` must return; it raises :class:`AgentPinError` with the reason.
5. ``require_approval``     the run waits for an approver.

``max_runtime`` is not a gate: the executor enforces it while the run goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from typing import Any, Literal

DecisionKind = Literal["allow", "deny", "require_approval"]


class AgentPinError(Exception):
    """An AgentPin credential was refused; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Decision:
    """The gate's answer. ``check`` names the condition that decided (``None`` for a plain allow)."""

    kind: DecisionKind
    reason: str | None = None
    approvers: tuple[str, ...] = field(default_factory=tuple)
    check: str | None = None

    @property
    def allowed(self) -> bool:
        return self.kind == "allow"

    @property
    def denied(self) -> bool:
        return self.kind == "deny"

    @property
    def needs_approval(self) -> bool:
        return self.kind == "require_approval"

    def to_dict(self) -> dict[str, Any]:
        """The form kept in a run's ``detail`` JSON under ``policy``."""
        out: dict[str, Any] = {"decision": self.kind}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.kind == "require_approval":
            out["approvers"] = list(self.approvers)
        if self.check is not None:
            out["check"] = self.check
        return out


def allow() -> Decision:
    return Decision("allow")


def deny(reason: str, *, check: str | None = None) -> Decision:
    return Decision("deny", reason=reason, check=check)


def require_approval(approvers: list[str] | tuple[str, ...]) -> Decision:
    return Decision("require_approval", approvers=tuple(approvers), check="require_approval")


def _policy_dict(job: dict[str, Any]) -> dict[str, Any]:
    policy = job.get("policy") or {}
    if hasattr(policy, "model_dump"):
        policy = policy.model_dump()
    return dict(policy)


def _parse_hhmm(text: str) -> time:
    hh, mm = text.split(":")
    return time(int(hh), int(mm))


def in_window(now: datetime, start: str, end: str) -> bool:
    """True when ``now`` (UTC) lies in the daily window [start, end); wraps midnight when end < start."""
    t = now.astimezone(timezone.utc).time().replace(tzinfo=None)
    s, e = _parse_hhmm(start), _parse_hhmm(end)
    if s == e:
        return True
    if s < e:
        return s <= t < e
    return t >= s or t < e


def effective_require_pin(policy: dict[str, Any], default: bool) -> bool:
    """``require_agent_pin`` with ``None`` meaning the configured default."""
    value = policy.get("require_agent_pin")
    return default if value is None else bool(value)


def evaluate(
    job: dict[str, Any],
    agent: dict[str, Any] | None,
    *,
    now: datetime,
    environment: str | None,
    agentpin_required_default: bool = False,
    verify_pin: Callable[[], Any] | None = None,
) -> Decision:
    """Decide whether a run of ``job`` may start at ``now``. Never raises for a policy reason."""
    if now.tzinfo is None:
        raise ValueError("evaluate() needs an aware datetime")
    policy = _policy_dict(job)

    hours = policy.get("allowed_hours")
    if hours:
        if hasattr(hours, "model_dump"):
            hours = hours.model_dump()
        start, end = hours["start"], hours["end"]
        if not in_window(now, start, end):
            at = now.astimezone(timezone.utc).strftime("%H:%M")
            return deny(f"outside allowed_hours {start}-{end} UTC (now {at} UTC)", check="allowed_hours")

    envs = list(policy.get("allowed_environments") or [])
    if envs:
        if not environment:
            return deny(
                f"allowed_environments is {', '.join(envs)} but no environment is set (set SYMBI_ENV"
                " or `environment` in config.toml)",
                check="allowed_environments",
            )
        if environment not in envs:
            return deny(
                f"environment {environment!r} is not in allowed_environments ({', '.join(envs)})",
                check="allowed_environments",
            )

    needed = list(policy.get("require_capabilities") or [])
    if needed:
        if agent is None:
            return deny(
                f"agent {job.get('agent_id')!r} is not registered, so it has none of the required capabilities"
                f" ({', '.join(needed)})",
                check="require_capabilities",
            )
        have = set(agent.get("capabilities") or [])
        missing = [c for c in needed if c not in have]
        if missing:
            return deny(
                f"agent {agent.get('name', job.get('agent_id'))!r} lacks required capabilities: {', '.join(missing)}",
                check="require_capabilities",
            )

    if effective_require_pin(policy, agentpin_required_default):
        if verify_pin is None:
            return deny("AgentPin verification: no verifier is configured", check="agent_pin")
        try:
            verify_pin()
        except AgentPinError as exc:
            return deny(f"AgentPin verification failed: {exc.reason}", check="agent_pin")

    if policy.get("require_approval"):
        return require_approval(list(policy.get("approvers") or []))
    return allow()
