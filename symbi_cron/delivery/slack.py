"""The ``slack`` channel: an incoming webhook, or ``chat.postMessage`` with a bot token.

Which one, first match wins:
1. the job's ``custom.slack_webhook_url``;
2. the job's ``webhook_url`` when it is a Slack incoming-webhook URL (``https://hooks.slack.com/...``);
3. ``chat.postMessage`` when a token is set (``SYMBI_SLACK_TOKEN`` / ``slack_api_token``) and a channel is
   known (the job's ``slack_channel``, else ``slack_default_channel``);
4. ``scheduler.delivery.slack_webhook_url``.

Slack's own answers are honoured: ``{"ok": false, "error": ...}`` (HTTP 200) is a failure naming the error;
429 waits for Retry-After and retries (as many times as ``webhook_retry_attempts``); incoming webhooks'
plain-text errors (``invalid_payload``, ``channel_not_found``...) are quoted in the receipt.
"""

from __future__ import annotations

import json
from typing import Any

from ..net import NOT_FOLLOWED
from ..vocab import FAILURE_RUN_STATUSES, ChannelName, RunStatus
from ._http import HttpResult, Verdict, post_with_retries
from .base import DeliveryContext, DeliveryPayload, Receipt
from .redact import describe_url

#: Slack's limits (api.slack.com/reference/block-kit): a section's text, a header's text, a message's text.
SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
MESSAGE_TEXT_LIMIT = 40_000
#: Characters of output shown; the rest of the section holds the code fence and the note.
OUTPUT_LIMIT = SECTION_TEXT_LIMIT - 100
SLACK_HOOKS_PREFIX = "https://hooks.slack.com/"

STATUS_EMOJI = {
    RunStatus.succeeded: ":white_check_mark:",
    RunStatus.failed: ":x:",
    RunStatus.timed_out: ":hourglass:",
    RunStatus.interrupted: ":warning:",
    RunStatus.denied: ":no_entry:",
    RunStatus.cancelled: ":heavy_minus_sign:",
    RunStatus.skipped: ":fast_forward:",
    RunStatus.missed: ":grey_question:",
}
#: Statuses whose output is shown from its end (the error is usually last).
TAIL_STATUSES = FAILURE_RUN_STATUSES


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def trim_output(output: str, status: str, limit: int = OUTPUT_LIMIT) -> tuple[str, bool]:
    """The output cut to ``limit`` characters (its end for failures, its start otherwise) and whether it was
    cut."""
    output = output.rstrip()
    if len(output) <= limit:
        return output, False
    if status in TAIL_STATUSES:
        return "…" + output[-(limit - 1) :], True
    return output[: limit - 1] + "…", True


def build_message(payload: DeliveryPayload) -> dict[str, Any]:
    """The Slack message: Block Kit blocks plus a fallback ``text`` for notifications and old clients."""
    status = payload.status
    emoji = STATUS_EMOJI.get(status, ":information_source:")
    run = payload.run
    duration = payload.duration_text()
    trigger = str(getattr(run.get("trigger"), "value", run.get("trigger")) or "?")
    headline = f"{emoji} {payload.job_name} {status}"
    fallback = headline + (f" in {duration}" if duration else "") + f" ({trigger})"

    fields = [
        f"*Status*\n{emoji} {escape(status)}",
        f"*Duration*\n{duration or '—'}",
        f"*Trigger*\n{escape(trigger)}",
        f"*Run*\n`{escape(payload.run_id)}`",
    ]
    if run.get("exit_code") is not None:
        fields.append(f"*Exit code*\n{run.get('exit_code')}")
    sched = payload.to_dict()["run"].get("scheduled_for")
    if sched:
        fields.append(f"*Scheduled for*\n{escape(sched)}")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(headline, HEADER_TEXT_LIMIT), "emoji": True},
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if run.get("error_message"):
        blocks.append(_section("*Error*\n" + escape(str(run["error_message"]))))
    if run.get("summary"):
        blocks.append(_section("*Summary*\n" + escape(str(run["summary"]))))
    shown, trimmed = trim_output(payload.output or "", status)
    if shown:
        # Inside a code fence only & < > need escaping; a ``` in the output would close the fence early.
        blocks.append(_section("```" + escape(shown).replace("```", "`\u200b``") + "```"))
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "_no output_"}]})
    if trimmed:
        total = len((payload.output or "").rstrip())
        which = "last" if status in TAIL_STATUSES else "first"
        note = (
            f"Output trimmed to Slack's limit: showing the {which} {len(shown) - 1:,} of {total:,}"
            " characters. "
            f"The full output is on the run: `symbi cron history {escape(payload.job_name)}`."
        )
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return {"text": _cut(fallback, MESSAGE_TEXT_LIMIT), "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_TEXT_LIMIT)}}


def _judge_webhook(result: HttpResult, where: str) -> Verdict:
    if result.status is None:
        return "retry", f"slack webhook {where}: {result.error}"
    if 200 <= result.status < 300:
        return "ok", f"slack webhook {where}: HTTP {result.status}"
    text = result.text()
    detail = f"slack webhook {where}: HTTP {result.status}" + (f": {text}" if text else "")
    if result.status == 429 or result.status >= 500:
        return "retry", detail
    if 300 <= result.status < 400:
        return "fail", f"{detail} ({NOT_FOLLOWED})"
    return "fail", detail


def _judge_api(result: HttpResult, where: str, channel: str) -> Verdict:
    if result.status is None:
        return "retry", f"slack chat.postMessage {where}: {result.error}"
    if result.status == 429 or result.status >= 500:
        return "retry", f"slack chat.postMessage: HTTP {result.status}" + (
            " (rate limited)" if result.status == 429 else ""
        )
    if 300 <= result.status < 400:
        return (
            "fail",
            f"slack chat.postMessage {where}: HTTP {result.status} ({NOT_FOLLOWED}; check slack_api_base_url)",
        )
    try:
        answer = json.loads(result.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        answer = None
    if not isinstance(answer, dict):
        return "fail", f"slack chat.postMessage: HTTP {result.status}, not a Slack answer: {result.text()}"
    if answer.get("ok") is True:
        return "ok", f"slack chat.postMessage to {channel}: ok (ts {answer.get('ts', '?')})"
    error = answer.get("error") or "unknown_error"
    if error == "ratelimited":
        return "retry", "slack chat.postMessage: ratelimited"
    return "fail", f"slack chat.postMessage to {channel}: {error}" + _hint(str(error))


def _hint(error: str) -> str:
    hints = {
        "channel_not_found": " (check slack_channel, and invite the bot to a private channel)",
        "not_in_channel": " (invite the bot to the channel)",
        "invalid_auth": " (check SYMBI_SLACK_TOKEN / slack_api_token)",
        "not_authed": " (no token was sent)",
        "missing_scope": " (the token needs the chat:write scope)",
        "is_archived": " (the channel is archived)",
    }
    return hints.get(error, "")


class SlackChannel:
    name = ChannelName.slack

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        d = ctx.delivery
        job = payload.job
        custom = job.get("custom") or {}
        webhook_url: str | None = ctx.secret(custom.get("slack_webhook_url")) if isinstance(custom, dict) else None
        if not webhook_url:
            job_url = ctx.secret(job.get("webhook_url"))
            if job_url and job_url.startswith(SLACK_HOOKS_PREFIX):
                webhook_url = job_url
        token = ctx.secret(ctx.env.get("SYMBI_SLACK_TOKEN") or d.slack_api_token)
        channel = job.get("slack_channel") or d.slack_default_channel
        message = build_message(payload)

        if not webhook_url and token and channel:
            base = (d.slack_api_base_url or "https://slack.com/api").rstrip("/")
            url = f"{base}/chat.postMessage"
            body = json.dumps(
                {"channel": channel, "unfurl_links": False, "unfurl_media": False, **message},
                ensure_ascii=False,
            ).encode("utf-8")
            headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {token}"}
            where = describe_url(url)
            return post_with_retries(ctx, self.name, url, body, headers, lambda r: _judge_api(r, where, str(channel)))
        if not webhook_url:
            webhook_url = ctx.secret(ctx.env.get("SYMBI_SLACK_WEBHOOK_URL") or d.slack_webhook_url)
        if not webhook_url:
            if token:
                return ctx.receipt(
                    self.name,
                    False,
                    "slack: no channel (set the job's slack_channel or slack_default_channel)",
                )
            return ctx.receipt(
                self.name,
                False,
                "slack is not configured (set SYMBI_SLACK_TOKEN and a slack_channel, or slack_webhook_url)",
            )
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        where = describe_url(webhook_url)
        return post_with_retries(ctx, self.name, webhook_url, body, headers, lambda r: _judge_webhook(r, where))
