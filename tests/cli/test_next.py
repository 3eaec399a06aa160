"""``symbi cron next`` through the real CLI: in-process (click CliRunner) and as a subprocess (SPEC §3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from symbi_cron.cli import cli, main
from symbi_cron.errors import CronError


@pytest.fixture
def symbi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private SYMBI_HOME; no default zone from the environment unless a test sets one."""
    home = tmp_path / "home"
    monkeypatch.setenv("SYMBI_HOME", str(home))
    for var in ("SYMBI_DEFAULT_TIMEZONE", "SYMBI_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    return home


def run(*args: str) -> Result:
    """The click group in-process; errors propagate as exceptions (catch_exceptions=False)."""
    result = CliRunner().invoke(cli, ["cron", "next", *args], catch_exceptions=False)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """symbi_cron.cli.main in-process: errors rendered and mapped to exit codes exactly as for users."""
    with pytest.raises(SystemExit) as info:
        main(["cron", "next", *args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_json_exact_for_fixed_from(symbi_home: Path) -> None:
    result = run(
        "0 9 * * 1-5",
        "--tz",
        "America/New_York",
        "--from",
        "2026-03-06T10:00:00-05:00",
        "--count",
        "3",
        "--format",
        "json",
    )
    assert json.loads(result.stdout) == [
        "2026-03-09T09:00:00-04:00",
        "2026-03-10T09:00:00-04:00",
        "2026-03-11T09:00:00-04:00",
    ]


def test_json_spring_gap_runs_after_jump(symbi_home: Path) -> None:
    result = run(
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--from",
        "2026-03-07T12:00:00Z",
        "--count",
        "2",
        "--format",
        "json",
    )
    assert json.loads(result.stdout) == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]


def test_naive_from_is_read_in_tz(symbi_home: Path) -> None:
    result = run("0 12 * * *", "--tz", "Asia/Tokyo", "--from", "2026-06-01T11:59", "--count", "1", "--format", "json")
    assert json.loads(result.stdout) == ["2026-06-01T12:00:00+09:00"]


def test_unquoted_fields_are_joined(symbi_home: Path) -> None:
    result = run(
        "0",
        "9",
        "*",
        "*",
        "mon-fri",
        "--tz",
        "UTC",
        "--from",
        "2026-01-01T00:00Z",
        "--count",
        "1",
        "--format",
        "json",
    )
    assert json.loads(result.stdout) == ["2026-01-01T09:00:00+00:00"]


def test_table_explains_expression_zone_and_times(symbi_home: Path) -> None:
    result = run("*/30 * * * *", "--tz", "America/New_York", "--from", "2026-11-01T00:45:00-04:00", "--count", "4")
    lines = result.stdout.splitlines()
    assert lines[0] == "Every 30 minutes"
    assert lines[1] == "Time zone: America/New_York"
    assert "Local time" in lines[2] and "UTC" in lines[2]
    rows = [line.split(None, 1)[1] for line in lines[4:]]
    assert rows == [
        "2026-11-01 01:00 -04:00 EDT  2026-11-01 05:00 UTC",
        "2026-11-01 01:30 -04:00 EDT  2026-11-01 05:30 UTC",
        "2026-11-01 01:00 -05:00 EST  2026-11-01 06:00 UTC",
        "2026-11-01 01:30 -05:00 EST  2026-11-01 06:30 UTC",
    ]


def test_default_zone_comes_from_config(symbi_home: Path) -> None:
    symbi_home.mkdir(parents=True)
    (symbi_home / "config.toml").write_text('[scheduler]\ndefault_timezone = "Europe/Madrid"\n')
    result = run("0 9 * * *", "--from", "2026-01-01T00:00:00Z", "--count", "1")
    assert "Time zone: Europe/Madrid" in result.stdout
    assert "2026-01-01 09:00 +01:00 CET  2026-01-01 08:00 UTC" in result.stdout


def test_settings_are_not_read_when_tz_is_given(symbi_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    symbi_home.mkdir(parents=True)
    (symbi_home / "config.toml").write_text("[scheduler]\nno_such_key = 1\n")
    assert run("@daily", "--tz", "UTC", "--from", "2026-01-01T00:00Z", "--count", "1", "--format", "json")
    code, _, err = run_main(capsys, "@daily", "--from", "2026-01-01T00:00Z")
    assert code == 2 and "no_such_key" in err


def test_default_from_is_now(symbi_home: Path) -> None:
    before = datetime.now(timezone.utc)
    result = run("* * * * *", "--tz", "UTC", "--count", "2", "--format", "json")
    after = datetime.now(timezone.utc)  # the command's "now" lies in between: a minute may turn meanwhile
    first, second = (datetime.fromisoformat(s) for s in json.loads(result.stdout))
    assert before < first <= after + timedelta(minutes=1)
    assert second - first == timedelta(minutes=1)


def test_bad_expression_raises_cron_error_in_process(symbi_home: Path) -> None:
    with pytest.raises(CronError, match="hour: 24 is out of range 0-23"):
        CliRunner().invoke(cli, ["cron", "next", "0 24 * * *", "--tz", "UTC"], catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["0 24 * * *", "--tz", "UTC"], "error: hour: 24 is out of range 0-23", id="bad_hour"),
        pytest.param(["* * * * fry", "--tz", "UTC"], 'error: day of week: unknown name "fry"', id="bad_name"),
        pytest.param(["0 0 30 2 *", "--tz", "UTC"], "error: day of month: 30 never occurs in Feb", id="never"),
        pytest.param(["* * * *", "--tz", "UTC"], "found 4", id="four_fields"),
        pytest.param(["@reboot", "--tz", "UTC"], "@reboot is not supported", id="reboot"),
        pytest.param(
            ["* * * * *", "--tz", "UTC", "--count", "0"],
            "error: --count: must be between 1 and 1000",
            id="count_zero",
        ),
        pytest.param(
            ["* * * * *", "--tz", "UTC", "--count", "1001"],
            "error: --count: must be between 1 and 1000",
            id="count_too_big",
        ),
        pytest.param(
            ["* * * * *", "--tz", "Mars/Olympus"],
            "error: --tz: unknown time zone 'Mars/Olympus'",
            id="unknown_zone",
        ),
        pytest.param(
            ["* * * * *", "--tz", "UTC", "--from", "soon"],
            "error: --from: 'soon' is not an ISO 8601",
            id="bad_from",
        ),
    ],
)
def test_bad_input_exit_2_one_line(
    symbi_home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run_main(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _subprocess(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SYMBI_DEFAULT_TIMEZONE", "SYMBI_DEBUG")}
    env["SYMBI_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "symbi_cron", "cron", "next", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_real_subprocess(symbi_home: Path) -> None:
    ok = _subprocess(
        symbi_home,
        "30 1 * * *",
        "--tz",
        "America/New_York",
        "--from",
        "2026-10-31T12:00:00-04:00",
        "--count",
        "2",
        "--format",
        "json",
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]

    bad = _subprocess(symbi_home, "0 0 * * 8", "--tz", "UTC")
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr == "error: day of week: 8 is out of range 0-7\n"
