"""packaging/symbi-cron.service, read as systemd reads a *user* unit (tests/shipping/test_docs_commands.py checks
that its ExecStart is a valid command)."""

from __future__ import annotations

import configparser
from pathlib import Path

from symbi_cron.config import Settings

UNIT = Path(__file__).resolve().parents[2] / "packaging" / "symbi-cron.service"


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_user_unit_depends_on_no_system_only_target():
    """A user manager cannot see system units such as network-online.target: depending on one does nothing."""
    unit = _unit()
    for key in ("After", "Wants", "Requires", "BindsTo"):
        assert "network-online.target" not in unit.get("Unit", key, fallback=""), key


def test_unit_runs_the_daemon_in_the_foreground_and_waits_for_the_drain():
    unit = _unit()
    assert unit.get("Service", "Type") == "simple"
    assert unit.get("Service", "ExecStart").endswith("cron daemon --foreground")
    scheduler = Settings().scheduler
    drain = scheduler.shutdown_timeout_seconds + scheduler.kill_grace_seconds
    assert float(unit.get("Service", "TimeoutStopSec")) > drain
    assert unit.get("Install", "WantedBy") == "default.target"
