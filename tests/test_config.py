"""Configuration: config.toml, environment overrides, ${VAR} references, masking (SPEC §15)."""

from __future__ import annotations

import json

import pytest

from symbi_cron.config import expand_env, load_settings, masked_dict
from symbi_cron.errors import ConfigError

GUIDE_TOML = """
[scheduler]
tick_interval_seconds = 1
max_jitter_seconds = 30
max_concurrent_jobs = 20
enable_metrics = true
default_max_retries = 3
shutdown_timeout_seconds = 60

[scheduler.delivery]
webhook_timeout_seconds = 30
webhook_retry_attempts = 3
slack_api_token = "${SLACK_API_TOKEN}"
slack_default_channel = "#ops"
smtp_host = "smtp.example.com"
smtp_port = 587
smtp_username = "${SMTP_USER}"
smtp_password = "${SMTP_PASS}"
email_from = "symbiont@example.com"
"""


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_guides_config_loads(tmp_path):
    s = load_settings(write(tmp_path, GUIDE_TOML), env={})
    assert s.scheduler.max_jitter_seconds == 30 and s.scheduler.max_concurrent_jobs == 20
    assert s.scheduler.shutdown_timeout_seconds == 60
    assert s.scheduler.delivery.slack_api_token == "${SLACK_API_TOKEN}"  # kept as a reference
    assert s.secret(s.scheduler.delivery.slack_api_token, {"SLACK_API_TOKEN": "xoxb-1"}) == "xoxb-1"


def test_missing_file_gives_defaults(tmp_path):
    s = load_settings(tmp_path / "absent.toml", env={})
    assert (
        s.scheduler.tick_interval_seconds,
        s.scheduler.max_jitter_seconds,
        s.scheduler.max_concurrent_jobs,
        s.scheduler.default_max_retries,
        s.scheduler.shutdown_timeout_seconds,
    ) == (1, 0, 10, 3, 30)
    assert s.api.bind == "127.0.0.1" and s.api.port == 8080


def test_environment_overrides_the_file(tmp_path):
    env = {
        "SYMBI_SCHEDULER_MAX_JITTER": "5",
        "SYMBI_SCHEDULER_MAX_CONCURRENT": "2",
        "SYMBI_ENV": "staging",
        "SYMBI_AGENTPIN_REQUIRED": "true",
        "SYMBI_AGENTPIN_DOMAIN": "agent.example.com",
        "SYMBI_SLACK_TOKEN": "xoxb-env",
        "SYMBI_WEBHOOK_AUTH_HEADER": "Bearer t",
        "SYMBI_API_KEY": "k",
    }
    s = load_settings(write(tmp_path, GUIDE_TOML), env=env)
    assert s.scheduler.max_jitter_seconds == 5 and s.scheduler.max_concurrent_jobs == 2
    assert s.environment == "staging" and s.agentpin.required is True
    assert s.agentpin.domain == "agent.example.com"
    assert s.scheduler.delivery.slack_api_token == "xoxb-env"
    assert s.scheduler.delivery.webhook_auth_header == "Bearer t" and s.api.key == "k"


@pytest.mark.parametrize(
    "text, key",
    [
        ("[scheduler]\ntick_interval = 1\n", "scheduler.tick_interval: unknown key"),
        ('[scheduler]\nmax_concurrent_jobs = "many"\n', "scheduler.max_concurrent_jobs"),
        ("[scheduler]\nmax_jitter_seconds = -1\n", "scheduler.max_jitter_seconds"),
        ("[sheduler]\n", "sheduler: unknown key"),
        ("[api]\nport = 70000\n", "api.port"),
        ('[scheduler.delivery]\nsmtp_port = "x"\n', "scheduler.delivery.smtp_port"),
        ('[scheduler]\ndefault_timezone = "Atlantis/Capital"\n', "scheduler.default_timezone"),
        ("[scheduler\n", "config.toml"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), env={})
    assert key in str(err.value)


@pytest.mark.parametrize(
    "var, value",
    [
        ("SYMBI_SCHEDULER_MAX_JITTER", "lots"),
        ("SYMBI_AGENTPIN_REQUIRED", "perhaps"),
        ("SYMBI_SCHEDULER_MAX_CONCURRENT", "0"),
    ],
)
def test_bad_environment_values_name_the_variable(tmp_path, var, value):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "none.toml", env={var: value})
    assert var in str(err.value) or "environment" in str(err.value)


def test_expand_env():
    assert expand_env("Bearer ${T}", {"T": "abc"}) == "Bearer abc"
    assert expand_env("${MISSING}", {}) == ""
    with pytest.raises(ConfigError, match="MISSING"):
        expand_env("${MISSING}", {}, strict=True)
    assert expand_env("$HOME and ${ not a ref", {"HOME": "x"}) == "$HOME and ${ not a ref"


def test_masking_hides_values_but_shows_references(tmp_path):
    text = GUIDE_TOML.replace('"${SMTP_PASS}"', '"hunter2-literal"')
    s = load_settings(write(tmp_path, text), env={"SYMBI_API_KEY": "sekret-key-value"})
    data = masked_dict(s)
    flat = json.dumps(data)
    assert "hunter2-literal" not in flat and "sekret-key-value" not in flat
    assert data["scheduler"]["delivery"]["slack_api_token"] == "${SLACK_API_TOKEN}"


def test_config_show_masks_secrets(cli, home, monkeypatch):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[scheduler.delivery]\nsmtp_password = "p4ss-literal"\n')
    monkeypatch.setenv("SYMBI_SLACK_TOKEN", "xoxb-very-secret")
    for fmt in ("toml", "json"):
        result = cli("config", "show", "--format", fmt, ok=True)
        assert "p4ss-literal" not in result.stdout and "xoxb-very-secret" not in result.stdout
        assert "********" in result.stdout
    data = json.loads(cli("config", "show", "--format", "json").stdout)
    assert data["scheduler"]["max_concurrent_jobs"] == 10


def test_config_errors_reach_the_user_as_one_line(cli, home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[scheduler]\nmax_jobs = 3\n")
    result = cli("config", "show")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: ") and "scheduler.max_jobs: unknown key" in result.stderr


def test_a_broken_config_file_stops_even_the_read_commands(cli, home):
    """Guessing the SQLite default would send a PostgreSQL user's commands to a stray local file."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[store]\nurl = "postgresql://db/symbi"\n[scheduler\n')
    result = cli("cron", "list")
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and "config.toml" in result.stderr
    assert not (home / "symbi.db").exists()


@pytest.mark.parametrize(
    "raw, says",
    [
        (b"[scheduler]\nmax_jitter_seconds = 3\n# caf\xe9\n", "not UTF-8 text (byte 40, line 3)"),
        (b"x = " + b"[" * 2000 + b"]" * 2000 + b"\n", "nested 2000 levels deep"),
        (b"x = " + b"{a = " * 2000 + b"1" + b"}" * 2000 + b"\n", "nested 2000 levels deep"),
        (b"\xff\xfe[\x00a\x00]\x00", "not UTF-8 text"),
    ],
)
def test_unreadable_config_is_a_clean_error_naming_the_file(cli, home, raw, says):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_bytes(raw)
    with pytest.raises(ConfigError) as exc:
        load_settings(home / "config.toml", {})
    assert str(home / "config.toml") in str(exc.value) and says in str(exc.value)
    for args in (("config", "show"), ("cron", "list")):  # the store factory reads the file too
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith(f"error: {home / 'config.toml'}: ") and "internal error" not in result.stderr


def test_brackets_in_strings_and_comments_are_not_nesting(tmp_path):
    deep = "[" * 200
    (tmp_path / "c.toml").write_text(f"environment = \"{deep}\"\n# {deep}\n[policies.p]\napprovers = ['{deep}']\n")
    assert load_settings(tmp_path / "c.toml", {}).environment == deep


@pytest.mark.parametrize(
    "text, key, got",
    [
        ('[scheduler]\nmax_jitter_seconds = "30"', "scheduler.max_jitter_seconds", "a string '30'"),
        ('[api]\nport = "8080"', "api.port", "a string '8080'"),
        ('[scheduler]\nenable_metrics = "false"', "scheduler.enable_metrics", "a string 'false'"),
        ("[scheduler]\ntick_interval_seconds = true", "scheduler.tick_interval_seconds", "a boolean"),
        ("[api]\nbind = 127", "api.bind", "a whole number 127"),
        ("[api]\nport = 8080.5", "api.port", "a number 8080.5"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_converted(tmp_path, text, key, got):
    (tmp_path / "c.toml").write_text(text + "\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "c.toml", {})
    assert f"{key}: " in str(exc.value) and got in str(exc.value)


def test_a_whole_number_is_still_a_number_of_seconds(tmp_path):
    (tmp_path / "c.toml").write_text("[scheduler]\ntick_interval_seconds = 2\nshutdown_timeout_seconds = 1.5\n")
    assert load_settings(tmp_path / "c.toml", {}).scheduler.tick_interval_seconds == 2.0


def test_config_fuzz_never_an_internal_error(tmp_path):
    """Arbitrary bytes, and TOML-looking text, either load or give a ConfigError naming the file."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    path = tmp_path / "config.toml"
    keys = st.sampled_from(
        ["[scheduler]", "[api]", "[store]", "[policies.p]", "max_jitter_seconds", "port", "bind", "url", "approvers"]
    )
    pieces = st.one_of(keys, st.sampled_from(["=", " ", "\n", '"', "'", "[", "]", "{", "}", ",", "1", "true", "#"]))
    texts = st.lists(pieces, max_size=40).map("".join).map(str.encode)

    @given(st.one_of(st.binary(max_size=200), texts))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    def check(raw: bytes) -> None:
        path.write_bytes(raw)
        try:
            load_settings(path, {})
        except ConfigError as exc:
            assert str(path) in str(exc)

    check()


@pytest.mark.slow
def test_reload_with_a_broken_config_keeps_the_old_one_and_logs_one_clean_line(tmp_path):
    from agents.daemon_helper import Daemon, wait_for

    d = Daemon(tmp_path / "home")
    d.start()
    try:
        config = d.home / "config.toml"
        good = config.read_bytes()
        config.write_bytes(good + b"# caf\xe9\nx = " + b"[" * 2000 + b"]" * 2000 + b"\n")
        d.symbi("cron", "daemon", "reload", check=True)
        line = wait_for(
            lambda: next((ln for ln in d.log().splitlines() if "keeping the previous configuration" in ln), None),
            what="the reload's error line",
        )
        assert f"{config}: not UTF-8 text" in line
        assert "Traceback" not in d.log() and "tick failed" not in d.log()
        assert d.symbi("cron", "daemon", "status").returncode == 0  # still running
    finally:
        d.symbi("cron", "daemon", "stop")
        d.cleanup()


def test_an_unset_variable_in_the_store_url_refuses_the_connection(cli, home, monkeypatch):
    from symbi_cron.paths import resolve
    from symbi_cron.store.factory import store_url

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[store]\nurl = "postgresql://symbi:${PG_PASS_X}@127.0.0.1:1/symbi"\n')
    monkeypatch.delenv("PG_PASS_X", raising=False)
    with pytest.raises(ConfigError) as exc:
        store_url(resolve(), {})
    assert exc.value.field == "store.url" and "${PG_PASS_X}" in str(exc.value) and "not connecting" in str(exc.value)
    result = cli("cron", "list")
    assert result.exit_code == 2 and "store.url: refers to ${PG_PASS_X}, which is not set" in result.stderr
    # config show still explains the configuration, and warns
    shown = cli("config", "show")
    assert shown.exit_code == 0, shown.stderr
    assert "warning: store.url refers to ${PG_PASS_X}, which is not set (the store refuses to connect)" in shown.stderr
    assert "PG_PASS_X" not in shown.stdout or "${PG_PASS_X}" in shown.stdout  # a reference is shown as written
    assert not (home / "symbi.db").exists()
    monkeypatch.setenv("PG_PASS_X", "pw")
    assert store_url(resolve()) == "postgresql://symbi:pw@127.0.0.1:1/symbi"


def test_config_show_warns_of_every_unset_reference(cli, home, monkeypatch):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[scheduler.delivery]\nwebhook_auth_header = "Bearer ${HOOK_TOKEN_X}"\nsmtp_password = "${SMTP_PASS_X}"\n'
    )
    monkeypatch.delenv("HOOK_TOKEN_X", raising=False)
    monkeypatch.setenv("SMTP_PASS_X", "set")
    shown = cli("config", "show")
    assert shown.exit_code == 0
    assert (
        "warning: scheduler.delivery.webhook_auth_header refers to ${HOOK_TOKEN_X}, which is not set"
        " (webhook deliveries fail, naming it)" in shown.stderr
    )
    assert "SMTP_PASS_X" not in shown.stderr
