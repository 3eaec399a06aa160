"""Cursor pagination on every list (SPEC §13): ``limit`` and ``cursor`` in, ``X-Next-Cursor`` and ``Link`` out,
the body's shape unchanged; and ``GET /api/v1/runs/{id}``."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import jsonschema

from symbi_cron.http.route_table import HISTORY_PAGE, JOBS_PAGE
from symbi_cron.services import jobs
from symbi_cron.services.runs import queue_manual


def _job(app, name: str, agent: str = "a") -> dict:
    return jobs.create_job(app, {"name": name, "agent_id": agent, "cron_expr": "0 * * * *"})


def _walk(http, path: str, *, items=lambda body: body) -> tuple[list, int]:
    """Follow X-Next-Cursor from ``path`` to the last page; the items and the number of pages."""
    out, pages, url = [], 0, path
    while True:
        r = http("GET", url)
        assert r.status == 200, r.body
        pages += 1
        out += items(r.body)
        cursor = r.headers.get("x-next-cursor")
        if cursor is None:
            assert "link" not in r.headers
            return out, pages
        # the Link header names the same next page
        link = r.headers["link"]
        assert link.endswith('>; rel="next"') and f"cursor={quote(cursor)}" in link
        url = link[1 : link.index(">")]


def test_job_lists_page_by_name_with_a_cursor(app, http):
    names = [f"job-{i:02d}" for i in range(7)]
    for n in reversed(names):
        _job(app, n)
    first = http("GET", "/api/v1/schedule?limit=3")
    assert [j["name"] for j in first.body] == names[:3]
    assert first.headers["x-next-cursor"]
    seen, pages = _walk(http, "/api/v1/schedule?limit=3")
    assert [j["name"] for j in seen] == names and pages == 3
    # the runtime family pages the same way and keeps symbiont-sdk's list shape
    summaries, pages = _walk(http, "/api/v1/schedules?limit=2")
    assert [s["name"] for s in summaries] == names and pages == 4
    assert set(summaries[0]) == {
        "job_id",
        "name",
        "cron_expression",
        "timezone",
        "status",
        "enabled",
        "next_run",
        "run_count",
    }


def test_filters_carry_over_and_a_cursor_is_bound_to_its_filters(app, http):
    for i in range(5):
        _job(app, f"x{i}", agent="alpha" if i % 2 == 0 else "beta")
    seen, _ = _walk(http, "/api/v1/schedule?agent_id=alpha&limit=1")
    assert [j["name"] for j in seen] == ["x0", "x2", "x4"]
    cursor = http("GET", "/api/v1/schedule?agent_id=alpha&limit=1").headers["x-next-cursor"]
    r = http("GET", f"/api/v1/schedule?agent_id=beta&limit=1&cursor={cursor}")
    assert r.status == 400 and r.body["details"]["field"] == "cursor" and "filters" in r.body["error"]
    # a cursor of another list is refused too
    job = jobs.get_job(app, "x0")
    r = http("GET", f"/api/v1/schedule/{job['id']}/history?cursor={cursor}")
    assert r.status == 400 and r.body["details"]["field"] == "cursor"


def test_damaged_and_forged_cursors_are_a_400_never_a_500(app, http):
    _job(app, "only")

    def forged(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    job = jobs.get_job(app, "only")
    for path, cursor in (
        ("/api/v1/schedule", "%%%"),
        ("/api/v1/schedule", "bm90IGpzb24"),
        ("/api/v1/schedule", forged([1, 2])),
        ("/api/v1/schedule", forged({"k": "jobs", "s": "x", "a": {"name": "x"}})),
        (f"/api/v1/schedule/{job['id']}/history", forged({"k": "runs", "s": "x", "a": 10**30})),
        (f"/api/v1/schedule/{job['id']}/history", forged({"k": "runs", "s": "x", "a": "1"})),
        ("/api/v1/schedules", "\u00e9t\u00e9"),
    ):
        r = http("GET", f"{path}?cursor={quote(cursor)}")
        assert r.status == 400, (cursor, r.body)
        assert r.body["details"]["field"] == "cursor"


def test_limit_bounds_and_the_default_pages(app, http):
    for i in range(JOBS_PAGE + 1):
        _job(app, f"j{i:04d}")
    r = http("GET", "/api/v1/schedule")
    assert len(r.body) == JOBS_PAGE and "x-next-cursor" in r.headers
    assert len(http("GET", "/api/v1/schedule?limit=1000").body) == JOBS_PAGE + 1
    for bad in ("0", "1001", "-1", "ten", ""):
        r = http("GET", f"/api/v1/schedule?limit={bad}")
        assert r.status == 400 and r.body["details"]["field"] == "limit", bad


def test_history_pages_newest_first(app, http):
    job = _job(app, "busy")
    run_ids = []
    for _ in range(HISTORY_PAGE + 3):
        app.clock.advance(1)
        run_ids.append(queue_manual(app, job["id"])["id"])
    newest_first = list(reversed(run_ids))
    r = http("GET", f"/api/v1/schedule/{job['id']}/history")
    assert [x["id"] for x in r.body] == newest_first[:HISTORY_PAGE]
    seen, pages = _walk(http, f"/api/v1/schedule/{job['id']}/history?limit=5&status=queued")
    assert [x["id"] for x in seen] == newest_first and pages == 5
    # the runtime family's history object keeps its shape; the cursor is in the headers
    entries, pages = _walk(http, f"/api/v1/schedules/{job['id']}/history?limit=10", items=lambda b: b["history"])
    assert [e["run_id"] for e in entries] == newest_first and pages == 3


def test_a_page_is_stable_when_jobs_are_added_between_pages(app, http):
    for n in ("a", "c", "e"):
        _job(app, n)
    r = http("GET", "/api/v1/schedule?limit=2")
    assert [j["name"] for j in r.body] == ["a", "c"]
    _job(app, "b")  # before the cursor: not seen on this walk, nothing repeated or skipped after it
    _job(app, "d")
    rest = http("GET", f"/api/v1/schedule?limit=2&cursor={r.headers['x-next-cursor']}")
    assert [j["name"] for j in rest.body] == ["d", "e"] and "x-next-cursor" not in rest.headers


def test_get_one_run_by_id_or_prefix(app, http):
    job = _job(app, "one")
    run = queue_manual(app, job["id"], input_text="hello")
    r = http("GET", f"/api/v1/runs/{run['id']}")
    assert r.status == 200
    body = r.body
    assert body["id"] == run["id"] and body["job_id"] == job["id"] and body["job_name"] == "one"
    assert body["status"] == "queued" and body["input"] == "hello" and body["deliveries"] == []
    doc = http("GET", "/api/v1/openapi.json").body
    schema = doc["paths"]["/api/v1/runs/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(body)
    assert http("GET", f"/api/v1/runs/{run['id'][:8]}").body["id"] == run["id"]
    missing = http("GET", "/api/v1/runs/ffffffff-0000")
    assert missing.status == 404 and missing.body["code"] == "not_found"


def test_openapi_names_the_real_address_and_documents_paging(http, server):
    doc = http("GET", "/api/v1/openapi.json", auth=False).body
    assert doc["servers"][0]["url"] == f"http://127.0.0.1:{server.port}"
    op = doc["paths"]["/api/v1/schedule"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["limit"]["schema"]["default"] == JOBS_PAGE and "cursor" in params
    assert "X-Next-Cursor" in op["responses"]["200"]["headers"]
