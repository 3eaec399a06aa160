"""The API's security edges (QA review): request framing a proxy could read differently (smuggling), a client
trickling bytes forever (slowloris), auth on every closed route of the table, no open CORS."""

from __future__ import annotations

import re
import socket
import time

import pytest

from symbi_cron.http import server as server_mod
from symbi_cron.http.route_table import ROUTES

BODY = b'{"name":"j","agent_id":"a","cron_expr":"*/5 * * * *"}'


def _exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data``, read until the server closes (or ``timeout``)."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out


def _post(key: str, *headers: bytes, body: bytes = BODY) -> bytes:
    head = b"POST /api/v1/schedule HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += f"Authorization: Bearer {key}\r\n".encode()
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


@pytest.mark.parametrize(
    "headers",
    [
        (b"Content-Length: 5", b"Content-Length: %d" % len(BODY)),  # two that differ: which one frames?
        (b"Content-Length: +%d" % len(BODY),),  # int() takes these; other parsers do not
        (b"Content-Length: 5_3",),
        (b"Transfer-Encoding: identity", b"Content-Length: %d" % len(BODY)),
        (b"Transfer-Encoding : chunked", b"Content-Length: %d" % len(BODY)),  # the stdlib drops later headers
        (b"X-Pad: a", b" Content-Length: %d" % len(BODY)),  # obs-fold: hides a Content-Length in X-Pad
    ],
)
def test_ambiguous_framing_is_refused_and_the_connection_closed(server, headers):
    raw = _exchange(server.port, _post(server.key, *headers))
    assert raw.split(b" ", 2)[1] in (b"400", b"411"), raw[:300]
    assert raw.count(b"HTTP/1.1 ") == 1, raw  # nothing after the first answer was read as a second request
    assert b"connection: close" in raw.lower()


def test_duplicate_equal_content_lengths_and_http_1_0_are_fine(server):
    n = b"%d" % len(BODY)
    raw = _exchange(
        server.port, _post(server.key, b"Content-Length: " + n, b"Content-Length: " + n, b"Connection: close")
    )
    assert raw.startswith(b"HTTP/1.1 201"), raw[:300]
    raw = _exchange(
        server.port, f"GET /api/v1/schedule HTTP/1.0\r\nAuthorization: Bearer {server.key}\r\n\r\n".encode()
    )
    assert raw.startswith(b"HTTP/1.1 200") and raw.endswith(b"]"), raw[:300]


def test_a_trickling_client_is_cut_off_at_the_request_deadline(app, monkeypatch):
    # Each byte arrives well within the read timeout; only a deadline on the whole request can end this.
    monkeypatch.setattr(server_mod._Handler, "timeout", 0.5)
    monkeypatch.setattr(server_mod, "REQUEST_DEADLINE", 1.0)
    handle = server_mod.start_api(app, None, port=0)
    try:
        with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            closed = False
            while time.monotonic() - t0 < 4:
                try:
                    s.sendall(b"X")
                except OSError:
                    closed = True
                    break
                s.settimeout(0.2)
                try:
                    if s.recv(4096) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
            assert closed, "the server still holds a connection that never finished its headers"
            assert time.monotonic() - t0 < 2.5
        # a normal request on a fresh connection is unaffected, and a kept-alive one is served twice
        with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as s:
            for _ in range(2):
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                assert s.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        handle.close()


def test_every_closed_route_needs_the_key(http):
    closed = [r for r in ROUTES if r.auth]
    assert {r.template for r in ROUTES if not r.auth} == {
        "/health",
        "/api/v1/health/scheduler",
        "/metrics",
        "/api/v1/openapi.json",
    }
    for route in closed:
        path = re.sub(r"\{\w+\}", "nope", route.template)
        for headers in (
            {},
            {"Authorization": f"Bearer {http.key}x"},
            {"Authorization": f"Basic {http.key}"},
            {"Authorization": http.key},
        ):
            r = http(route.method, path, {} if route.method in ("POST", "PUT") else None, auth=False, headers=headers)
            assert r.status == 401, (route.method, path, headers, r.status)


def test_cors_is_not_open(http):
    pre = http(
        "OPTIONS",
        "/api/v1/schedule",
        auth=False,
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    get = http("GET", "/api/v1/schedule", headers={"Origin": "http://evil.example"})
    for r in (pre, get):
        assert not any(h.startswith("access-control-") for h in r.headers), r.headers
