"""Model agents (SPEC §6-§7) end to end through a real daemon process: the guide's heartbeat monitor, with tools, run
against tests/modelrun/fake_model_server.py (a real HTTP server on 127.0.0.1 standing in for api.anthropic.com,
which tests cannot reach)."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest
from agents.daemon_helper import Daemon, wait_for
from fake_model_server import FakeModelServer, Turn

from symbi_cron.processes import pid_alive

sys.path.append(str(Path(__file__).resolve().parents[2]))  # for tests.servers (never tests/ itself: tests/http)
from servers.ports import free_port

from tests.servers.http_recorder import RecordingHTTPServer  # noqa: E402

pytestmark = pytest.mark.slow

KEY = "sk-qa-model-key-0123456789"
SECRET = "tok-QA-SECRET-13579"


def _monitor_file(tmp_path: Path, webhook: str) -> Path:
    """The guide's heartbeat_monitor with the tools of docs/model-agents.md, kept across wakes."""
    marker = tmp_path / "restarted"
    text = f'''
agent heartbeat_monitor {{
  model: "claude-sonnet-4.5"
  system_prompt: """
You are a system monitoring agent. On each heartbeat:
1. Check system metrics (CPU, memory, disk)
5. Return 'sleep' when done
"""
  capabilities: ["read_metrics"]
  env: {{ "OPS_TOKEN": "${{OPS_TOKEN}}" }}
  tools {{
    disk_usage {{
      command: "df -h {{path}}"
      description: "Disk usage of a mounted file system"
      parameters: {{ "type": "object", "properties": {{ "path": {{ "type": "string" }} }}, "required": ["path"] }}
      timeout: "10s"
      capability: "read_metrics"
    }}
    ops_token {{
      command: "printenv OPS_TOKEN"
      description: "The ops token (a tool that prints a secret, as a verbose curl would)"
      capability: "read_metrics"
    }}
    restart_service {{
      command: "touch {marker}"
      description: "Restart a service"
      capability: "restart_services"
    }}
  }}
}}
schedule {{
  name: "heartbeat-monitor"
  agent: "heartbeat_monitor"
  cron: "0 0 1 1 *"
  session_mode: "shared_persistent"
  heartbeat: {{ enabled: true, context_mode: "shared_persistent", max_iterations: 5 }}
  delivery: ["log_file", "webhook"]
  webhook_url: "{webhook}"
  max_retries: 2
  retry_backoff_seconds: 1
}}
'''
    path = tmp_path / "monitor.symbi"
    path.write_text(text)
    return path


@pytest.fixture
def daemon(tmp_path):
    model = FakeModelServer(key=KEY)
    hook = RecordingHTTPServer()
    with model, hook:
        d = Daemon(tmp_path / "home")
        d.port = free_port()
        cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {d.port}")
        cfg += (
            f'[models]\nbase_url = "{model.url}"\nmax_retries = 1\n'
            '[models.prices."claude-sonnet-4-5"]\ninput_per_mtok = 3.0\noutput_per_mtok = 15.0\n'
        )
        (d.home / "config.toml").write_text(cfg)
        for var in ("OPENAI_API_KEY", "SYMBI_MODEL_BASE_URL", "SYMBI_MODEL_PROVIDER"):
            d.env.pop(var, None)
        d.env.update(ANTHROPIC_API_KEY=KEY, OPS_TOKEN=SECRET, SYMBI_API_KEY="qa-model-api-key")
        d.symbi(
            "cron",
            "add",
            "--file",
            str(_monitor_file(tmp_path, hook.url("/hook"))),
            "--schedule",
            "heartbeat-monitor",
            check=True,
        )
        d.model, d.hook = model, hook
        try:
            yield d
        finally:
            d.symbi("cron", "daemon", "stop")
            d.cleanup()


def _history(d: Daemon) -> list[dict]:
    return json.loads(d.symbi("cron", "history", "heartbeat-monitor", "--format", "json", check=True).stdout)


def test_guide_monitor_shared_persistent_across_two_wakes(daemon, tmp_path):
    d, model = daemon, daemon.model
    model.script(
        # wake 1, iteration 1: two tools it may use, one it may not
        Turn.tool("disk_usage", {"path": "/"}, input_tokens=100, output_tokens=10),
        Turn.tool("ops_token", {}, input_tokens=110, output_tokens=11),
        Turn.tool("restart_service", {}, input_tokens=120, output_tokens=12),
        Turn.say(f"Disk fine; token {SECRET} checked; could not restart.", input_tokens=130, output_tokens=13),
        # wake 1, iteration 2: the model answers the control word alone
        Turn.say("sleep", input_tokens=140, output_tokens=14),
        # wake 2
        Turn.say("Second wake: all quiet.\nSleep", input_tokens=200, output_tokens=20),
    )
    d.start()
    first = d.symbi("cron", "run", "heartbeat-monitor", "--wait")
    assert first.returncode == 0, first.stdout + first.stderr
    conversation = d.home / "contexts" / _history(d)[0]["job_id"] / "shared" / "conversation.json"
    size_after_first = conversation.stat().st_size
    assert conversation.stat().st_mode & 0o777 == 0o600
    assert d.symbi("cron", "run", "heartbeat-monitor", "--wait").returncode == 0
    assert conversation.stat().st_size > size_after_first
    assert conversation.stat().st_mode & 0o777 == 0o600

    # The second wake's first request carried the whole first wake (shared_persistent), then its input.
    wake2 = model.requests[-1].json()["messages"]
    assert len(wake2) == 1 + 3 * 2 + 1 + 2 + 1  # wake 1: input, 3 tool rounds, answer, iteration 2; the input
    assert wake2[-1]["content"][0]["text"] == "Scheduled run: carry out your task now."

    # The tool the agent has no capability for was refused to the model and never run.
    refused = [
        b
        for m in model.requests[3].json()["messages"]
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result" and b.get("is_error")
    ]
    assert refused and "needs the capability 'restart_services'" in refused[-1]["content"]
    assert not (tmp_path / "restarted").exists()

    runs = _history(d)
    assert [(r["status"], r["iterations"]) for r in runs] == [("succeeded", 1), ("succeeded", 2)]
    # Tokens summed over a wake's iterations; the cost from the configured price.
    assert [(r["input_tokens"], r["output_tokens"]) for r in runs] == [(200, 20), (600, 60)]
    assert runs[1]["cost_usd"] == pytest.approx((600 * 3.0 + 60 * 15.0) / 1e6)
    assert "600/60" in d.symbi("cron", "history", "heartbeat-monitor", check=True).stdout
    # The wake's summary: what the model found, not the bare `sleep` of its last iteration; the secret a tool
    # printed (and the model repeated) is masked in everything the run records.
    assert runs[0]["summary"] == "Second wake: all quiet."
    assert runs[1]["summary"] == "Disk fine; token *** checked; could not restart."
    assert "***" in runs[1]["output"]
    wait_for(lambda: len(d.hook.requests) == 2, what="one webhook per wake")
    assert [r.json()["run"]["summary"] for r in d.hook.requests] == [runs[1]["summary"], runs[0]["summary"]]
    for path in [*(d.home / "logs").rglob("*.log"), d.home / "daemon.log"]:
        assert SECRET not in path.read_text(), path
    for args in (("cron", "history", "heartbeat-monitor", "--format", "json"), ("cron", "status", "heartbeat-monitor")):
        assert SECRET not in d.symbi(*args).stdout

    with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'symbiont_cron_model_tokens_total{direction="input",job_name="heartbeat-monitor"} 800.0' in metrics
    assert 'symbiont_cron_model_tokens_total{direction="output",job_name="heartbeat-monitor"} 80.0' in metrics


def test_model_server_down_fails_the_run_clearly_and_is_retried_by_policy(daemon):
    d = daemon
    d.model.stop()  # nothing listens at the configured base_url any more
    pid = d.start()
    proc = d.symbi("cron", "run", "heartbeat-monitor", "--wait")
    assert proc.returncode == 1
    wait_for(
        lambda: [r["status"] for r in _history(d)] == ["failed", "failed"],
        timeout=30,
        what="the failed run and its retry",
    )
    runs = _history(d)
    assert [r["trigger"] for r in runs] == ["retry", "manual"]
    for run in runs:
        assert run["error_message"].startswith(
            "iteration 1: model agent 'heartbeat_monitor': cannot reach the anthropic API at http://127.0.0.1:"
        )
        assert run["error_message"].endswith("(gave up after 2 attempts)")  # [models] max_retries = 1
        assert run["deliveries"] and all(r["ok"] for r in run["deliveries"])
    assert (
        json.loads(d.symbi("cron", "status", "heartbeat-monitor", "--format", "json").stdout)["status"] == "dead_letter"
    )
    assert pid_alive(pid) and "Traceback" not in d.log()
    assert d.symbi("cron", "daemon", "status").returncode == 0
