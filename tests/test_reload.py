"""What a reload logs, setting by setting (services/reload.py): applied or needs restart, secrets never shown."""

from __future__ import annotations

import logging

from symbi_cron.config import Settings
from symbi_cron.services.reload import reloaded


def test_each_changed_setting_is_logged_once_with_what_happened(caplog):
    old, new = Settings(), Settings()
    new.scheduler.max_concurrent_jobs = 3
    new.api.port = 9090
    new.api.keys = {"alice": "a-literal-secret", "bob": "${BOB_KEY}"}
    new.scheduler.delivery.smtp_password = "hunter2"
    new.policies = {"night": {"allowed_hours": "22-06"}}
    applied = []
    with caplog.at_level(logging.INFO, logger="t"):
        changes = reloaded(old, new, logging.getLogger("t"), [lambda o, n: applied.append((o, n))])
    assert {c["key"]: c["applied"] for c in changes} == {
        "scheduler.max_concurrent_jobs": True,
        "scheduler.delivery.smtp_password": True,
        "api.port": False,
        "api.keys.alice": True,
        "api.keys.bob": True,
        "policies": True,
    }
    text = caplog.text
    assert "reload: scheduler.max_concurrent_jobs changed (10 -> 3): applied" in text
    assert "reload: api.port changed (8080 -> 9090): needs restart (the API's socket is bound at start" in text
    assert "api.keys.bob changed (unset -> '${BOB_KEY}'): applied" in text  # a reference is no secret
    assert "hunter2" not in text and "a-literal-secret" not in text and text.count("********") == 2
    assert "reloaded the configuration: 6 settings changed, 1 of them only after a restart" in text
    assert applied == [(old, new)]


def test_an_unchanged_configuration_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="t"):
        assert reloaded(Settings(), Settings(), logging.getLogger("t")) == []
    assert "reloaded the configuration: unchanged" in caplog.text
