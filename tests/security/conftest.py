"""Fixtures for the security tests: real P-256 keys, discovery documents and a credential issuer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pinkit import DOMAIN, NOW, Issuer

from symbi_cron.clock import FakeClock
from symbi_cron.config import AgentPinSettings


@pytest.fixture
def issuer() -> Issuer:
    iss = Issuer()
    iss.declare("reporter")
    return iss


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def discovery_dir(tmp_path: Path, issuer: Issuer) -> Path:
    d = tmp_path / "discovery"
    d.mkdir()
    (d / f"{issuer.domain}.json").write_text(json.dumps(issuer.document()))
    return d


@pytest.fixture
def pin_settings(discovery_dir: Path) -> AgentPinSettings:
    return AgentPinSettings(
        domain=DOMAIN, discovery_dir=str(discovery_dir), cache_ttl_seconds=300, clock_skew_seconds=60
    )
