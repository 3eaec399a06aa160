"""The ``webhook`` channel: an HTTP POST of the documented JSON body to the job's ``webhook_url``.

Headers come from the job's ``webhook_headers`` with ``${ENV}`` expanded at send time; when the job sets no
``Authorization`` header, ``SYMBI_WEBHOOK_AUTH_HEADER`` (``scheduler.delivery.webhook_auth_header``) is used.
Retries: 5xx, 408, 429 and network errors are retried ``webhook_retry_attempts`` times with doubling backoff
(Retry-After honoured on 429/503); any other non-2xx fails at once.
"""

from __future__ import annotations

from ..envref import unset_refs
from ..net import NOT_FOLLOWED
from ..vocab import ChannelName
from ._http import HttpResult, Verdict, post_with_retries
from .base import DeliveryContext, DeliveryPayload, Receipt
from .redact import describe_url

#: 4xx answers worth retrying: the server timed out waiting, or asks us to slow down.
RETRYABLE_4XX = frozenset({408, 429})


def judge_http(result: HttpResult, where: str) -> Verdict:
    """ok on 2xx; retry on no answer, 5xx, 408, 429; fail otherwise. The detail names the status."""
    if result.status is None:
        return "retry", f"POST {where}: {result.error}"
    if 200 <= result.status < 300:
        return "ok", f"POST {where}: HTTP {result.status}"
    snippet = result.text()
    detail = f"POST {where}: HTTP {result.status}" + (f": {snippet}" if snippet else "")
    if 300 <= result.status < 400:
        return "fail", f"{detail} ({NOT_FOLLOWED}; fix webhook_url)"
    if result.status >= 500 or result.status in RETRYABLE_4XX:
        return "retry", detail
    return "fail", detail


class WebhookChannel:
    name = ChannelName.webhook

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        d = ctx.delivery
        job_headers = {str(k): str(v) for k, v in (payload.job.get("webhook_headers") or {}).items()}
        auth_setting = None
        if not any(k.lower() == "authorization" for k in job_headers):
            auth_setting = ctx.env.get("SYMBI_WEBHOOK_AUTH_HEADER") or d.webhook_auth_header
        # An unset ${VAR} would send an empty secret ("Authorization: Bearer ") and record success: refuse to send.
        for what, raw in (
            ("webhook_url", payload.job.get("webhook_url")),
            *((f"webhook header {k}", v) for k, v in job_headers.items()),
            ("scheduler.delivery.webhook_auth_header", auth_setting),
        ):
            missing = unset_refs(raw, ctx.env)
            if missing:
                return ctx.receipt(
                    self.name, False, f"{what}: environment variable {missing[0]} is not set (nothing was sent)"
                )
        url = ctx.secret(payload.job.get("webhook_url"))
        if not url:
            return ctx.receipt(self.name, False, "the job has no webhook_url")
        # The run id as the idempotency key: a delivery is sent at least once (a crash between the send and its
        # receipt sends it again), and a receiver that remembers the key can drop the repeat.
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": payload.run_id}
        for key, value in job_headers.items():
            headers[key] = ctx.secret(value) or ""
        auth = ctx.secret(auth_setting)
        if auth:
            headers["Authorization"] = auth
        body = payload.to_json().encode("utf-8")
        where = describe_url(url)
        return post_with_retries(ctx, self.name, url, body, headers, lambda r: judge_http(r, where))
