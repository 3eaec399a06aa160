"""The .symbi parser: the guide's examples verbatim, every value form, and errors a person can act on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from symbi_cron import dsl
from symbi_cron.dsl import DslError, parse
from symbi_cron.errors import InvalidInput

GUIDE = Path(__file__).parent / "fixtures" / "guide"


def only_schedule(path: Path) -> dsl.ScheduleDecl:
    doc = dsl.parse_file(path)
    assert len(doc.schedules) == 1
    return doc.schedules[0]


def written(spec) -> dict:
    """Exactly the fields the file set, in JSON form (defaults not shown by the example are left out)."""
    return spec.model_dump(mode="json", include=spec.model_fields_set, exclude_unset=True)


# -- every schedule and agent example of the guide, verbatim (one test each) -------------------------------
def test_guide_daily_report():
    s = only_schedule(GUIDE / "daily_report.symbi")
    assert written(s.spec) == {
        "name": "daily-report",
        "agent_id": "reporter-agent",
        "cron_expr": "0 9 * * *",
        "session_mode": "ephemeral_with_summary",
        "delivery": ["stdout", "log_file"],
        "policy": {"require_approval": False, "max_runtime": 300},
    }
    assert (s.line, s.column) == (1, 1)


def test_guide_deployment_check_one_shot_at():
    s = only_schedule(GUIDE / "deployment_check.symbi")
    assert written(s.spec) == {
        "name": "deployment-check",
        "agent_id": "health-checker",
        "at": "2026-02-15T14:30:00Z",
        "delivery": ["webhook"],
        "webhook_url": "https://ops.example.com/hooks/deployment",
    }


def test_guide_system_monitor_heartbeat_colon_block():
    s = only_schedule(GUIDE / "system_monitor.symbi")
    assert written(s.spec) == {
        "name": "system-monitor",
        "agent_id": "heartbeat-agent",
        "cron_expr": "*/5 * * * *",
        "heartbeat": {"enabled": True, "context_mode": "ephemeral_with_summary", "max_iterations": 100},
    }


def test_guide_heartbeat_monitor_agent_and_schedule():
    doc = dsl.parse_file(GUIDE / "heartbeat_monitor.symbi")
    assert [a.spec.name for a in doc.agents] == ["heartbeat_monitor"]
    agent = doc.agents[0].spec
    assert written(agent) == {
        "name": "heartbeat_monitor",
        "model": "claude-sonnet-4.5",
        "system_prompt": (
            "You are a system monitoring agent. On each heartbeat:\n"
            "1. Check system metrics (CPU, memory, disk)\n"
            "2. Review recent error logs\n"
            "3. If issues detected, take action:\n"
            "- Restart services if safe\n"
            "- Alert ops team via Slack\n"
            "- Log incident details\n"
            "4. Summarize findings\n"
            "5. Return 'sleep' when done"
        ),
    }
    (s,) = doc.schedules
    assert written(s.spec) == {
        "name": "heartbeat-monitor",
        "agent_id": "heartbeat_monitor",
        "cron_expr": "*/10 * * * *",
        "heartbeat": {"enabled": True, "context_mode": "ephemeral_with_summary", "max_iterations": 50},
        "delivery": ["log_file", "slack"],
        "slack_channel": "#ops-alerts",
    }
    # The agent is in the file, so the check against an empty registry passes.
    dsl.parse_file(GUIDE / "heartbeat_monitor.symbi", known_agents=[])


def test_guide_data_pipeline_comment_line():
    s = only_schedule(GUIDE / "data_pipeline.symbi")
    assert written(s.spec) == {
        "name": "data-pipeline",
        "agent_id": "etl-agent",
        "cron_expr": "0 2 * * *",
        "session_mode": "ephemeral_with_summary",
    }


def test_guide_backup_single_channel():
    s = only_schedule(GUIDE / "backup.symbi")
    assert written(s.spec) == {
        "name": "backup",
        "agent_id": "backup-agent",
        "cron_expr": "0 3 * * *",
        "delivery": ["log_file"],
    }


def test_guide_security_scan_multiple_channels():
    s = only_schedule(GUIDE / "security_scan.symbi")
    assert written(s.spec) == {
        "name": "security-scan",
        "agent_id": "scanner",
        "cron_expr": "0 1 * * *",
        "delivery": ["log_file", "slack", "email"],
        "slack_channel": "#security",
        "email_recipients": ["ops@example.com", "security@example.com"],
    }


def test_guide_metrics_report_webhook_headers_keep_env_reference():
    s = only_schedule(GUIDE / "metrics_report.symbi")
    assert written(s.spec) == {
        "name": "metrics-report",
        "agent_id": "metrics-agent",
        "cron_expr": "*/30 * * * *",
        "delivery": ["webhook"],
        "webhook_url": "https://metrics.example.com/ingest",
        "webhook_headers": {"Authorization": "Bearer ${METRICS_API_KEY}", "Content-Type": "application/json"},
    }


def test_guide_production_deploy_policy():
    s = only_schedule(GUIDE / "production_deploy.symbi")
    assert written(s.spec) == {
        "name": "production-deploy",
        "agent_id": "deploy-agent",
        "cron_expr": "0 0 * * 0",
        "policy": {
            "require_approval": True,
            "max_runtime": 1800,
            "require_capabilities": ["deployment", "production_write"],
            "allowed_hours": {"start": "00:00", "end": "04:00"},
            "allowed_environments": ["staging", "production"],
            "require_agent_pin": True,
        },
    }


def test_guide_data_sync_max_concurrent():
    s = only_schedule(GUIDE / "data_sync.symbi")
    assert written(s.spec) == {
        "name": "data-sync",
        "agent_id": "sync-agent",
        "cron_expr": "*/5 * * * *",
        "max_concurrent": 2,
    }


def test_guide_flaky_job_max_retries():
    s = only_schedule(GUIDE / "flaky_job.symbi")
    assert written(s.spec) == {
        "name": "flaky-job",
        "agent_id": "unreliable-agent",
        "cron_expr": "0 * * * *",
        "max_retries": 3,
    }


def test_guide_secure_task_agent_pin():
    s = only_schedule(GUIDE / "secure_task.symbi")
    assert written(s.spec) == {
        "name": "secure-task",
        "agent_id": "trusted-agent",
        "cron_expr": "0 * * * *",
        "agent_pin_jwt": "${AGENT_PIN_JWT}",
        "policy": {"require_agent_pin": True},
    }


def test_guide_v09_migration_with_diff_markers_stripped():
    # The guide shows this example as a diff: the fixture is verbatim, the `+` markers are stripped here.
    raw = (GUIDE / "migration_v09.diff").read_text(encoding="utf-8")
    with pytest.raises(DslError) as err:
        parse(raw, file="migration_v09.diff")
    assert err.value.problems[0].line == 5
    text = re.sub(r"(?m)^\+ ?", "", raw)
    (s,) = parse(text).schedules
    assert written(s.spec) == {
        "name": "my-job",
        "agent_id": "my-agent",
        "cron_expr": "0 * * * *",
        "max_concurrent": 2,
        "agent_pin_jwt": "${AGENT_PIN_JWT}",
        "policy": {"require_agent_pin": True},
    }


# -- value forms -------------------------------------------------------------------------------------------
def test_value_forms_and_both_separators():
    doc = parse(
        'agent "ops.bot" {\n'
        '  command: "/bin/echo \\"hi\\"\\tthere\\\\ \\u00e9"  // trailing comment\n'
        '  capabilities: [\n    "a",\n    "b",\n  ]\n'
        '  env: { A: "1", "B-C": "${SECRET}" }\n'
        "}\n"
        'schedule { name: "x", agent: "ops.bot", cron: "5#3 is not here", }\n'.replace(
            '"5#3 is not here"', '"0 0 * * 5#3"'
        )
        + "schedule {\n"
        '  name: "y"\n  agent: "ops.bot"\n  cron: "@daily"  # comment after a value\n'
        "  max_retries: 0\n  one_shot: false\n  custom: { n: -3, f: 1.5, nested: { deep: [1, [2]] } }\n"
        '  webhook_headers {\n    "X-A": "1"\n    "X-B": "2"\n  }\n'
        "}\n"
    )
    agent = doc.agents[0].spec
    assert agent.command == '/bin/echo "hi"\tthere\\ é'
    assert agent.capabilities == ["a", "b"]
    assert agent.env == {"A": "1", "B-C": "${SECRET}"}
    x, y = doc.schedules
    assert x.spec.cron_expr == "0 0 * * 5#3"
    assert y.spec.max_retries == 0 and y.spec.one_shot is False
    assert y.spec.custom == {"n": -3, "f": 1.5, "nested": {"deep": [1, [2]]}}
    assert y.spec.webhook_headers == {"X-A": "1", "X-B": "2"}
    assert doc.summary() == "1 agent, 2 schedules"


def test_triple_quoted_string_is_dedented_and_raw():
    doc = parse(
        'agent m {\n  model: "claude"\n  system_prompt: """\n    line one\n      indented \\n kept\n'
        '    # not a comment\n    """\n}\n'
    )
    assert doc.agents[0].spec.system_prompt == "line one\n  indented \\n kept\n# not a comment"


def test_hash_inside_strings_is_text_and_env_is_not_expanded(monkeypatch):
    monkeypatch.setenv("TOKEN", "s3cret")
    doc = parse(
        'schedule { name: "#x", agent: "a", cron: "0 9 * * *", slack_channel: "#ops // x", agent_pin_jwt: "${TOKEN}" }'
    )
    spec = doc.schedules[0].spec
    assert spec.name == "#x" and spec.slack_channel == "#ops // x"
    assert spec.agent_pin_jwt == "${TOKEN}"


def test_accepted_keys_come_from_the_models():
    keys = dsl.accepted_keys()
    assert "agent" in keys["schedule"] and "cron" in keys["schedule"]
    assert "agent_id" not in keys["schedule"] and "cron_expr" not in keys["schedule"]
    assert "start" in keys["schedule.policy.allowed_hours"]
    assert "max_iterations" in keys["schedule.heartbeat"]
    assert "name" not in keys["agent"] and "command" in keys["agent"]


# -- errors ------------------------------------------------------------------------------------------------
def problems(text: str, **kw) -> list[dsl.Problem]:
    with pytest.raises(DslError) as err:
        parse(text, file="jobs.symbi", **kw)
    assert isinstance(err.value, InvalidInput)
    return err.value.problems


def test_misspelt_key_has_position_and_suggestion():
    (p,) = problems('schedule {\n  name: "n"\n  agent: "a"\n  cron: "0 9 * * *"\n  timezon: "UTC"\n}\n')
    assert (p.file, p.line, p.column) == ("jobs.symbi", 5, 3)
    assert "unknown key `timezon`" in p.message and p.hint == "did you mean `timezone`?"
    assert p.source_line == '  timezon: "UTC"'
    assert p.render().splitlines() == [
        "jobs.symbi:5:3: error: unknown key `timezon` in schedule block (did you mean `timezone`?)",
        '      timezon: "UTC"',
        "      ^",
    ]


def test_misspelt_nested_key_suggests_from_the_nested_model():
    (p,) = problems('schedule { name: "n", agent: "a", cron: "0 9 * * *"\n policy { max_runtim: "5m" } }')
    assert (p.line, p.column) == (2, 11) and p.hint == "did you mean `max_runtime`?"


def test_duplicate_key():
    (p,) = problems('schedule {\n name: "n"\n agent: "a"\n cron: "0 9 * * *"\n cron: "0 10 * * *"\n}')
    assert (p.line, p.column) == (5, 2) and "duplicate key `cron`" in p.message and "line 4" in p.message


def test_wrong_type_says_expected_and_found():
    (p,) = problems('schedule { name: "n", agent: "a", cron: "0 9 * * *", max_concurrent: "2" }')
    assert p.expected == "an integer" and p.found == 'string "2"'
    assert p.column == 70 and p.hint == "write 2 without quotes"


def test_missing_required_keys_point_at_the_block():
    ps = problems('\nschedule {\n  delivery: ["stdout"]\n}\n')
    msgs = [p.message for p in ps]
    assert all((p.line, p.column) == (2, 1) for p in ps)
    assert any("missing required key `name`" in m for m in msgs)
    assert any("missing required key `agent`" in m for m in msgs)
    assert any("needs `cron` or `at`" in m for m in msgs)


def test_agent_needs_command_or_model():
    (p,) = problems("agent a {\n  capabilities: []\n}\n")
    assert p.line == 1 and "needs a command" in p.message


def test_bad_cron_expression_and_zone_point_at_the_value():
    ps = problems('schedule {\n name: "n"\n agent: "a"\n cron: "0 25 * * *"\n timezone: "Europe/Madird"\n}')
    assert [(p.line, p.column) for p in ps] == [(4, 8), (5, 12)]
    assert "cron" in ps[0].message
    assert ps[1].hint == "did you mean `Europe/Madrid`?"


def test_unknown_agent_only_checked_against_a_registry():
    text = 'schedule { name: "n", agent: "reportr", cron: "0 9 * * *" }'
    parse(text)  # not checked without a registry
    (p,) = problems(text, known_agents=["reporter"])
    assert "neither defined in this file nor registered" in p.message and p.hint == "did you mean `reporter`?"
    parse(text, known_agents=["reportr"])


def test_syntax_errors_expected_found_and_recovery_collects_all():
    ps = problems(
        "schedule {\n"
        '  name = "n"\n'  # '=' instead of ':'
        '  agent: "a" "b"\n'  # two values
        "  cron: 0 9 * * *\n"  # unquoted
        '  delivery: ["stdout" "log_file"]\n'
        '  input: "never closed\n'
        "}\n"
    )
    assert [(p.line, p.column) for p in ps] == [(2, 8), (3, 14), (4, 11), (5, 23), (6, 10)]
    assert "expected ':'" in ps[0].message and "'='" in ps[0].message
    assert "expected a new line or ','" in ps[1].message
    assert "expected a new line or ','" in ps[2].message and "found number 9" in ps[2].message
    assert "expected ',' or ']'" in ps[3].message
    assert "unterminated string" in ps[4].message


def test_unclosed_block_and_stray_top_level():
    ps = problems('shedule {\n}\nschedule {\n  name: "n"\n')
    assert ps[0].hint == "did you mean `schedule`?" and ps[0].line == 1
    assert "expected '}'" in ps[-1].message and "line 3" in ps[-1].message


def test_schedule_names_twice_and_agents_twice():
    ps = problems(
        'agent a { command: "x" }\nagent a { command: "y" }\n'
        'schedule { name: "n", agent: "a", cron: "@daily" }\n'
        'schedule { name: "n", agent: "a", cron: "@hourly" }\n'
    )
    assert [p.line for p in ps] == [2, 4]


def test_error_message_names_first_problem_and_counts_the_rest():
    with pytest.raises(DslError) as err:
        parse('schedule {\n nam: "x"\n agent: "a"\n cron: "@daily"\n tz: "UTC"\n}\n', file="f.symbi")
    assert str(err.value).startswith("f.symbi:2:2: unknown key `nam` in schedule block (did you mean `name`?)")
    assert len(err.value.problems) == 2  # `name` is not reported missing: the misspelling is the problem
    assert "more" in str(err.value)
    assert err.value.to_dict()["details"]["problems"][0]["line"] == 2
    assert err.value.exit_code == 2


def test_too_deep_nesting_is_an_error_not_a_crash():
    (p, *_rest) = problems("schedule { custom: { x: " + "[" * 500 + "] } }")
    assert "nested more than" in p.message


def test_unreadable_files(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        dsl.parse_file(tmp_path / "missing.symbi")
    bad = tmp_path / "latin1.symbi"
    bad.write_bytes(b'schedule {\n name: "caf\xe9"\n}\n')
    with pytest.raises(DslError) as err:
        dsl.parse_file(bad)
    assert (err.value.problems[0].line, err.value.problems[0].column) == (2, 12)
