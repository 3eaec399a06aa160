"""The usage figures over HTTP (issue 19, item 2): GET /api/v1/usage as `symbi usage` computes them, and per-model
counters in /metrics (one series per model, never per run) that pruning never lowers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "cli"))

from test_usage_cmd import usage_store  # noqa: E402


def test_usage_over_http(app, clock, http):
    usage_store(app, clock)
    reply = http("GET", "/api/v1/usage?since=2026-11-01&by=job,model")
    assert reply.status == 200, reply.text
    body = reply.body
    assert body["by"] == ["job", "model"]
    assert [(r["job"], r["model"], r["runs"]) for r in body["rows"]] == [
        ("digest", "claude-sonnet-4-5", 2),
        ("notes", "llama3.1:8b", 1),
    ]
    assert body["total"]["tokens"] == 4950
    assert http("GET", "/api/v1/usage?by=week").status == 400
    assert http("GET", "/api/v1/usage", auth=False).status == 401


def test_metrics_per_model(app, clock, http):
    usage_store(app, clock)
    text = http("GET", "/metrics").text
    assert 'symbiont_cron_model_usage_runs_total{model="claude-sonnet-4-5"} 2.0' in text
    assert 'symbiont_cron_model_usage_tokens_total{direction="input",model="claude-sonnet-4-5"} 4000.0' in text
    assert 'symbiont_cron_model_usage_tokens_total{direction="output",model="llama3.1:8b"} 50.0' in text
    assert 'symbiont_cron_model_usage_cost_usd_total{model="claude-sonnet-4-5"} 0.018' in text
    assert "run_id" not in text
