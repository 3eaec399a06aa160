"""The schedule comes first (symbi_cron/priority.py): a request that arrives while the supervisor claims slots
and starts runs waits for that to end (at most priority.MAX_WAIT), then is answered as usual."""

from __future__ import annotations

import threading
import time

from api_helpers import Http

from symbi_cron import priority
from symbi_cron.http.server import start_api


class WatchedDoor(priority.SchedulerFirst):
    """The real door, telling the test when a request reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout=None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


class Supervisor:
    def __init__(self) -> None:
        self.priority = WatchedDoor()

    def snapshot(self) -> dict:
        return {}


def _get_in_thread(http, path: str) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def go() -> None:
        out["reply"] = http("GET", path, auth=False)
        out["at"] = time.monotonic()

    t = threading.Thread(target=go)
    t.start()
    return t, out


def test_a_request_waits_while_the_scheduler_works(app):
    sup = Supervisor()
    handle = start_api(app, sup, port=0)
    try:
        http = Http(handle)
        with sup.priority.busy():
            t, out = _get_in_thread(http, "/health")
            assert sup.priority.waiting.wait(10), "the request never reached the door"
            opened = time.monotonic()
        t.join(10)
        assert out["reply"].status == 200 and out["at"] >= opened
    finally:
        handle.close()


def test_a_request_is_answered_anyway_after_the_longest_wait(app, monkeypatch):
    monkeypatch.setattr(priority, "MAX_WAIT", 0.05)
    sup = Supervisor()
    handle = start_api(app, sup, port=0)
    try:
        with sup.priority.busy():  # a claim of thousands of jobs: the API goes on after MAX_WAIT
            reply = Http(handle)("GET", "/health", auth=False)
            assert reply.status == 200
    finally:
        handle.close()


def test_health_answers_while_every_place_is_taken(app, monkeypatch):
    from symbi_cron.http import server

    monkeypatch.setattr(server, "MAX_ACTIVE_REQUESTS", 1)
    monkeypatch.setattr(server, "SOCKET_TIMEOUT", 0.3)
    handle = start_api(app, Supervisor(), port=0)
    try:
        http = Http(handle)
        handle.server._active.acquire()  # every place taken (a write waiting for a busy store, say)
        try:
            assert http("GET", "/api/v1/health/scheduler", auth=False).status == 200
            busy = http("GET", "/api/v1/schedule")
            assert busy.status == 503 and busy.body["code"] == "busy" and busy.headers["retry-after"] == "1"
        finally:
            handle.server._active.release()
        assert http("GET", "/api/v1/schedule").status == 200
    finally:
        handle.close()
