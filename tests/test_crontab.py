"""Crontab parsing, conversion to agent + job specs, and export (pure functions, no store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbi_cron import crontab

FIX = Path(__file__).parent / "fixtures" / "crontab"


def test_user_crontab_environment_applies_to_the_lines_after_it():
    tab = crontab.parse_crontab((FIX / "user.crontab").read_text())
    assert tab.skipped == []
    a, b, c = tab.entries
    assert (a.line, a.schedule, a.timezone) == (6, "0 3 * * *", "Europe/Madrid")
    assert a.command == "/usr/local/bin/backup.sh --full >> /var/log/backup.log 2>&1"
    assert a.env == {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # MAILTO is cron's own setting, not the command's
    assert a.mailto == [] and a.mailto_line is not None  # MAILTO="": no mail
    assert (b.schedule, b.timezone) == ("@daily", "Europe/Madrid")
    # CRON_TZ= cleared: TZ now decides the schedule's zone, and the command sees TZ too.
    assert (c.schedule, c.timezone) == ("*/15 9-17 * * mon-fri", "America/New_York")
    assert c.env["TZ"] == "America/New_York"


@pytest.mark.parametrize(
    "line, reason",
    [
        ("@reboot /usr/bin/startup", "@reboot"),
        ("5 4 * * * echo hi % there", "`%` in the command"),
        ("0 0 31 2 * /bin/x", "never"),
        ("61 * * * * /bin/x", "bad schedule"),
        ("* * * * *", "five time fields and a command"),
        ("@fortnightly /bin/x", "unknown macro"),
        ("CRON_TZ=Mars/Base\n0 * * * * /bin/x", "not a known"),
    ],
    ids=["reboot", "percent", "never-fires", "out-of-range", "no-command", "bad-macro", "bad-zone"],
)
def test_lines_that_cannot_be_converted_say_why(line, reason):
    tab = crontab.parse_crontab(line + "\n")
    assert tab.entries == []
    assert tab.skipped and reason in tab.skipped[-1].reason
    assert tab.skipped[-1].line == line.count("\n") + 1


def test_escaped_percent_is_a_literal_percent():
    (e,) = crontab.parse_crontab('0 0 * * * date "+\\%Y"\n').entries
    assert e.command == 'date "+%Y"'


def test_quoted_env_values_and_comments():
    tab = crontab.parse_crontab('  # comment\nGREETING = "hello world"\n\n@hourly   /bin/echo\n')
    assert tab.entries[0].env == {"GREETING": "hello world"} and tab.entries[0].schedule == "@hourly"


def test_literal_secret_in_the_environment_is_warned_about():
    tab = crontab.parse_crontab("API_TOKEN=abc\nDB_PASSWORD=${DB_PASSWORD}\n@daily /bin/x\n")
    assert len(tab.warnings) == 1 and "API_TOKEN" in tab.warnings[0]


@pytest.mark.parametrize(
    "command, name",
    [
        ("/usr/local/bin/backup.sh --full", "backup-sh"),
        ("cd /srv/app && ./sync.py", "sync-py"),
        ("FOO=1 nice -n 10 /opt/bin/Report_Gen arg", "report-gen"),
        ("timeout 60 flock /tmp/l python3 -m x", "python3"),
        ("'unbalanced", "unbalanced"),
        ("&&", "job"),
    ],
)
def test_names_are_read_from_the_command(command, name):
    assert crontab.slug(command) == name


def test_specs_dedupe_names_and_use_the_crontab_shell():
    tab = crontab.parse_crontab(
        "@daily /bin/backup.sh\n@hourly /bin/backup.sh\nSHELL=/bin/bash\n@weekly /bin/backup.sh\n"
    )
    items = crontab.to_specs(tab, prefix="ct-", taken=["ct-backup-sh"])
    assert [i["job"]["name"] for i in items] == ["ct-backup-sh-2", "ct-backup-sh-3", "ct-backup-sh-4"]
    assert items[0]["agent"]["shell"] is True and items[0]["agent"]["command"] == "/bin/backup.sh"
    assert items[2]["agent"] == {
        "name": "ct-backup-sh-4",
        "command": "/bin/bash -c /bin/backup.sh",
        "shell": False,
        "env": {},
        "description": "imported from crontab line 4",
    }
    assert items[0]["job"]["catchup"] == "skip"


def job(name, **kw):
    base = {
        "name": name,
        "agent_id": name,
        "cron_expr": "0 3 * * *",
        "timezone": "UTC",
        "status": "active",
        "delivery": ["log_file"],
        "policy": {},
        "heartbeat": {"enabled": False},
    }
    base.update(kw)
    return base


def test_export_groups_by_zone_and_explains_what_is_left_out():
    agents = {
        "a": {"name": "a", "command": "/bin/echo 100%", "shell": True, "env": {"T": "${TOKEN}"}},
        "b": {"name": "b", "command": "/bin/echo 'two words'", "shell": False, "workdir": "/srv"},
        "m": {"name": "m", "model": "claude", "system_prompt": "x"},
        "l": {"name": "l", "command": "/bin/x"},
        "p": {"name": "p", "command": "/bin/p"},
    }
    text = crontab.export_crontab(
        [
            job("a", timezone="Europe/Madrid", delivery=["slack"]),
            job("b", status="paused"),
            job("m"),
            job("l", cron_expr="0 0 L * *"),
            job("p", cron_expr=None, at="2030-01-01T00:00:00+00:00"),
            job("ghost"),
        ],
        agents,
    )
    lines = text.splitlines()
    madrid = lines.index("CRON_TZ=Europe/Madrid")
    utc = lines.index("CRON_TZ=UTC")
    assert lines[madrid + 1 : madrid + 4] == [
        "# job a (agent a)",
        "# not carried over: delivery slack",
        "0 3 * * * T=\"${TOKEN}\" sh -c '/bin/echo 100\\%'",
    ]
    assert lines[utc + 2] == "# (paused) 0 3 * * * cd /srv && /bin/echo 'two words'"
    assert "# ghost: left out: agent 'ghost' is not registered" in lines
    assert "# l: left out: uses 'L' (L/W), which crontab does not support" in lines
    assert "# m: left out: agent 'm' is a model agent, not a command" in lines
    assert "# p: left out: a one-shot (at) job" in lines


def test_export_then_import_round_trips_the_schedule():
    agents = {"nightly": {"name": "nightly", "command": "/usr/bin/backup --all", "shell": False}}
    text = crontab.export_crontab([job("nightly", cron_expr="30 2 * * 1-5", timezone="Asia/Tokyo")], agents)
    (e,) = crontab.parse_crontab(text).entries
    assert (e.schedule, e.timezone, e.command) == ("30 2 * * 1-5", "Asia/Tokyo", "/usr/bin/backup --all")
    assert (e.name, e.agent_name) == ("nightly", "nightly")  # the names come back too
