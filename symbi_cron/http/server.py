"""The HTTP API server the daemon runs (SPEC §13): stdlib ``http.server``, one thread per connection.

Why no framework: see docs/decisions.md, "HTTP server". The plumbing here only reads a bounded request, checks the
key and turns errors into JSON; :mod:`symbi_cron.http.routes` maps requests onto the services.

Robustness rules, each enforced here: a body over ``api.max_body_bytes`` is refused (413) before it is read; JSON
nested deeper than :data:`MAX_JSON_DEPTH` is refused (400); a silent or slow client is cut off after
:data:`SOCKET_TIMEOUT` seconds per read; at most :data:`MAX_CONNECTIONS` connections are served at once and the
rest get an immediate 503, so no client can hang the daemon. A user's mistake is never a 500.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import logging
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..apikey import api_key
from ..errors import InvalidInput, SymbiError
from ..net import is_loopback
from .wire import HttpError, Request, Response, dumps, error_response

log = logging.getLogger("symbi_cron.http")

SOCKET_TIMEOUT = 15.0
#: A whole request (request line, headers and body, and the idle wait before it on a kept-alive connection) must
#: arrive within this many seconds: a client trickling a byte per read timeout cannot hold a connection forever.
REQUEST_DEADLINE = 30.0
MAX_CONNECTIONS = 128
#: Requests handled at once (the others wait their turn, taking no CPU): few runnable threads leave the tick loop
#: its share of the interpreter.
MAX_ACTIVE_REQUESTS = 4
#: Liveness and health answer outside that limit: monitoring must see a daemon whose store is busy.
UNCOUNTED_PATHS = frozenset({"/health", "/api/v1/health/scheduler"})
SERVER_NAME = "symbi-cron"


# -- JSON ------------------------------------------------------------------------------------------------------


# -- requests --------------------------------------------------------------------------------------------------


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, each one bounded by what is left of the handler's request deadline."""

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler
        self._sock = handler.connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._handler._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(min(self._handler.timeout, left))
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    server_version = SERVER_NAME
    sys_version = ""
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a garbage request line still gets a status line back
    timeout = SOCKET_TIMEOUT
    # Headers and body leave in one write (the stdlib flushes after each request) and without Nagle's delay:
    # otherwise two small writes meet the client's delayed ACK and every answer takes 40 ms.
    wbufsize = 1 << 16
    server: ApiServer
    _deadline = 0.0

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._deadline = time.monotonic() + REQUEST_DEADLINE
        self.rfile = io.BufferedReader(_DeadlineReader(self))

    def handle_one_request(self) -> None:
        self._deadline = time.monotonic() + REQUEST_DEADLINE
        super().handle_one_request()

    # Every method goes through one dispatcher; routes decide what is allowed (405 with Allow otherwise).
    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, BREW...) reaches the router too: 405 with Allow on a known path,
        # where the stdlib would answer 501 (a server error) for a client's choice.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def version_string(self) -> str:
        return SERVER_NAME

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = getattr(self, "path", "") or ""
        log.debug("%s %s %s", getattr(self, "command", None), path.split("?", 1)[0], code)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (bad request line, headers too long, unknown method) as JSON too."""
        codes = {
            400: "bad_request",
            408: "timeout",
            414: "uri_too_long",
            431: "headers_too_large",
            501: "method_not_implemented",
            505: "http_version_not_supported",
        }
        self.close_connection = True
        try:
            self.connection.settimeout(self.timeout)
            self._send(
                Response(
                    code,
                    {
                        "error": message or self.responses.get(code, ("error",))[0],
                        "code": codes.get(code, "bad_request"),
                        "details": None,
                    },
                    headers={"Connection": "close"},
                )
            )
        except OSError:
            pass

    def _check_framing(self) -> None:
        """Refuse what a proxy in front could frame differently (request smuggling): a malformed or folded
        header line, any Transfer-Encoding, several Content-Length values that differ."""
        if self.headers.defects or any("\n" in v or "\r" in v for v in self.headers.values()):
            raise HttpError(400, "bad_request", "malformed or folded header line", close=True)
        if any(k.strip().lower() == "transfer-encoding" for k in self.headers.keys()):
            raise HttpError(
                411,
                "length_required",
                "send the body with a Content-Length (Transfer-Encoding is not supported)",
                close=True,
            )
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or ()}
        if len(lengths) > 1:
            raise HttpError(400, "bad_request", "several different Content-Length headers", close=True)

    def _read_body(self) -> bytes:
        self._check_framing()
        raw = self.headers.get("Content-Length")
        if raw is None or raw.strip() == "":
            return b""
        # Digits only: int() would also take "+5", "1_0" and " 5 " that other parsers read differently.
        if not raw.strip().isascii() or not raw.strip().isdigit():
            raise HttpError(400, "bad_request", f"Content-Length {raw!r} is not a number", close=True)
        length = int(raw)
        limit = self.server.api.max_body_bytes
        if length > limit:
            self._linger = True
            raise HttpError(
                413,
                "payload_too_large",
                f"the body is {length} bytes; the limit is {limit} (api.max_body_bytes)",
                details={"limit": limit, "length": length},
                close=True,
            )
        if length == 0:
            return b""
        body = self.rfile.read(length)
        if len(body) < length:
            raise HttpError(400, "bad_request", "the body ended before Content-Length bytes", close=True)
        return body

    _linger = False

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue``: refuse an oversized body before the client sends it."""
        raw = self.headers.get("Content-Length") or ""
        limit = self.server.api.max_body_bytes
        if raw.strip().isdigit() and int(raw) > limit:
            self.close_connection = True
            self._send(
                error_response(
                    HttpError(
                        413,
                        "payload_too_large",
                        f"the body is {raw} bytes; the limit is {limit} (api.max_body_bytes)",
                        details={"limit": limit, "length": int(raw)},
                        headers={"Connection": "close"},
                    )
                )
            )
            return False
        return super().handle_expect_100()

    def finish(self) -> None:
        super().finish()
        if self._linger:
            self._drain()

    def _drain(self, budget_s: float = 1.0, max_bytes: int = 16 << 20) -> None:
        """Read and drop what the client still sends for a moment, so closing does not reset the connection
        before it has read our 413 (a "lingering close"). Bounded in time and bytes."""
        import time

        try:
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + budget_s
            seen = 0
            while seen < max_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.connection.settimeout(left)
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                seen += len(chunk)
        except OSError:
            pass

    def _handle(self) -> None:
        api = self.server.api
        response: Response
        try:
            split = urlsplit(self.path)
            path = split.path.rstrip("/") or "/"
            body = self._read_body()
            try:
                pairs = parse_qsl(split.query, keep_blank_values=True, strict_parsing=False, max_num_fields=100)
            except ValueError:
                raise InvalidInput("too many query parameters", field="query") from None
            query: dict[str, str] = {}
            for k, v in pairs:
                query.setdefault(k, v)
            self.connection.settimeout(self.timeout)  # the request is in; the answer gets the full timeout
            request = Request(self.command, path, {}, query, self.headers, body)
            counted = self.server.admit(path)
            try:
                response = api.dispatch(request)
            finally:
                if counted:
                    self.server.release()
        except HttpError as exc:
            if exc.close:
                self.close_connection = True
                exc.headers.setdefault("Connection", "close")
            response = error_response(exc)
        except SymbiError as exc:
            response = error_response(exc)
        except TimeoutError:
            self.close_connection = True
            return
        except Exception:  # a bug, never the user's fault: log it, answer 500 without details
            log.exception("internal error serving %s %s", self.command, self.path.split("?", 1)[0])
            response = Response(
                500, {"error": "internal error (see the daemon log)", "code": "internal", "details": None}
            )
        try:
            self._send(response)
        except OSError:
            self.close_connection = True

    def _send(self, response: Response) -> None:
        payload = response.payload()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in response.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)


class ApiServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on concurrent connections and a per-thread store connection cleanup."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Any, family: int = socket.AF_INET) -> None:
        self.address_family = family
        self.api = api
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._active = threading.BoundedSemaphore(MAX_ACTIVE_REQUESTS)
        self._priority = getattr(getattr(api, "supervisor", None), "priority", None)
        super().__init__(address, _Handler)

    def admit(self, path: str) -> bool:
        """Wait for the scheduler's critical section to end (symbi_cron/priority.py), then for one of the
        :data:`MAX_ACTIVE_REQUESTS` places: the schedule never queues behind a crowd of request threads. The
        health checks take no place (they must answer while writes wait for a busy store); a request that finds
        no place within :data:`SOCKET_TIMEOUT` gets a 503. Returns whether a place was taken."""
        if self._priority is not None:
            self._priority.wait()
        if path in UNCOUNTED_PATHS:
            return False
        if not self._active.acquire(timeout=SOCKET_TIMEOUT):
            raise HttpError(
                503,
                "busy",
                "the API is busy; try again",
                headers={"Retry-After": "1", "Connection": "close"},
                close=True,
            )
        return True

    def release(self) -> None:
        self._active.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("error serving a connection from %s", client_address[0] if client_address else "?")

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup that can stall start-up; not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name = SERVER_NAME
        self.server_port = self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            body = dumps({"error": "too many connections; try again", "code": "busy", "details": None})
            try:
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()
            try:
                self.api.app.store.close()  # this thread's SQLite connection dies with the thread
            except Exception:
                pass


# -- start and stop --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class ApiHandle:
    """A running (or disabled) API server; ``close()`` stops it."""

    server: ApiServer | None
    thread: threading.Thread | None
    bind: str
    port: int
    key: str | None = None

    @property
    def enabled(self) -> bool:
        return self.server is not None

    @property
    def url(self) -> str | None:
        if not self.server:
            return None
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop accepting, close the socket; idempotent."""
        server, self.server = self.server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)


def start_api(app: Any, supervisor: Any = None, *, bind: str | None = None, port: int | None = None) -> ApiHandle:
    """Serve the API for ``app`` in a background thread; returns a handle (``handle.close()`` stops it).

    ``bind``/``port`` override ``[api]`` (port 0 picks a free port, for tests). When ``api.enabled`` is false the
    handle is inert. Binding errors raise a SymbiError saying which address and why.
    """
    settings = app.settings
    bind = settings.api.bind if bind is None else bind
    port = settings.api.port if port is None else port
    if not settings.api.enabled:
        return ApiHandle(None, None, bind, port)
    from .routes import Api

    key = api_key(app)
    api = Api(app, supervisor, key)
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    try:
        server = ApiServer((bind, port), api, family)
    except OSError as exc:
        raise _bind_error(exc, bind, port) from None
    api.bind, api.port = bind, server.server_port
    if not is_loopback(bind):
        log.warning(
            "the API listens on %s:%s, beyond this machine: put TLS termination in front of it (api.bind)",
            bind,
            server.server_port,
        )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="symbi-api", daemon=True)
    thread.start()
    return ApiHandle(server, thread, bind, server.server_port, key)


def _bind_error(exc: OSError, bind: str, port: int) -> SymbiError:
    if exc.errno == errno.EADDRINUSE:
        return SymbiError(f"port {port} on {bind} is in use (set api.port, or stop what holds it)")
    if exc.errno == errno.EACCES:
        return SymbiError(f"not allowed to listen on {bind}:{port} (ports below 1024 need privileges)")
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
        return SymbiError(f"cannot listen on {bind}:{port}: {bind} is not an address of this machine (api.bind)")
    return SymbiError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}")
