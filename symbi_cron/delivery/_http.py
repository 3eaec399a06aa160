"""HTTP POST with retries, shared by the webhook and Slack channels, over :mod:`symbi_cron.net` and
:mod:`symbi_cron.retry` (urllib only: no runtime dependency).

``post`` never raises for a network or HTTP error: it returns an :class:`HttpResult` the caller judges.
Redirects are not followed (net's rule): a webhook that answers 3xx is misconfigured, and following it would re-send
the body (and its auth header) somewhere the user never named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .. import __version__, net, retry
from .base import DeliveryContext

USER_AGENT = f"symbi-cron/{__version__}"
#: The longest wait a Retry-After answer can impose on one delivery (a server asking for an hour is capped).
MAX_RETRY_AFTER_SECONDS = 300.0
#: How much of an error answer's body a receipt quotes.
BODY_SNIPPET = 200
#: How much of an answer is read.
MAX_ANSWER_BYTES = 1_048_576


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


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResult:
    """POST ``body`` to ``url``; the status and answer, or the network error, never an exception."""
    try:
        answer = net.request(
            "POST",
            url,
            body=body,
            headers={"User-Agent": USER_AGENT, **headers},
            timeout=timeout,
            max_body=MAX_ANSWER_BYTES,
        )
    except net.NetError as exc:
        return HttpResult(None, error=str(exc))
    return HttpResult(answer.status, answer.headers, answer.body)


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """The wait a ``retry-after-ms`` / ``Retry-After`` header asks for (seconds or an HTTP date), capped; None if
    absent or bad."""
    return net.retry_after(headers, now=now, cap=MAX_RETRY_AFTER_SECONDS)


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

    def attempt(t: retry.Try):
        result = post(url, body, headers, d.webhook_timeout_seconds)
        verdict, detail = judge(result)
        if verdict == "retry":
            wait = retry_after_seconds(result.headers, ctx.now()) if result.status in (429, 503) else None
            return retry.Again(detail, after=wait)
        return ctx.receipt(channel, verdict == "ok", detail, t.number)

    def warn(again: retry.Again, attempts: int, wait: float) -> None:
        ctx.warning(f"{channel}: attempt {attempts} failed: {again.detail}; retrying in {wait:g}s")

    try:
        return retry.run(
            attempt,
            retries=d.webhook_retry_attempts,
            backoff=retry.Backoff(d.webhook_retry_backoff_seconds),
            sleep=ctx.sleep,
            on_retry=warn,
        )
    except retry.GaveUp as stop:  # only ever exhausted: no deadline, no cancel, no max_wait here
        assert stop.last is not None
        detail = stop.last.detail
        if stop.attempts > 1:
            detail = f"{detail} (gave up after {stop.attempts} attempts)"
        return ctx.receipt(channel, False, detail, stop.attempts)
