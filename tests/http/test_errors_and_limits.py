"""Bad requests: every one gets a JSON {error, code, details} with the right status, never a 500, never a hang."""

from __future__ import annotations

import socket

import pytest

from symbi_cron.http import server as server_mod

JOB = {"name": "j", "agent_id": "a", "cron_expr": "*/5 * * * *"}


def _error(r, status: int, code: str | None = None) -> dict:
    assert r.status == status, (r.status, r.raw[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.body
    assert set(body) == {"error", "code", "details"} and body["error"]
    if code:
        assert body["code"] == code, body
    return body


def test_malformed_json_names_line_and_column(http):
    b = _error(http("POST", "/api/v1/schedule", raw=b'{"name": "x",\n  "agent_id": }'), 400, "invalid_input")
    assert b["details"]["line"] == 2 and b["details"]["column"] > 1
    _error(http("POST", "/api/v1/schedule", raw=b"\xff\xfe not utf-8"), 400)
    _error(http("POST", "/api/v1/schedule", raw=b"[1, 2, 3]"), 400)
    _error(http("POST", "/api/v1/schedule", raw=b'"just a string"'), 400)
    _error(http("POST", "/api/v1/schedule", raw=b"null"), 400)
    _error(http("POST", "/api/v1/schedule"), 400)  # no body


def test_wrong_content_type_is_415(http):
    _error(
        http("POST", "/api/v1/schedule", JOB, content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )
    _error(http("POST", "/api/v1/schedule", JOB, content_type=None), 415)
    assert http("POST", "/api/v1/schedule", JOB, content_type="application/json; charset=utf-8").status == 201


def test_body_over_the_limit_is_413_before_it_is_read(http, server):
    big = b'{"name": "' + b"x" * (1_048_576 + 10) + b'"}'
    b = _error(http("POST", "/api/v1/schedule", raw=big), 413, "payload_too_large")
    assert b["details"]["limit"] == 1_048_576
    # A lying Content-Length: the server refuses from the header alone and does not wait for the bytes.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(
            b"POST /api/v1/schedule HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + server.key.encode() + b"\r\nContent-Length: 999999999\r\n\r\n{"
        )
        assert s.recv(4096).startswith(b"HTTP/1.1 413")


def test_expect_100_continue_is_refused_before_the_body(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(
            b"POST /api/v1/schedule HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: 5000000\r\n\r\n"
        )
        assert s.recv(4096).startswith(b"HTTP/1.1 413")


def test_deep_nesting_is_refused(http):
    deep = b'{"name": "n", "agent_id": "a", "cron_expr": "* * * * *", "custom": ' + b'{"a": ' * 50 + b"1" + b"}" * 51
    _error(http("POST", "/api/v1/schedule", raw=deep), 400)
    very_deep = b"[" * 200_000 + b"]" * 200_000  # would overflow a recursive parser
    _error(http("POST", "/api/v1/schedule", raw=very_deep), 400)


def test_bad_content_length_and_chunked(server):
    for header, status in (
        (b"Content-Length: banana", b"400"),
        (b"Content-Length: -5", b"400"),
        (b"Transfer-Encoding: chunked", b"411"),
    ):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"POST /api/v1/schedule HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
            assert s.recv(4096).split(b" ")[1] == status


def test_unknown_route_method_and_query(http):
    _error(http("GET", "/api/v1/nothing"), 404, "not_found")
    b = _error(http("GET", "/api/v1/schedule?colour=red&status=active"), 400, "invalid_input")
    assert "colour" in b["error"] and b["details"]["field"] == "colour"
    r = http("PATCH", "/api/v1/schedule/x")
    _error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PUT"
    r = http("DELETE", "/api/v1/schedule")
    assert r.status == 405 and "POST" in r.headers["allow"]
    assert http("OPTIONS", "/api/v1/schedule").status == 204
    r = http("HEAD", "/api/v1/schedule")
    assert r.status == 200 and r.raw == b""


def _read_all(s: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_unknown_method_and_garbage_request_line(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"BREW /api/v1/schedule HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = _read_all(s)
    assert data.startswith(b"HTTP/1.1 405") and b"Allow: GET, HEAD, OPTIONS, POST" in data and b'"code"' in data
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        assert s.recv(4096).split(b" ")[1] == b"400"


def test_path_with_odd_characters(http):
    assert http("GET", "/api/v1/schedule/%00%ff").status == 404
    assert http("GET", "/api/v1/schedule/" + "a" * 5000).status == 404
    assert http("GET", "/api/v1/schedule/a%2Fb").status == 404
    http("POST", "/api/v1/schedule", {**JOB, "name": "with space"})
    assert http("GET", "/api/v1/schedule/with%20space").body["name"] == "with space"


def test_a_silent_client_is_cut_off_and_does_not_block_others(app, monkeypatch):
    monkeypatch.setattr(server_mod._Handler, "timeout", 2.0)
    handle = server_mod.start_api(app, None, port=0)
    try:
        slow = socket.create_connection(("127.0.0.1", handle.port), timeout=5)
        slow.sendall(b"GET /api/v1/schedule HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        # Answered while the silent client still held its connection (not merely after it was cut off).
        slow.setblocking(False)
        with pytest.raises(BlockingIOError):
            slow.recv(4096)
        slow.settimeout(5)
        assert slow.recv(4096) == b""  # the server closed it after its read timeout
        slow.close()
    finally:
        handle.close()


def test_connections_over_the_cap_get_503(app, monkeypatch):
    monkeypatch.setattr(server_mod, "MAX_CONNECTIONS", 2)
    handle = server_mod.start_api(app, None, port=0)
    held = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", handle.port), timeout=5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")  # keep-alive: the connection stays open
            held.append(s)
        with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 503")
    finally:
        for s in held:
            s.close()
        handle.close()


@pytest.mark.parametrize("path", ["/api/v1/schedule", "/api/v1/schedules"])
def test_fields_of_the_wrong_type_never_give_500(http, path):
    bodies = [
        {"name": 1},
        {"name": None},
        {"name": [], "agent_id": {}},
        {"cron_expr": 5, "name": "x"},
        {"name": "x", "agent_id": "a", "cron_expr": "* * * * *", "at": "yesterday"},
        {"name": "x", "agent_name": "a", "cron_expression": "* * * * *", "policy_ids": ["none"]},
        {"name": "x", "agent_name": "a", "cron_expression": "* * * * *", "timezone": "Nowhere/Land"},
        {"name": "\u0000", "agent_id": "a", "cron_expr": "* * * * *"},
    ]
    for body in bodies:
        r = http("POST", path, body)
        assert r.status == 400, (body, r.body)


def test_bind_errors_are_clear(app, server):
    from symbi_cron.errors import SymbiError

    with pytest.raises(SymbiError, match=rf"port {server.port} on 127.0.0.1 is in use"):
        server_mod.start_api(app, None, port=server.port)
    with pytest.raises(SymbiError, match="not an address of this machine"):
        server_mod.start_api(app, None, bind="203.0.113.7", port=0)


def test_found_by_schemathesis(http):
    job = http("POST", "/api/v1/schedule", JOB).body
    # an empty number is not "the default"
    r = http("GET", f"/api/v1/schedules/{job['id']}/history?limit=")
    assert r.status == 400 and r.body["details"]["field"] == "limit"
    # a body that is JSON null is not "no body"
    assert http("POST", f"/api/v1/schedule/{job['id']}/run", raw=b"null").status == 400
    # TRACE and friends: 405 with Allow, never the stdlib's 501
    r = http("TRACE", "/api/v1/schedules")
    assert r.status == 405 and "GET" in r.headers["allow"]


def test_an_overlong_or_blank_id_is_not_found_never_a_500(http):
    # 60,000 hex characters once reached SQLite as a LIKE prefix ("LIKE or GLOB pattern too complex": a 500)
    for ref in ("a" * 60_000, "0123456789abcdef" * 3750, "%20%20", "%C2%A0", "%0C"):
        for path in (f"/api/v1/schedule/{ref}", f"/api/v1/schedules/{ref}", f"/api/v1/runs/{ref}"):
            r = http("GET", path)
            assert r.status == 404, (path[:60], r.status, r.body)
            assert r.body["code"] == "not_found"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"agent_id": "reporter\n2026-01-01 00:00:00,000 ERROR symbi.scheduler: forged"}, "agent_id"),
        ({"agent_id": "rep\x00orter"}, "agent_id"),
        ({"agent_id": "two words"}, "agent_id"),
        ({"name": "nightly\x1b[2J"}, "name"),
        ({"name": "a\u2028b"}, "name"),
        ({"delivery": ["custom:pager\r\n"]}, "delivery"),
        ({"webhook_headers": {"X-Evil\r\nInjected": "1"}}, "webhook_headers"),
        ({"webhook_headers": {"Authorization": "Bearer x\r\nX-Injected: 1"}}, "webhook_headers"),
        ({"slack_channel": "#ops\n"}, "slack_channel"),
        ({"email_recipients": ["a@example.com\nBcc: b@example.com"]}, "email_recipients"),
        ({"policy": {"approvers": ["alice\n"]}}, "policy.approvers"),
    ],
)
def test_control_characters_are_refused_in_identifiers_and_names(http, change, field):
    job = {"name": "nightly", "agent_id": "reporter", "cron_expr": "0 3 * * *", **change}
    r = http("POST", "/api/v1/schedule", job)
    assert r.status == 400, r.body
    assert r.body["details"]["field"] == field
    assert http("GET", "/api/v1/schedule").body == []


@pytest.mark.parametrize(
    "change, field",
    [
        ({"max_retries": "3"}, "max_retries"),
        ({"max_concurrent": True}, "max_concurrent"),
        ({"jitter_seconds": "30"}, "jitter_seconds"),
        ({"one_shot": "true"}, "one_shot"),
        ({"heartbeat": {"enabled": 1}}, "heartbeat.enabled"),
        ({"heartbeat": {"max_iterations": "5"}}, "heartbeat.max_iterations"),
        ({"policy": {"require_approval": "yes"}}, "policy.require_approval"),
    ],
)
def test_a_string_or_boolean_where_a_number_or_flag_belongs_is_refused(http, change, field):
    job = {"name": "typed", "agent_id": "reporter", "cron_expr": "0 3 * * *", **change}
    r = http("POST", "/api/v1/schedule", job)
    assert r.status == 400 and r.body["details"]["field"] == field, r.body


def test_json_whole_numbers_written_with_a_fraction_part_are_numbers(http):
    job = {"name": "typed", "agent_id": "reporter", "cron_expr": "0 3 * * *", "max_concurrent": 2.0, "max_retries": 1.0}
    r = http("POST", "/api/v1/schedule", job)
    assert r.status == 201 and r.body["max_concurrent"] == 2 and r.body["max_retries"] == 1
