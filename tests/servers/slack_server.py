"""A Slack-shaped API on 127.0.0.1 answering as Slack does (a stand-in for slack.com, out of reach of tests).

- ``POST /api/chat.postMessage``: needs ``Authorization: Bearer <token>`` (else ``{"ok": false, "error":
  "not_authed"}`` / ``"invalid_auth"``), a known ``channel`` (else ``channel_not_found``) and ``text`` or
  ``blocks`` (else ``no_text``); success is ``{"ok": true, "channel": ..., "ts": ...}``. Always HTTP 200, as
  Slack.
- ``POST /services/<T>/<B>/<secret>``: an incoming webhook. Known path -> 200 ``ok``; unknown -> 404
  ``no_service``; bad JSON or no text -> 400 ``invalid_payload``.
- ``rate_limit(n, retry_after)``: the next ``n`` requests get HTTP 429 with ``Retry-After``, as Slack's
  limiter does.

Answers follow api.slack.com/methods/chat.postMessage and api.slack.com/messaging/webhooks (error tables).
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from .http_recorder import Recorded, RecordingHTTPServer, Reply


class SlackServer(RecordingHTTPServer):
    def __init__(self, token: str = "xoxb-test-token", channels: tuple[str, ...] = ("#ops", "C0123456")) -> None:
        super().__init__(handler=self._slack)
        self.token = token
        self.channels = set(channels)
        self.hook_path = f"/services/T0TEST/B0TEST/{secrets.token_hex(12)}"
        self.messages: list[dict[str, Any]] = []
        self._limited = 0
        self._retry_after = "1"
        self._mlock = threading.Lock()

    @property
    def api_base(self) -> str:
        return self.url("/api")

    @property
    def hook_url(self) -> str:
        return self.url(self.hook_path)

    def rate_limit(self, n: int, retry_after: int | str = 1) -> None:
        with self._mlock:
            self._limited = n
            self._retry_after = str(retry_after)

    def _slack(self, rec: Recorded) -> Reply:
        with self._mlock:
            if self._limited > 0:
                self._limited -= 1
                return Reply(429, "rate_limited", {"Retry-After": self._retry_after})
        if rec.path == "/api/chat.postMessage":
            return self._post_message(rec)
        if rec.path.startswith("/services/"):
            return self._incoming_webhook(rec)
        return Reply(404, {"ok": False, "error": "unknown_method"}, {"Content-Type": "application/json"})

    def _post_message(self, rec: Recorded) -> Reply:
        def answer(body: dict[str, Any]) -> Reply:
            return Reply(200, body, {"Content-Type": "application/json; charset=utf-8"})

        auth = rec.header("Authorization") or ""
        if not auth.startswith("Bearer "):
            return answer({"ok": False, "error": "not_authed"})
        if auth[len("Bearer ") :] != self.token:
            return answer({"ok": False, "error": "invalid_auth"})
        try:
            msg = rec.json()
        except ValueError:
            return answer({"ok": False, "error": "invalid_json"})
        if msg.get("channel") not in self.channels:
            return answer({"ok": False, "error": "channel_not_found"})
        if not msg.get("text") and not msg.get("blocks"):
            return answer({"ok": False, "error": "no_text"})
        with self._mlock:
            self.messages.append(msg)
        return answer(
            {
                "ok": True,
                "channel": msg["channel"],
                "ts": "1700000000.000100",
                "message": {"text": msg.get("text")},
            }
        )

    def _incoming_webhook(self, rec: Recorded) -> Reply:
        if rec.path != self.hook_path:
            return Reply(404, "no_service")
        try:
            msg = rec.json()
        except ValueError:
            return Reply(400, "invalid_payload")
        if not isinstance(msg, dict) or not (msg.get("text") or msg.get("blocks")):
            return Reply(400, "invalid_payload")
        with self._mlock:
            self.messages.append(msg)
        return Reply(200, "ok")

    def last_message(self) -> dict[str, Any]:
        with self._mlock:
            assert self.messages, "no message received"
            return self.messages[-1]


def dumps(obj: Any) -> str:  # for debugging a failing test
    return json.dumps(obj, indent=2, ensure_ascii=False)
