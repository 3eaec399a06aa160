"""Secrets written literally instead of as ${VAR} are stored as written: the user is warned, on stderr only."""

import json


def test_literal_webhook_auth_header_and_pin_warn(cli):
    spec = {
        "name": "hook",
        "agent_id": "a",
        "cron_expr": "0 * * * *",
        "delivery": ["webhook"],
        "webhook_url": "http://127.0.0.1:9/x",
        "webhook_headers": {"Authorization": "Bearer literal-value", "Content-Type": "application/json"},
        "agent_pin_jwt": "eyJhbGciOiJFUzI1NiJ9.e30.sig",
    }
    result = cli("cron", "add", "--json", json.dumps(spec), "--format", "json")
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)  # stdout stays clean JSON
    assert "webhook header Authorization looks like a secret" in result.stderr
    assert "${AUTHORIZATION}" in result.stderr
    assert "agent_pin_jwt looks like a secret" in result.stderr
    assert "Content-Type" not in result.stderr


def test_references_do_not_warn(cli):
    spec = {
        "name": "hook",
        "agent_id": "a",
        "cron_expr": "0 * * * *",
        "webhook_headers": {"Authorization": "Bearer ${METRICS_API_KEY}"},
        "agent_pin_jwt": "${AGENT_PIN_JWT}",
    }
    result = cli("cron", "add", "--json", json.dumps(spec))
    assert result.exit_code == 0 and "looks like a secret" not in result.stderr


def test_literal_agent_env_secret_warns(cli):
    result = cli(
        "agent",
        "add",
        "r",
        "--command",
        "true",
        "--env",
        "API_TOKEN=abc123",
        "--env",
        "MODE=fast",
        "--env",
        "DB_PASSWORD=${DB_PASSWORD}",
    )
    assert result.exit_code == 0, result.stderr
    assert "env API_TOKEN looks like a secret" in result.stderr
    assert "MODE" not in result.stderr and "DB_PASSWORD" not in result.stderr
