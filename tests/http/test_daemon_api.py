"""The API served by a real daemon process (`symbi cron daemon start`): the key from `symbi api-key`, symbiont-sdk
and our client against it, runs really executed, and metrics that agree with the run history across a restart."""

from __future__ import annotations

import pytest
from agents.daemon_helper import Daemon, wait_for
from api_helpers import Http
from prometheus_client.parser import text_string_to_metric_families
from servers.ports import free_port

pytestmark = pytest.mark.slow


class _Handle:
    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "home")
    port = free_port()
    cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {port}")
    (d.home / "config.toml").write_text(cfg)
    d.start()
    key = d.symbi("api-key", check=True).stdout.strip()
    d.api = _Handle(port, key)
    d.http = Http(d.api)
    wait_for(lambda: d.http("GET", "/health", auth=False).status == 200, what="the API")
    yield d
    d.symbi("cron", "daemon", "stop")
    d.cleanup()


def _final(d, job_id: str, n: int):
    def done():
        runs = d.http("GET", f"/api/v1/schedule/{job_id}/history?limit=100").body
        finished = [r for r in runs if r["status"] not in ("queued", "running")]
        return runs if len(finished) >= n else None

    return wait_for(done, timeout=30, what=f"{n} finished runs")


def _counts(text: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(text):
        if fam.name in ("symbiont_cron_runs", "symbiont_cron_execution_duration_seconds"):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_daemon_serves_the_api_runs_jobs_and_metrics_survive_a_restart(daemon, monkeypatch):
    d = daemon
    assert oct((d.home / "api.key").stat().st_mode & 0o777) == "0o600"
    d.add_agent("ok", "echo")
    d.add_agent("bad", "fail", "3")

    # symbiont-sdk against the real daemon
    monkeypatch.setenv("SYMBIONT_AUTH_JWT_SECRET_KEY", "unused-by-api-key-auth")
    monkeypatch.setenv("SYMBIONT_AUTH_ENABLE_REFRESH_TOKENS", "false")
    monkeypatch.setenv("SYMBIONT_MAX_RETRIES", "0")
    from symbiont import Client
    from symbiont.schedules import CreateScheduleRequest

    sdk = Client(api_key=d.api.key, base_url=f"{d.api.url}/api/v1")
    ok = sdk.schedules.create_schedule(
        CreateScheduleRequest(name="ok-job", cron_expression="0 0 1 1 *", agent_name="ok")
    )
    assert sdk.schedules.trigger_schedule(ok.job_id).status == "queued"

    # our client, the guide's family
    from symbi_cron.client import SymbiontClient

    client = SymbiontClient(d.api.url, d.api.key)
    bad = client.schedule.create(name="bad-job", agent_id="bad", cron_expr="0 0 1 1 *", max_retries=10)
    run = client.schedule.run_now(bad.id, input="x")
    assert run.status == "queued"
    client.schedule.run_now(ok.job_id, input="hello")

    ok_runs = _final(d, ok.job_id, 2)
    assert {r["status"] for r in ok_runs} == {"succeeded"}
    assert any(r["output"] == "hello" for r in ok_runs)
    bad_runs = _final(d, bad.id, 1)
    failed = [r for r in bad_runs if r["status"] == "failed"]
    assert failed and client.schedule.get_history(bad.id, status="failed")[0].error_message
    hist = sdk.schedules.get_schedule_history(ok.job_id)
    assert {e.status for e in hist.history} == {"succeeded"} and all(e.completed_at for e in hist.history)

    health = client.schedule.health()
    assert health.status == "healthy" and health.metrics.runs_succeeded == 2

    before = _counts(d.http("GET", "/metrics", auth=False).text)
    assert before[("symbiont_cron_runs_total", (("job_name", "ok-job"), ("status", "succeeded")))] == 2
    n_failed = sum(1 for r in client.schedule.get_history(bad.id, limit=100) if r.status == "failed")
    assert before[("symbiont_cron_runs_total", (("job_name", "bad-job"), ("status", "failed")))] == n_failed

    # Restart the daemon: the counters come back from the store, equal to the history.
    d.symbi("cron", "daemon", "stop", check=True)
    d.start()
    wait_for(lambda: d.http("GET", "/health", auth=False).status == 200, what="the API after restart")
    after = _counts(d.http("GET", "/metrics", auth=False).text)
    n_failed_now = sum(1 for r in client.schedule.get_history(bad.id, limit=100) if r.status == "failed")
    assert after[("symbiont_cron_runs_total", (("job_name", "ok-job"), ("status", "succeeded")))] == 2
    assert after[("symbiont_cron_runs_total", (("job_name", "bad-job"), ("status", "failed")))] == n_failed_now
    key = ("symbiont_cron_execution_duration_seconds_count", (("job_name", "ok-job"),))
    assert after[key] == before[key] == 2
