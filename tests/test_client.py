"""symbi_cron.client.SymbiontClient against the real server on 127.0.0.1 (in-process, real store in tmp)."""

from __future__ import annotations

import os

import pytest

from symbi_cron.client import (
    ApiConnectionError,
    ApiError,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    Record,
    SymbiontClient,
)
from symbi_cron.http.server import start_api


@pytest.fixture
def api(app):
    handle = start_api(app, None, port=0)
    yield handle
    handle.close()


def test_the_guides_python_sdk_example_runs(api, monkeypatch, capsys):
    # The guide's example, verbatim but for the import line and the key's source (and the port).
    monkeypatch.setenv("SYMBI_API_KEY", api.key)
    from symbi_cron.client import SymbiontClient

    client = SymbiontClient(base_url=api.url, api_key=os.environ["SYMBI_API_KEY"])
    # Crear trabajo programado
    job = client.schedule.create(
        name="hourly-metrics",
        agent_id="metrics-agent",
        cron_expr="0 * * * *",
        session_mode="ephemeral_with_summary",
        delivery=["slack", "log_file"],
        slack_channel="#metrics",
    )
    print(f"Created job: {job.id}")
    # Listar trabajos para un agente específico
    jobs = client.schedule.list(agent_id="metrics-agent")
    print(f"Found {len(jobs)} jobs for metrics-agent")
    # Obtener detalles del trabajo
    details = client.schedule.get(job.id)
    print(f"Cron: {details.cron_expr}")
    print(f"Next run: {details.next_run}")
    # Actualizar expresión cron
    client.schedule.update(job.id, cron_expr="*/30 * * * *")
    # Activar ejecución inmediata
    run = client.schedule.run_now(job.id, input="Generate metrics report")
    print(f"Run ID: {run.id}")
    # Pausar durante mantenimiento
    client.schedule.pause(job.id)
    print("Job paused for maintenance")
    # Ver fallos recientes
    history = client.schedule.get_history(job.id, status="failed", limit=5)
    for run in history:
        print(f"Failed run {run.id}: {run.error_message}")
    # Reanudar después del mantenimiento
    client.schedule.resume(job.id)
    # Verificar salud del programador
    health = client.schedule.health()
    print(f"Scheduler status: {health.status}")
    print(f"Active jobs: {health.active_jobs}")
    print(f"In-flight jobs: {health.in_flight_jobs}")

    out = capsys.readouterr().out
    assert f"Created job: {job.id}" in out
    assert "Found 1 jobs for metrics-agent" in out
    assert "Cron: 0 * * * *" in out and "Next run: 2026-11-27T13:00:00+00:00" in out
    assert "Run ID: " in out and "Scheduler status: healthy" in out and "Active jobs: 1" in out
    assert client.schedule.get(job.id).cron_expr == "*/30 * * * *"


def test_records_and_typed_errors(api):
    client = SymbiontClient(api.url, api.key)
    job = client.schedule.create({"name": "r", "agent_id": "a", "cron_expr": "@daily"})
    assert isinstance(job, Record) and job["name"] == job.name == "r"
    assert job.heartbeat.max_iterations == 10  # nested objects are Records too
    assert job.to_dict()["agent_id"] == "a"
    with pytest.raises(AttributeError, match="nope"):
        _ = job.nope
    status = client.schedule.get_status(job, history=3)
    assert status.recent_runs == []
    assert client.schedule.next_run(job.id, count=2).next_runs[0] == job.next_run

    with pytest.raises(NotFoundError) as exc:
        client.schedule.get("missing")
    assert exc.value.status == 404 and exc.value.code == "not_found"
    with pytest.raises(ConflictError) as exc:
        client.schedule.create(name="r", agent_id="a", cron_expr="@daily")
    assert exc.value.status == 409
    with pytest.raises(InvalidInputError) as exc:
        client.schedule.create(name="s", agent_id="a", cron_expr="every day")
    assert exc.value.status == 400 and exc.value.code == "invalid_cron"
    with pytest.raises(ConflictError):
        client.schedule.resume(job.id)  # it is not paused
    with pytest.raises(AuthenticationError):
        SymbiontClient(api.url, "wrong").schedule.list()
    assert client.schedule.delete(job.id).deleted is True


def test_defaults_come_from_the_local_config_and_key_file(api, app, monkeypatch):
    app.paths.config_file.write_text(f"[api]\nport = {api.port}\n")
    monkeypatch.delenv("SYMBI_API_KEY", raising=False)
    monkeypatch.delenv("SYMBI_API_URL", raising=False)
    client = SymbiontClient()
    assert client.base_url == f"http://127.0.0.1:{api.port}" and client.api_key == api.key
    assert client.schedule.list() == []
    # The SDKs' base URL convention (ending in /api/v1) is accepted too.
    assert SymbiontClient(api.url + "/api/v1/", api.key).schedule.health().status == "healthy"


def test_unreachable_daemon_is_a_clear_error(api):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with pytest.raises(ApiConnectionError, match="is `symbi cron daemon` running"):
        SymbiontClient(f"http://127.0.0.1:{free}", "k").schedule.list()


def test_a_redirect_is_an_error_never_followed():
    from servers.http_recorder import RecordingHTTPServer, Reply

    with RecordingHTTPServer() as srv:
        elsewhere = srv.url("/elsewhere/api/v1/schedule")
        srv.default = Reply(307, "", {"Location": elsewhere})
        with pytest.raises(ApiError) as caught:
            SymbiontClient(srv.url(), "k").schedule.create(name="j", agent_id="a", cron_expr="* * * * *")
        assert [r.path for r in srv.requests] == ["/api/v1/schedule"]
    err = caught.value
    assert (err.status, err.code) == (307, "redirect")
    assert f"a redirect to {elsewhere}; redirects are not followed" in err.message


def test_an_unusable_url_is_a_clear_error():
    with pytest.raises(ApiConnectionError, match=r"unsupported URL scheme 'ftp' .*\(check SYMBI_API_URL\)"):
        SymbiontClient("ftp://127.0.0.1:21", "k").schedule.list()


def test_symbi_api_key_prints_the_key_for_scripts(cli, home):
    first = cli("api-key", ok=True).stdout.strip()
    assert len(first) >= 40
    assert cli("api-key", ok=True).stdout.strip() == first  # stable: generated once
    assert cli("api-key", "--path", ok=True).stdout.strip() == str(home / "api.key")


def test_lists_and_history_are_read_page_by_page(api, app):
    from symbi_cron.services import jobs
    from symbi_cron.services.runs import queue_manual

    client = SymbiontClient(base_url=api.url, api_key=api.key)
    for i in range(5):
        jobs.create_job(app, {"name": f"p{i}", "agent_id": "a", "cron_expr": "0 * * * *"})
    assert [j.name for j in client.schedule.iter(page_size=2)] == [f"p{i}" for i in range(5)]  # three pages
    assert len(client.schedule.list()) == 5
    ids = []
    for _ in range(7):
        app.clock.advance(1)
        ids.append(queue_manual(app, "p0")["id"])
    newest = list(reversed(ids))
    assert [r.id for r in client.schedule.iter_history("p0", page_size=3)] == newest
    assert [r.id for r in client.schedule.get_history("p0", limit=6)] == newest[:6]
    run = client.runs.get(ids[0])
    assert run.id == ids[0] and run.job_name == "p0" and run.status == "queued"
    with pytest.raises(NotFoundError):
        client.runs.get("ffffffff")
