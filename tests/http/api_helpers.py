"""A tiny HTTP client for the API tests (http.client, so tests control every header and byte)."""

from __future__ import annotations

import http.client as httpclient
import json
from dataclasses import dataclass
from typing import Any

from symbi_cron.http.server import ApiHandle


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8")


class Http:
    """A minimal client over http.client, so tests control every header and byte."""

    def __init__(self, handle: ApiHandle) -> None:
        self.handle = handle
        self.key = handle.key

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/json",
    ) -> Reply:
        conn = httpclient.HTTPConnection("127.0.0.1", self.handle.port, timeout=10)
        try:
            h = dict(headers or {})
            if auth:
                h.setdefault("Authorization", f"Bearer {self.key}")
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            if data is not None and content_type:
                h.setdefault("Content-Type", content_type)
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()
