"""What the API speaks, apart from sockets: requests, responses, JSON (bounded depth), errors as JSON, the
bearer-key check. The transport (``http/server.py``) reads requests into these; the routes (``http/routes.py``)
answer with them."""

from __future__ import annotations

import dataclasses
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from ..errors import InvalidInput, SymbiError

MAX_JSON_DEPTH = 32


class HttpError(SymbiError):
    """An HTTP-level refusal (auth, method, media type, size) with its own status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message, details=details)
        self.http_status = status
        self.code = code
        self.headers = headers or {}
        self.close = close


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"cannot encode {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, default=_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _depth(obj: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (a deep value must not blow the stack here either)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in node)
    return deepest


def parse_json(raw: bytes) -> Any:
    """A request body as JSON; InvalidInput with line and column for malformed text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the body is not UTF-8 (byte {exc.start})", field="body") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            field="body",
            details={"field": "body", "line": exc.lineno, "column": exc.colno},
        ) from None
    except RecursionError:
        raise InvalidInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", field="body") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", field="body")
    return value


@dataclasses.dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]  # path parameters
    query: dict[str, str]
    headers: Any
    body: bytes
    #: Who the request's key is bound to (``api.identity`` or a name of ``[api.keys]``); None on open endpoints.
    identity: str | None = None

    def json(self, *, required: bool = True) -> Any:
        """The body parsed as JSON (None when empty and not ``required``)."""
        if not self.body.strip():
            if required:
                raise InvalidInput("a JSON object is required in the body", field="body")
            return None
        return parse_json(self.body)


@dataclasses.dataclass
class Response:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return dumps(self.body)


def error_response(exc: SymbiError) -> Response:
    """The JSON error body of SPEC §13; a field named by the error is always in ``details.field``."""
    headers = dict(getattr(exc, "headers", {}) or {})
    body = exc.to_dict()
    if exc.field and isinstance(body.get("details"), dict) and "field" not in body["details"]:
        body["details"] = {"field": exc.field, **body["details"]}
    return Response(exc.http_status, body, headers=headers)


def check_auth(headers: Any, key: str | dict[str, str]) -> str | None:
    """Raise 401 unless ``Authorization: Bearer KEY`` matches one of the keys (constant-time, every key compared);
    return the identity the key is bound to (with ``key`` a mapping of key -> identity; None for a single key)."""
    keys = {key: None} if isinstance(key, str) else key
    value = headers.get("Authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    if not value:
        raise HttpError(
            401,
            "unauthorized",
            "missing Authorization: Bearer KEY (see `symbi api-key`)",
            headers={"WWW-Authenticate": 'Bearer realm="symbi"'},
        )
    given = token.strip().encode("utf-8", "replace")
    found: str | None = None
    matched = False
    for candidate, identity in keys.items():
        if hmac.compare_digest(given, candidate.encode("utf-8")):
            matched, found = True, identity
    if scheme.lower() != "bearer" or not matched:
        raise HttpError(
            401,
            "unauthorized",
            "invalid API key",
            headers={"WWW-Authenticate": 'Bearer realm="symbi", error="invalid_token"'},
        )
    return found


def path_param(raw: str) -> str:
    return unquote(raw)


def int_param(
    query: dict[str, str], name: str, default: int | None, lo: int, hi: int, *, blank_is_default: bool = False
) -> int | None:
    """A whole-number query parameter in [lo, hi], ``default`` when absent. An empty value (``?limit=``) is an
    error for the API (a client that sends one meant something) and the default for the dashboard's forms
    (``blank_is_default``: an emptied input field)."""
    raw = query.get(name)
    if raw is None or (blank_is_default and raw == ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"expected a whole number, got {raw!r}", field=name) from None
    if not lo <= value <= hi:
        raise InvalidInput(f"must be between {lo} and {hi}", field=name)
    return value
