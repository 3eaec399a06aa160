"""HTTP POST with retries, shared by the webhook and Slack channels (urllib only: no runtime dependency).

``post`` never raises for a network or HTTP error: it returns an :class:`HttpResult` the caller judges.
Redirects are not followed: a webhook that answers 3xx is misconfigured, and following it would re-send the
body (and its auth header) somewhere the user never named.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from .. import __version__
from .base import DeliveryContext

USER_AGENT = f"symbi-cron/{__version__}"
#: The longest wait a Retry-After answer can impose on one delivery (a server asking for an hour is capped).
MAX_RETRY_AFTER_SECONDS = 300.0
#: How much of an error answer's body a receipt quotes.
BODY_SNIPPET = 200


@dataclass
class HttpResult:
    """One attempt: the HTTP status and answer, or ``error`` when no answer came."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    def text(self, limit: int = BODY_SNIPPET) -> str:
        s = self.body[: limit * 4].decode("utf-8", "replace").strip()
        s = " ".join(s.split())
        return s if len(s) <= limit else s[: limit - 1] + "…"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResult:
    """POST ``body`` to ``url``; the status and answer, or the network error, never an exception."""
    hdrs = {"User-Agent": USER_AGENT, **headers}
    try:
        req = urllib.request.Request(url, data=body, headers=hdrs, method="POST")
    except ValueError as exc:
        return HttpResult(None, error=f"invalid URL ({exc})")
    if req.type not in ("http", "https"):
        return HttpResult(None, error=f"unsupported URL scheme {req.type!r} (use http or https)")
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return HttpResult(resp.status, dict(resp.headers.items()), resp.read(1_048_576))
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read(1_048_576)
        except Exception:
            data = b""
        hdrs_out = dict(exc.headers.items()) if exc.headers else {}
        return HttpResult(exc.code, hdrs_out, data)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return HttpResult(None, error=f"timed out after {timeout:g}s")
        return HttpResult(None, error=f"connection failed ({_reason(reason)})")
    except TimeoutError:
        return HttpResult(None, error=f"timed out after {timeout:g}s")
    except (ConnectionError, OSError) as exc:
        return HttpResult(None, error=f"connection failed ({_reason(exc)})")
    except Exception as exc:  # http.client oddities (bad status line, incomplete read)
        return HttpResult(None, error=f"HTTP error ({type(exc).__name__}: {exc})")


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), capped; None if absent or bad."""
    raw = None
    for k, v in headers.items():
        if k.lower() == "retry-after":
            raw = v.strip()
            break
    if not raw:
        return None
    try:
        secs = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        secs = (when - now).total_seconds()
    if secs != secs:  # NaN
        return None
    return min(max(secs, 0.0), MAX_RETRY_AFTER_SECONDS)


#: What a judge says of one attempt: ("ok" | "retry" | "fail", detail).
Verdict = tuple[str, str]


def post_with_retries(
    ctx: DeliveryContext,
    channel: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    judge: Callable[[HttpResult], Verdict],
):
    """POST ``body`` to ``url`` until ``judge`` says ok or fail, or ``webhook_retry_attempts`` retries are spent.

    Each attempt times out after ``webhook_timeout_seconds``. Between tries it waits
    ``webhook_retry_backoff_seconds``, doubling each time, or what a 429/503 ``Retry-After`` asks for.
    Returns the channel's receipt (detail redacted).
    """
    d = ctx.delivery
    attempts = 0
    while True:
        attempts += 1
        result = post(url, body, headers, d.webhook_timeout_seconds)
        verdict, detail = judge(result)
        if verdict == "ok":
            return ctx.receipt(channel, True, detail, attempts)
        if verdict != "retry" or attempts > d.webhook_retry_attempts:
            if verdict == "retry" and attempts > 1:
                detail = f"{detail} (gave up after {attempts} attempts)"
            return ctx.receipt(channel, False, detail, attempts)
        wait = None
        if result.status in (429, 503):
            wait = retry_after_seconds(result.headers, ctx.now())
        if wait is None:
            wait = d.webhook_retry_backoff_seconds * (2 ** (attempts - 1))
        ctx.warning(f"{channel}: attempt {attempts} failed: {detail}; retrying in {wait:g}s")
        if wait > 0:
            ctx.sleep(wait)
