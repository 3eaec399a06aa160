"""Exactly once in effect (issue 13): a real daemon SIGKILLed at 30 random moments (during ticks, runs, deliveries
and store writes) and started again each time, over recurring jobs, one-shots and manual runs. Counted from the
agents' own records: nothing started twice, nothing overlapping, nothing lost, nothing dead-lettered or interrupted
by the kills, every one-shot completed once, every delivery sent with its receipt stored. bench/crash_campaign.py
runs the same with more kills."""

from __future__ import annotations

import os

import pytest
from agents.campaign import run_campaign
from servers.http_recorder import RecordingHTTPServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SEED = int(os.environ.get("SYMBI_CAMPAIGN_SEED", "20261129"))


def test_thirty_sigkills_change_nothing_that_ran(tmp_path):
    with RecordingHTTPServer() as hook:
        report = run_campaign(
            tmp_path / "home", tmp_path / "marks", hook.url("/hook"), lambda: list(hook.requests), kills=30, seed=SEED
        )
    print("\n" + report.summary())
    assert report.kills == 30
    assert report.problems() == {}, report.summary()
    assert report.runs >= 40  # the workload really ran (one-shots, recurring slots, manual runs)
