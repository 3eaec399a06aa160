"""The Slack channel against a Slack-shaped API server on 127.0.0.1 (slack.com itself cannot be reached from
tests; tests/servers/slack_server.py answers as Slack's documented API does)."""

from __future__ import annotations

from delivery_samples import sample_job, sample_payload

from symbi_cron.delivery.router import deliver
from symbi_cron.delivery.slack import OUTPUT_LIMIT, SECTION_TEXT_LIMIT, build_message
from tests.servers.http_recorder import Reply


def _api_ctx(make_ctx, srv, **kw):
    return make_ctx(env={"SYMBI_SLACK_TOKEN": srv.token}, slack_api_base_url=srv.api_base, **kw)


def test_chat_post_message_to_the_jobs_channel(slack_server, make_ctx):
    payload = sample_payload(output="report ready <ok> & done", job=sample_job(slack_channel="#ops"))
    [r] = deliver(payload, ["slack"], _api_ctx(make_ctx, slack_server))
    assert r.ok, r.detail
    assert "chat.postMessage to #ops: ok" in r.detail
    req = slack_server.requests[0]
    assert req.path == "/api/chat.postMessage"
    assert req.header("Authorization") == f"Bearer {slack_server.token}"
    msg = slack_server.last_message()
    assert msg["channel"] == "#ops"
    assert msg["text"] == ":white_check_mark: nightly-report succeeded in 1.25s (schedule)"
    header = msg["blocks"][0]
    assert header["type"] == "header" and "nightly-report succeeded" in header["text"]["text"]
    fields = " ".join(f["text"] for f in msg["blocks"][1]["fields"])
    assert "*Duration*\n1.25s" in fields and "*Trigger*\nschedule" in fields and "*Exit code*\n0" in fields
    # mrkdwn-reserved characters are escaped
    assert any("report ready &lt;ok&gt; &amp; done" in b.get("text", {}).get("text", "") for b in msg["blocks"])


def test_default_channel_and_token_from_settings(slack_server, make_ctx):
    ctx = make_ctx(
        slack_api_token="${MY_SLACK}",
        slack_default_channel="C0123456",
        slack_api_base_url=slack_server.api_base,
        env={"MY_SLACK": slack_server.token},
    )
    [r] = deliver(sample_payload(), ["slack"], ctx)
    assert r.ok, r.detail
    assert slack_server.last_message()["channel"] == "C0123456"


def test_ok_false_is_a_failure_naming_slacks_error(slack_server, make_ctx, sleeps):
    job = sample_job(slack_channel="#nope")
    [r] = deliver(sample_payload(job=job), ["slack"], _api_ctx(make_ctx, slack_server))
    assert not r.ok and r.attempts == 1 and sleeps == []
    assert "channel_not_found" in r.detail and "#nope" in r.detail


def test_bad_token_is_invalid_auth_without_the_token(slack_server, make_ctx):
    ctx = make_ctx(env={"SYMBI_SLACK_TOKEN": "xoxb-wrong-token-999"}, slack_api_base_url=slack_server.api_base)
    [r] = deliver(sample_payload(job=sample_job(slack_channel="#ops")), ["slack"], ctx)
    assert not r.ok and "invalid_auth" in r.detail
    assert "xoxb-wrong-token-999" not in r.detail


def test_429_waits_for_retry_after_then_succeeds(slack_server, make_ctx, sleeps):
    slack_server.rate_limit(2, retry_after=3)
    job = sample_job(slack_channel="#ops")
    [r] = deliver(sample_payload(job=job), ["slack"], _api_ctx(make_ctx, slack_server, webhook_retry_attempts=3))
    assert r.ok and r.attempts == 3
    assert sleeps == [3.0, 3.0]
    assert len(slack_server.messages) == 1


def test_429_beyond_the_retries_fails(slack_server, make_ctx, sleeps):
    slack_server.rate_limit(10, retry_after=2)
    job = sample_job(slack_channel="#ops")
    [r] = deliver(sample_payload(job=job), ["slack"], _api_ctx(make_ctx, slack_server, webhook_retry_attempts=1))
    assert not r.ok and r.attempts == 2 and "rate limited" in r.detail
    assert sleeps == [2.0]


def test_incoming_webhook_from_settings(slack_server, make_ctx):
    ctx = make_ctx(slack_webhook_url=slack_server.hook_url)
    [r] = deliver(sample_payload(status="failed", exit_code=3, error_message="exit 3"), ["slack"], ctx)
    assert r.ok, r.detail
    msg = slack_server.last_message()
    assert msg["text"].startswith(":x: nightly-report failed")
    assert "channel" not in msg
    assert slack_server.requests[0].header("Authorization") is None
    # the receipt shows where, never the secret path
    assert slack_server.hook_path.rsplit("/", 1)[1] not in r.detail


def test_incoming_webhook_from_the_jobs_custom_settings_wins(slack_server, make_ctx):
    job = sample_job(custom={"slack_webhook_url": slack_server.hook_url}, slack_channel="#ops")
    [r] = deliver(sample_payload(job=job), ["slack"], _api_ctx(make_ctx, slack_server))
    assert r.ok and slack_server.requests[0].path == slack_server.hook_path


def test_incoming_webhook_errors_are_quoted(slack_server, make_ctx):
    ctx = make_ctx(slack_webhook_url=slack_server.url("/services/T0/B0/revoked0000secret"))
    [r] = deliver(sample_payload(), ["slack"], ctx)
    assert not r.ok and "HTTP 404: no_service" in r.detail and r.attempts == 1
    assert "revoked0000secret" not in r.detail


def test_not_configured(make_ctx):
    [r] = deliver(sample_payload(), ["slack"], make_ctx())
    assert not r.ok and "slack is not configured" in r.detail
    [r] = deliver(sample_payload(), ["slack"], make_ctx(env={"SYMBI_SLACK_TOKEN": "xoxb-1234"}))
    assert not r.ok and "no channel" in r.detail


def test_long_output_is_trimmed_with_a_note():
    ok = build_message(sample_payload(output="A" * 10 + "x" * 10_000))
    code = [b for b in ok["blocks"] if b.get("text", {}).get("text", "").startswith("```")][0]["text"]["text"]
    assert len(code) <= SECTION_TEXT_LIMIT
    assert code.startswith("```AAAAAAAAAA")  # a success shows the start
    note = ok["blocks"][-1]
    assert note["type"] == "context" and "trimmed" in note["elements"][0]["text"]
    assert f"{OUTPUT_LIMIT - 1:,} of 10,010" in note["elements"][0]["text"]

    failed = build_message(sample_payload(output="x" * 10_000 + "Traceback: boom", status="failed"))
    code = [b for b in failed["blocks"] if b.get("text", {}).get("text", "").startswith("```")][0]["text"]["text"]
    assert code.endswith("Traceback: boom```")  # a failure shows the end, where the error is
    assert all(len(b.get("text", {}).get("text", "")) <= SECTION_TEXT_LIMIT for b in failed["blocks"])


def test_short_output_has_no_note_and_fences_are_defused():
    msg = build_message(sample_payload(output="```inject``` here"))
    assert all(b["type"] != "context" for b in msg["blocks"])
    code = msg["blocks"][-1]["text"]["text"]
    assert code.count("```") == 2


def test_a_redirect_is_a_failure_that_says_it_was_not_followed(http_server, make_ctx):
    http_server.default = Reply(301, "moved", {"Location": http_server.url("/elsewhere")})
    [r] = deliver(sample_payload(), ["slack"], make_ctx(slack_webhook_url=http_server.url("/services/T0/B0/x")))
    assert not r.ok and r.attempts == 1 and "HTTP 301: moved (redirects are not followed)" in r.detail
    [r] = deliver(
        sample_payload(),
        ["slack"],
        make_ctx(slack_api_base_url=http_server.url("/api"), slack_api_token="xoxb-1", slack_default_channel="#ops"),
    )
    assert (
        not r.ok and r.attempts == 1 and "HTTP 301 (redirects are not followed; check slack_api_base_url)" in r.detail
    )
    assert [q.path for q in http_server.requests] == ["/services/T0/B0/x", "/api/chat.postMessage"]
