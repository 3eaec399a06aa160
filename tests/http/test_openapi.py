"""The OpenAPI document: a valid OpenAPI 3.1 document covering every route, whose schemas the answers match."""

from __future__ import annotations

import jsonschema
from openapi_spec_validator import validate

from symbi_cron.http.route_table import ROUTES


def test_document_is_valid_and_covers_every_route(http):
    r = http("GET", "/api/v1/openapi.json")
    assert r.status == 200
    doc = r.body
    validate(doc)
    assert doc["openapi"].startswith("3.")
    for route in ROUTES:
        op = doc["paths"][route.template][route.method.lower()]
        assert op["responses"]
        if route.auth:
            assert "401" in op["responses"]
        else:
            assert op["security"] == []


def _schema_validator(doc: dict, ref: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": ref, "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_answers_match_their_schemas(http):
    doc = http("GET", "/api/v1/openapi.json").body
    job = http("POST", "/api/v1/schedule", {"name": "j", "agent_id": "a", "cron_expr": "0 * * * *"}).body
    http("POST", f"/api/v1/schedule/{job['id']}/run", {"input": "x"})
    checks = [
        ("GET", f"/api/v1/schedule/{job['id']}", "/api/v1/schedule/{id}", "get", "200"),
        ("GET", f"/api/v1/schedule/{job['id']}/history", "/api/v1/schedule/{id}/history", "get", "200"),
        ("GET", f"/api/v1/schedule/{job['id']}/next_run", "/api/v1/schedule/{id}/next_run", "get", "200"),
        ("GET", "/api/v1/health/scheduler", "/api/v1/health/scheduler", "get", "200"),
        ("GET", "/api/v1/schedules", "/api/v1/schedules", "get", "200"),
        ("GET", f"/api/v1/schedules/{job['id']}", "/api/v1/schedules/{id}", "get", "200"),
        ("GET", f"/api/v1/schedules/{job['id']}/history", "/api/v1/schedules/{id}/history", "get", "200"),
        ("GET", "/api/v1/schedule/nope", "/api/v1/schedule/{id}", "get", "404"),
    ]
    for method, url, template, op, status in checks:
        r = http(method, url)
        assert str(r.status) == status, (url, r.body)
        schema = doc["paths"][template][op]["responses"][status]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(r.body)


def test_docs_api_md_lists_every_endpoint_as_generated():
    from pathlib import Path

    from symbi_cron.http.openapi import refresh_docs

    doc = Path(__file__).resolve().parents[2] / "docs" / "api.md"
    text = doc.read_text(encoding="utf-8")
    assert refresh_docs(text) == text, "docs/api.md is stale: run `python -m symbi_cron.http.openapi`"
