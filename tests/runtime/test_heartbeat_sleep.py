"""A heartbeat wake ends on `sleep` as people write it (issue 15, item 11): `sleep`, `Sleep.`, `'sleep'`,
`**sleep**`, `` `sleep` ``, or a last line whose last clause is one of them. Real command agents, run through
the real CLI (`symbi cron run`, in the foreground: no daemon)."""

from __future__ import annotations

import json
import shlex

import pytest

from symbi_cron.sleepword import is_sleep_line, strip_sleep_line


@pytest.mark.parametrize(
    "line, rest",
    [
        ("sleep", ""),
        ("Sleep.", ""),
        ("'sleep'", ""),
        ('"Sleep!"', ""),
        ("**sleep**", ""),
        ("`sleep`", ""),
        ("> _Sleep_", ""),
        ("- sleep", ""),
        ("SLEEP", ""),
        ("Nothing to do; sleep", "Nothing to do"),
        ("All checks pass. Sleep.", "All checks pass."),
        ("Disk at 40% — **sleep**", "Disk at 40%"),
    ],
)
def test_lines_that_end_the_wake(line: str, rest: str) -> None:
    assert is_sleep_line(line)
    assert strip_sleep_line(line) == rest


@pytest.mark.parametrize(
    "line", ["I will sleep", "time to sleep.", "sleeping", "sleep well", "sleep?", "asleep", "sleep 10", "no-sleep"]
)
def test_sentences_about_sleep_do_not(line: str) -> None:
    assert not is_sleep_line(line)
    assert strip_sleep_line(line) == line


def _heartbeat_job(d, name: str, last_line: str, *, max_iterations: int = 3) -> None:
    command = f"printf '%s\\n' 'checked the disks' {shlex.quote(last_line)}"
    d.symbi("agent", "add", name, "--command", command, "--shell", check=True)
    spec = {
        "name": name,
        "agent_id": name,
        "cron_expr": "0 0 1 1 *",
        "heartbeat": {"enabled": True, "max_iterations": max_iterations},
        "max_retries": 0,
    }
    d.symbi("cron", "add", "--json", json.dumps(spec), check=True)


@pytest.mark.parametrize("last_line", ["Sleep.", "'sleep'", "**sleep**", "`sleep`", "All good; sleep"])
def test_a_wake_ends_after_one_iteration(d, last_line: str) -> None:
    _heartbeat_job(d, "hb", last_line)
    ran = d.symbi("cron", "run", "hb")
    assert ran.returncode == 0, ran.stderr
    [run] = json.loads(d.symbi("cron", "history", "hb", "--format", "json", check=True).stdout)
    assert (run["status"], run["iterations"]) == ("succeeded", 1)
    assert "sleep" not in (run["summary"] or "").lower()  # the control word is not what the agent found
    assert run["summary"].startswith("checked the disks")


def test_a_sentence_about_sleep_keeps_the_wake_going_to_max_iterations(d) -> None:
    _heartbeat_job(d, "hb", "I could sleep", max_iterations=2)
    ran = d.symbi("cron", "run", "hb")
    assert ran.returncode == 1
    [run] = json.loads(d.symbi("cron", "history", "hb", "--format", "json", check=True).stdout)
    assert (run["status"], run["iterations"]) == ("failed", 2)
    assert "max_iterations (2)" in run["error_message"] and "sleep tool" in run["error_message"]
