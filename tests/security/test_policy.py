"""The policy gate (SPEC §9): each condition allows and denies, with the moment passed in."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from symbi_cron.models import Policy
from symbi_cron.security.policy import AgentPinError, Decision, evaluate, in_window


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 2, 15, hh, mm, ss, tzinfo=timezone.utc)


def job(**policy) -> dict:
    return {"name": "j", "agent_id": "deployer", "policy": Policy(**policy).model_dump()}


AGENT = {"name": "deployer", "capabilities": ["deployment", "read"]}


NOON = at(12)


def gate(
    j: dict,
    *,
    now: datetime = NOON,
    agent: dict | None = AGENT,
    environment: str | None = None,
    default_pin: bool = False,
    verify_pin=None,
) -> Decision:
    return evaluate(
        j, agent, now=now, environment=environment, agentpin_required_default=default_pin, verify_pin=verify_pin
    )


def test_no_policy_allows():
    d = gate({"name": "j", "agent_id": "a"})
    assert d.allowed and d.to_dict() == {"decision": "allow"}


@pytest.mark.parametrize(
    "name, start, end, now, allowed",
    [
        ("inside", "00:00", "04:00", at(2), True),
        ("at_start", "00:00", "04:00", at(0), True),
        ("end_is_exclusive", "00:00", "04:00", at(4), False),
        ("last_second_before_end", "00:00", "04:00", at(3, 59, 59), True),
        ("after", "00:00", "04:00", at(12), False),
        ("wraps_midnight_late", "22:00", "02:00", at(23, 30), True),
        ("wraps_midnight_early", "22:00", "02:00", at(1, 59), True),
        ("wraps_midnight_outside", "22:00", "02:00", at(12), False),
        ("wraps_midnight_end_exclusive", "22:00", "02:00", at(2), False),
        ("start_equals_end_is_all_day", "09:00", "09:00", at(3), True),
    ],
)
def test_allowed_hours(name, start, end, now, allowed):
    d = gate(job(allowed_hours={"start": start, "end": end}), now=now)
    assert d.allowed is allowed, name
    if not allowed:
        assert d.check == "allowed_hours"
        assert f"{start}-{end} UTC" in d.reason


def test_allowed_hours_are_utc_whatever_the_zone_of_now():
    from zoneinfo import ZoneInfo

    madrid_1am = datetime(2026, 2, 15, 1, 30, tzinfo=ZoneInfo("Europe/Madrid"))  # 00:30 UTC
    assert gate(job(allowed_hours={"start": "00:00", "end": "01:00"}), now=madrid_1am).allowed
    assert not in_window(madrid_1am, "01:00", "02:00")


def test_allowed_environments():
    j = job(allowed_environments=["staging", "production"])
    assert gate(j, environment="production").allowed
    d = gate(j, environment="dev")
    assert d.denied and d.check == "allowed_environments" and "'dev'" in d.reason and "staging" in d.reason
    d = gate(j, environment=None)
    assert d.denied and "no environment is set" in d.reason and "SYMBI_ENV" in d.reason


def test_require_capabilities():
    assert gate(job(require_capabilities=["deployment"])).allowed
    d = gate(job(require_capabilities=["deployment", "production_write", "admin"]))
    assert d.denied and d.check == "require_capabilities"
    assert d.reason.endswith("lacks required capabilities: production_write, admin")
    d = gate(job(require_capabilities=["deployment"]), agent=None)
    assert d.denied and "not registered" in d.reason


def test_require_agent_pin():
    calls = []
    assert gate(job(require_agent_pin=True), verify_pin=lambda: calls.append(1)).allowed
    assert calls == [1]

    def bad():
        raise AgentPinError("credential expired at 2026-02-15T11:00:00Z")

    d = gate(job(require_agent_pin=True), verify_pin=bad)
    assert d.denied and d.check == "agent_pin" and "credential expired" in d.reason
    d = gate(job(require_agent_pin=True), verify_pin=None)
    assert d.denied and d.check == "agent_pin"


def test_require_agent_pin_default_comes_from_config():
    def bad():
        raise AgentPinError("no")

    assert gate(job(), default_pin=True, verify_pin=bad).denied  # None -> the configured default
    assert gate(job(require_agent_pin=False), default_pin=True, verify_pin=bad).allowed  # explicit opt-out
    assert gate(job(), default_pin=False, verify_pin=bad).allowed


def test_require_approval():
    d = gate(job(require_approval=True, approvers=["alice", "bob"]))
    assert d.needs_approval and d.approvers == ("alice", "bob")
    assert d.to_dict() == {"decision": "require_approval", "approvers": ["alice", "bob"], "check": "require_approval"}
    assert gate(job(require_approval=False, approvers=["alice"])).allowed


def test_cheap_checks_run_before_agent_pin_and_approval():
    """A run outside its window is denied without touching the network (verify_pin is never called)."""
    called = []
    j = job(
        allowed_hours={"start": "00:00", "end": "04:00"},
        require_agent_pin=True,
        require_approval=True,
        allowed_environments=["production"],
    )
    d = gate(j, now=at(12), environment="dev", verify_pin=lambda: called.append(1))
    assert d.check == "allowed_hours" and called == []
    d = gate(j, now=at(1), environment="dev", verify_pin=lambda: called.append(1))
    assert d.check == "allowed_environments" and called == []
    d = gate(j, now=at(1), environment="production", verify_pin=lambda: called.append(1))
    assert d.needs_approval and called == [1]


def test_naive_now_is_a_bug():
    with pytest.raises(ValueError):
        gate(job(), now=datetime(2026, 1, 1))
