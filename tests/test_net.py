"""symbi_cron.net, the one way out for HTTP, against real servers on the loopback (tests/servers; a raw TCP socket
for answers that are not HTTP). Nothing here reaches the internet: the one non-loopback host is sent to a local
proxy."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from servers.http_recorder import RecordingHTTPServer, Reply
from servers.ports import free_port

from symbi_cron import net


@pytest.fixture
def srv():
    with RecordingHTTPServer() as server:
        yield server


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    return monkeypatch


@contextmanager
def raw_server(answer: bytes | None) -> Iterator[int]:
    """A TCP server on 127.0.0.1 for one connection: it reads the request and sends ``answer`` (None: closes
    without a word)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            if answer:
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=10)
        listener.close()


# -- answers ---------------------------------------------------------------------------------------------------
def test_every_status_is_an_answer_with_its_body_and_headers(srv):
    srv.script(Reply(200, {"ok": True}, {"X-Trace": "a1"}), Reply(503, "down", {"Retry-After": "7"}))
    first = net.request("POST", srv.url("/in"), body=b"{}", headers={"Content-Type": "application/json"}, timeout=5)
    assert (first.status, first.ok, first.body, first.headers["x-trace"]) == (200, True, b'{"ok": true}', "a1")
    second = net.request("GET", srv.url("/in"), timeout=5)
    assert (second.status, second.ok, second.body) == (503, False, b"down")
    assert second.headers.get("RETRY-AFTER") == "7" and "retry-after" in second.headers
    assert [(r.method, r.body) for r in srv.requests] == [("POST", b"{}"), ("GET", b"")]
    assert srv.requests[0].header("Content-Type") == "application/json"


def test_max_body_caps_what_is_read(srv):
    srv.default = Reply(200, b"x" * 10_000)
    assert net.request("GET", srv.url(), timeout=5, max_body=100).body == b"x" * 100
    srv.default = Reply(500, b"y" * 10_000)
    assert net.request("GET", srv.url(), timeout=5, max_body=10).body == b"y" * 10


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_answer_never_followed(srv, status):
    srv.default = Reply(status, "moved", {"Location": srv.url("/elsewhere")})
    answer = net.request("POST", srv.url("/hook"), body=b"secret body", headers={"Authorization": "t"}, timeout=5)
    assert answer.redirect and not answer.ok and answer.status == status
    assert answer.headers["Location"].endswith("/elsewhere")
    assert [r.path for r in srv.requests] == ["/hook"]  # nothing went to /elsewhere


# -- no answer -------------------------------------------------------------------------------------------------
def test_no_answer_within_the_timeout(srv):
    srv.default = Reply(200, "late", delay=1.0)
    with pytest.raises(net.NetError) as caught:
        net.request("GET", srv.url(), timeout=0.2)
    assert caught.value.kind == net.TIMEOUT and str(caught.value) == "timed out after 0.2s"
    assert caught.value.timeout == 0.2 and str(caught.value.reason) == "timed out"


def test_nothing_listening_is_a_connection_failure():
    port = free_port()
    with pytest.raises(net.NetError) as caught:
        net.request("GET", f"http://127.0.0.1:{port}/", timeout=5)
    err = caught.value
    assert err.kind == net.CONNECT and str(err) == "connection failed (Connection refused)"
    assert err.reason_text == "Connection refused" and isinstance(err.reason, ConnectionRefusedError)


def test_a_connection_closed_without_an_answer_is_broken():
    with raw_server(None) as port, pytest.raises(net.NetError) as caught:
        net.request("GET", f"http://127.0.0.1:{port}/", timeout=5)
    assert caught.value.kind == net.BROKEN
    assert str(caught.value) == "connection failed (Remote end closed connection without response)"


def test_an_answer_that_is_not_http_is_a_protocol_error():
    with raw_server(b"SMTP ready, not HTTP\r\n\r\n") as port, pytest.raises(net.NetError) as caught:
        net.request("GET", f"http://127.0.0.1:{port}/", timeout=5)
    assert caught.value.kind == net.PROTOCOL
    assert str(caught.value).startswith("HTTP error (BadStatusLine: ")


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("not a url", "invalid URL (unknown url type: 'not a url')"),
        ("ftp://127.0.0.1/file", "unsupported URL scheme 'ftp' (use http or https)"),
        ("file:///etc/passwd", "unsupported URL scheme 'file' (use http or https)"),
    ],
)
def test_a_url_that_cannot_be_used_is_refused_before_any_connection(url, text):
    with pytest.raises(net.NetError) as caught:
        net.request("GET", url, timeout=5)
    assert caught.value.kind == net.URL and str(caught.value) == text


# -- proxies and the loopback ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST", "localhost.localdomain", "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]"]
    + ["::ffff:127.0.0.1"],
)
def test_loopback_names_and_addresses(host):
    assert net.is_loopback(host)


@pytest.mark.parametrize(
    "host", [None, "", "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2", "example.com", "localhost.example.com"]
)
def test_not_loopback(host):
    assert not net.is_loopback(host)


def test_a_loopback_host_is_reached_directly_even_with_a_proxy_set(no_proxy_env):
    with RecordingHTTPServer() as proxy, RecordingHTTPServer(host="127.0.0.2") as target:
        no_proxy_env.setenv("http_proxy", proxy.url())
        assert net.request("GET", target.url("/direct"), timeout=5).status == 200
        assert [r.path for r in target.requests] == ["/direct"]
        assert proxy.requests == []


def test_another_host_goes_through_the_proxy_from_the_environment(no_proxy_env):
    with RecordingHTTPServer(Reply(200, "via proxy")) as proxy:
        no_proxy_env.setenv("http_proxy", proxy.url())
        answer = net.request("GET", "http://hooks.example.invalid/x", timeout=5)
        assert answer.body == b"via proxy"
        assert [r.path for r in proxy.requests] == ["http://hooks.example.invalid/x"]


# -- Retry-After -----------------------------------------------------------------------------------------------
NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"Retry-After": format_datetime(NOW + timedelta(seconds=90), usegmt=True)}, 90.0),
        ({"Retry-After": format_datetime(NOW - timedelta(seconds=90), usegmt=True)}, 0.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "7"}, 0.25),
        ({"retry-after-ms": "soon", "Retry-After": "7"}, 7.0),
        ({"Retry-After": "tomorrow-ish"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after(headers, seconds):
    assert net.retry_after(headers, now=NOW) == seconds


def test_retry_after_from_an_answer_and_capped(srv):
    srv.default = Reply(429, "slow down", {"Retry-After": "3600"})
    answer = net.request("GET", srv.url(), timeout=5)
    assert net.retry_after(answer.headers) == 3600.0
    assert net.retry_after(answer.headers, cap=300) == 300.0


# -- import cost -----------------------------------------------------------------------------------------------
def test_importing_net_and_retry_imports_no_http_machinery():
    code = (
        "import sys, symbi_cron.net, symbi_cron.retry; "
        "print(sorted(m for m in ('urllib.request', 'http.client', 'ssl', 'email.utils') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
