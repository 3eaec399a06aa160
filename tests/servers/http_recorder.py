"""A real HTTP server on 127.0.0.1 (or another loopback address; ephemeral port) that records every request and
answers as told.

    with RecordingHTTPServer() as srv:
        srv.script(Reply(500), Reply(200))        # the next answers, in order; then the default
        ... POST to srv.url("/hook") ...
        srv.wait_for(2)                           # polls with a deadline
        srv.requests[0].json()

A handler function can replace the script for servers that must think (see ``slack_server``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. ``delay`` seconds pass before it is sent (to provoke client timeouts)."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: A body sent piece by piece as the iterable yields them (server-sent events): each piece is written and
    #: flushed at once, the connection closes at the end (no Content-Length).
    pieces: Any = None

    def body_bytes(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Handler = Callable[[Recorded], Reply | None]


class RecordingHTTPServer:
    """ThreadingHTTPServer in a background thread; thread-safe records and script.

    A subclass that answers in its own way (``tests/modelrun/fake_model_server.py``) sets ``record_type`` (a
    subclass of :class:`Recorded`) and overrides :meth:`_answer`, recording with :meth:`_record`."""

    record_type: type[Recorded] = Recorded

    def __init__(self, default: Reply | None = None, handler: Handler | None = None, host: str = "127.0.0.1") -> None:
        self.default = default or Reply(200, b"ok")
        self.host = host
        self.handler = handler
        self.requests: list[Recorded] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control --------------------------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def url(self, path: str = "/") -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Recorded]:
        """Block until ``n`` requests arrived (or fail after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} requests, got {len(self.requests)} in {timeout}s")
                self._cond.wait(left)
            return list(self.requests)

    def _record(self, rec: Recorded) -> None:
        with self._cond:
            self.requests.append(rec)
            self._cond.notify_all()

    def _answer(self, rec: Recorded) -> Reply:
        with self._cond:
            self.requests.append(rec)
            self._cond.notify_all()
            scripted = self._script.pop(0) if self._script else None
        if scripted is not None:
            return scripted
        if self.handler is not None:
            reply = self.handler(rec)
            if reply is not None:
                return reply
        return self.default

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> RecordingHTTPServer:
        owner = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = owner.record_type(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
                reply = owner._answer(rec)
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body_bytes()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    if not any(k.lower() == "content-type" for k in reply.headers):
                        self.send_header("Content-Type", "text/plain; charset=utf-8")
                    if reply.pieces is not None:
                        self.send_header("Connection", "close")
                        self.end_headers()
                        self.wfile.flush()
                        for piece in reply.pieces:
                            self.wfile.write(piece)
                            self.wfile.flush()
                        self.close_connection = True
                        return
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                self.close_connection = True

            do_POST = do_GET = do_PUT = _handle

        self._httpd = ThreadingHTTPServer((self.host, 0), _H)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="recording-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> RecordingHTTPServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
