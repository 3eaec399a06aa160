"""The command line as shells and scripts use it (SPEC §11, §4, §3): edge cases found in review, each with the
user's symptom it guards against."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BIG = str(10**20)


def _job(cli, name: str, **fields) -> str:
    spec = {"name": name, "agent_id": "echoer", "cron_expr": "0 9 * * *", **fields}
    return cli("cron", "add", "--json", json.dumps(spec), ok=True).stdout.strip()


@pytest.fixture
def echoer(cli):
    cli("agent", "add", "echoer", "--command", "echo hello", ok=True)


# -- the job's log file ------------------------------------------------------------------------------------------
def test_jobs_whose_names_differ_only_in_punctuation_keep_separate_log_files(cli, home, echoer):
    # "a/b" used to become logs/jobs/a_b.log, the file of the job named "a_b": one job's log held the other's runs.
    for name in ("a/b", "a_b", "a b"):
        _job(cli, name, delivery=["log_file"])
        cli("cron", "run", name, "--wait", ok=True)
    files = sorted((home / "logs" / "jobs").iterdir())
    assert len(files) == 3
    assert (home / "logs" / "jobs" / "a_b.log") in files  # a plain name keeps its plain file name
    for f in files:
        assert f.read_text().count("=== ") == 1  # one run each


def test_a_long_unicode_job_name_still_gets_its_log_file(cli, home, echoer):
    # 200 characters of "é" are 400 bytes: over the 255-byte file-name limit, so log_file delivery failed.
    name = "é" * 200
    _job(cli, name, delivery=["log_file"])
    cli("cron", "run", name, "--wait", ok=True)
    run = json.loads(cli("cron", "history", name, "--format", "json", ok=True).stdout)[0]
    assert [(d["channel"], d["ok"]) for d in run["deliveries"]] == [("log_file", True)], run["deliveries"]
    [log] = (home / "logs" / "jobs").iterdir()
    assert len(log.name.encode()) < 255 and "hello" in log.read_text()


# -- numbers -----------------------------------------------------------------------------------------------------
def test_a_huge_count_means_all_instead_of_an_internal_error(cli, echoer):
    _job(cli, "j")
    cli("cron", "run", "j", "--wait", ok=True)
    for args in (
        ("cron", "history", "j", "--limit", BIG),
        ("cron", "status", "j", "--history", BIG),
        ("audit", "query", "--limit", BIG),
    ):
        r = cli(*args, "--format", "json")
        assert r.exit_code == 0, (args, r.stderr)
        assert json.loads(r.stdout)


# -- usage errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, words",
    [
        (("cron", "list", "--bogus"), "--bogus"),
        (("cron", "status"), "JOB"),
        (("cron", "history", "x", "--limit", "0"), "--limit"),
        (("cron", "list", "--format", "yaml"), "--format"),
        (("cron", "history", "x", "--limit", "ten"), "--limit"),
    ],
)
def test_a_usage_mistake_is_one_error_line_with_exit_2(cli, args, words):
    r = cli(*args)
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr
    assert "--help" in lines[0]


def test_a_group_alone_still_shows_its_help(cli):
    r = cli("cron")
    assert r.exit_code == 2 and "Commands:" in r.stderr + r.stdout


# -- pipes -------------------------------------------------------------------------------------------------------
def test_a_reader_that_stops_early_is_not_an_error(app, home):
    # `symbi cron list --format json | head -1` under `set -o pipefail`: click turned EPIPE into exit 1.
    from symbi_cron.services import jobs

    for i in range(150):  # ~250 kB of JSON: more than a pipe holds, so the writer meets the closed pipe
        jobs.create_job(app, {"name": f"bulk-{i}", "agent_id": "echoer", "cron_expr": "@hourly"})
    for fmt in ("json", "csv", "table"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "symbi_cron", "cron", "list", "--format", fmt],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == 0, (fmt, err)
        # Nothing but the note that no daemon runs (tests/cli/test_no_daemon_warning.py): no EPIPE traceback.
        assert [line for line in err.splitlines() if not line.startswith(b"warning: no daemon")] == [], (fmt, err)


# -- files -------------------------------------------------------------------------------------------------------
def test_a_crontab_macro_followed_by_a_tab_is_imported(cli, tmp_path):
    tab = tmp_path / "tab"
    tab.write_text("@daily\techo daily   \t\n0\t3 * *\t1-5\techo weekday\n")
    r = cli("cron", "import", "--crontab", str(tab), "--dry-run", "--format", "json", ok=True)
    out = json.loads(r.stdout)
    assert out["skipped"] == []
    assert [j["cron_expr"] for j in out["jobs"]] == ["@daily", "0 3 * * 1-5"]
    assert [a["command"] for a in out["agents"]] == ["echo daily", "echo weekday"]


def test_a_crontab_with_a_byte_order_mark_and_crlf_imports_its_first_line(cli, tmp_path):
    tab = tmp_path / "tab"
    tab.write_bytes(b"\xef\xbb\xbf0 * * * * echo hi\r\n")
    for source, stdin in ((str(tab), None), ("-", tab.read_bytes().decode("utf-8"))):
        r = cli("cron", "import", "--crontab", source, "--dry-run", "--format", "json", input=stdin, ok=True)
        out = json.loads(r.stdout)
        assert out["skipped"] == [] and [j["cron_expr"] for j in out["jobs"]] == ["0 * * * *"], out


def test_json_on_stdin_with_a_byte_order_mark_is_read(cli):
    spec = json.dumps({"name": "bom", "agent_id": "echoer", "cron_expr": "@daily"})
    cli("cron", "add", "--json", "-", input="\ufeff" + spec, ok=True)


def test_an_empty_file_name_is_named_as_such(cli):
    for args in (("cron", "validate", "--file", ""), ("cron", "import", "--crontab", "")):
        r = cli(*args)
        assert r.exit_code == 2 and "no file name given" in r.stderr and "directory" not in r.stderr


def test_add_from_a_file_suggests_the_agent_meant(cli, tmp_path):
    f = tmp_path / "jobs.symbi"
    f.write_text(
        'agent reporter { command: "echo r" }\n'
        'schedule {\n  name: "daily"\n  agent: "reportr"\n  cron: "0 9 * * *"\n}\n'
    )
    r = cli("cron", "add", "--file", str(f), "--schedule", "daily")
    assert r.exit_code == 2 and "jobs.symbi:4:10:" in r.stderr and "did you mean `reporter`?" in r.stderr


# -- symbi cron update -------------------------------------------------------------------------------------------
def test_update_changes_only_the_given_fields_and_keeps_the_state(cli, echoer):
    job_id = _job(cli, "nightly", delivery=["log_file", "stdout"], input="hi")
    cli("cron", "pause", "nightly", ok=True)
    r = cli("cron", "update", "nightly", "--cron", "*/30 * * * *", "--format", "json", ok=True)
    job = json.loads(r.stdout)
    assert job["id"] == job_id and job["cron_expr"] == "*/30 * * * *"
    assert job["status"] == "paused" and job["delivery"] == ["log_file", "stdout"] and job["input"] == "hi"
    r = cli("cron", "update", job_id[:8], "--json", '{"input": "new"}', ok=True)
    assert r.stdout.startswith("updated nightly (") and "paused" in r.stdout
    resumed = json.loads(cli("cron", "resume", "nightly", "--format", "json", ok=True).stdout)
    assert resumed["input"] == "new" and resumed["next_run"].endswith(("00:00+00:00", "30:00+00:00"))
    events = json.loads(cli("audit", "query", "--type", "CronJobUpdated", "--format", "json", ok=True).stdout)
    assert len(events) == 2


@pytest.mark.parametrize(
    "args, code",
    [
        ((), 2),  # nothing to change
        (("--json", '{"status": "active"}'), 2),  # kept by the scheduler
        (("--json", '{"cron_expr": "61 * * * *"}'), 2),  # bad expression, named
        (("--json", "[1]"), 2),
        (("--json", '{"nam": "x"}'), 2),  # unknown field
        (("--json", '{"name": "other"}'), 4),  # taken
    ],
)
def test_update_refuses_bad_changes_with_the_documented_codes(cli, echoer, args, code):
    _job(cli, "one")
    _job(cli, "other")
    r = cli("cron", "update", "one", *args)
    assert r.exit_code == code and r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1, r.stderr
    assert cli("cron", "update", "nosuch", "--cron", "@daily").exit_code == 3


# -- agents ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command, words", [("", "empty"), ("   ", "empty"), ('echo "x', "No closing quotation")])
def test_an_agent_that_could_never_run_is_refused_when_registered(cli, tmp_path, command, words):
    # It was registered, and every run of every job using it failed hours later.
    r = cli("agent", "add", "broken", "--command", command)
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and words in r.stderr, r.stderr
    assert cli("agent", "show", "broken").exit_code == 3
    f = tmp_path / "a.symbi"
    f.write_text(f"agent broken {{\n  command: {json.dumps(command)}\n}}\n")
    v = cli("cron", "validate", "--file", str(f))
    assert v.exit_code == 1 and words in v.stderr
    # A shell command is the shell's to parse.
    cli("agent", "add", "shelly", "--shell", "--command", 'echo "x', ok=True)


# -- cron run --format json --------------------------------------------------------------------------------------
def test_cron_run_with_format_json_prints_only_the_run_on_stdout(d):
    # `symbi cron run J --wait --format json | jq` got the agent's streamed output (and the stdout channel's)
    # ahead of the JSON object.
    d.add_agent("a", "echo")
    d.add_job("j", "a", delivery=["stdout", "log_file"], input="the output")
    for args in ((), ("--wait",)):
        proc = d.symbi("cron", "run", "j", *args, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        run = json.loads(proc.stdout)
        assert run["status"] == "succeeded" and run["output"] == "the output"
        assert "the output" in proc.stderr  # still shown to the person at the terminal
    d.start()
    proc = d.symbi("cron", "run", "j", "--wait", "--format", "json", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == "the output" and "the output" in proc.stderr


# -- .symbi files saved on Windows ----------------------------------------------------------------------------------
def test_a_symbi_file_with_crlf_tabs_and_a_bom_gives_the_same_jobs(cli, tmp_path):
    # A multi-line system prompt kept its carriage returns ("line one\r\nline two\r").
    text = (
        'agent m {\n\tmodel: "claude-x"\n\tsystem_prompt: """\n\t\tline one\n\t\tline two\n\t\t"""\n}\n'
        'schedule {\n\tname: "s",  agent: "m",\n\tcron: "0 9 * * *"   \t\n\tinput: "a\\tb"\n}\n'
    )
    f = tmp_path / "win.symbi"
    f.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    cli("cron", "validate", "--file", str(f), ok=True)
    out = json.loads(cli("cron", "add", "--file", str(f), "--all", "--format", "json", ok=True).stdout)
    assert out["agents"][0]["system_prompt"] == "line one\nline two"
    assert out["jobs"][0]["input"] == "a\tb" and out["jobs"][0]["cron_expr"] == "0 9 * * *"


def test_a_job_name_with_blanks_around_it_finds_the_job_it_created(cli, echoer):
    # The name is stored trimmed, so `cron status "  padded  "` (as added) said "no job".
    job_id = _job(cli, "  padded  ")
    for args in (("cron", "status", "  padded  "), ("cron", "pause", "padded "), ("cron", "resume", " padded")):
        r = cli(*args, "--format", "json", ok=True)
        assert json.loads(r.stdout)["id"] == job_id
    assert cli("cron", "status", "   ").exit_code == 2
    cli("cron", "remove", "--name", " padded ", "--force", ok=True)
