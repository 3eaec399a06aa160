"""The redaction helper: named cases of what must be masked and what must stay readable."""

from __future__ import annotations

import pytest

from symbi_cron.config import Settings
from symbi_cron.delivery.redact import Redactor, build_redactor, describe_url


@pytest.mark.parametrize(
    "secret, text, expected",
    [
        ("s3cr3t-value", "got s3cr3t-value back", "got *** back"),
        ("p@ss word/+", "q=p%40ss%20word%2F%2B", "q=***"),  # URL-encoded
        ("p@ss word/+", "q=p%40ss+word%2F%2B", "q=***"),  # form-encoded
        (
            "Bearer tok-12345",
            "server said: tok-12345 is wrong",
            "server said: *** is wrong",
        ),  # credential alone
        ("abc", "abc stays: too short to mask", "abc stays: too short to mask"),
    ],
    ids=["plain", "url_encoded", "form_encoded", "auth_credential_alone", "short_value_kept"],
)
def test_known_values(secret, text, expected):
    assert Redactor([secret])(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("token xoxb-123-456-abcDEF failed", "token *** failed"),
        (
            "POST https://hooks.slack.com/services/T1/B2/XyZ -> 404",
            "POST https://hooks.slack.com/services/*** -> 404",
        ),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
        ("connect https://bob:hunter22@example.com/x", "connect https://***@example.com/x"),
        ("HTTP 500: internal error", "HTTP 500: internal error"),
    ],
    ids=["slack_token", "slack_hook_path", "bearer", "basic", "url_userinfo", "harmless_text"],
)
def test_patterns(text, expected):
    assert Redactor()(text) == expected


def test_build_redactor_collects_job_settings_and_env():
    settings = Settings()
    settings.scheduler.delivery.smtp_password = "${PW}"
    settings.custom_channels = {"pager": "page --key ${PAGER_KEY}"}
    job = {
        "webhook_url": "https://h.example/hook/${HOOK}?sig=${SIG}",
        "webhook_headers": {"X-Key": "${K}", "Content-Type": "application/json"},
        "custom": {"api_token": "${T}", "note": "plain words"},
    }
    env = {
        "PW": "pw-0001",
        "PAGER_KEY": "pk-0002",
        "HOOK": "Hk0003abc",
        "SIG": "sig-0004",
        "K": "k-0005",
        "T": "t-0006",
        "SYMBI_API_KEY": "api-0007",
    }
    r = build_redactor(job, settings, env)
    text = " ".join(env.values()) + " application/json plain words"
    assert r(text) == "*** *** *** *** *** *** *** application/json plain words"


def test_describe_url_hides_paths_and_queries():
    assert describe_url("https://u:p@hooks.example.com:8443/T/B/secret?x=1") == "https://hooks.example.com:8443"
    assert describe_url("http://[::1]:9/x") == "http://[::1]:9"
