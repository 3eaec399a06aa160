"""Shell completion: the scripts in completions/ match the command tree, and real shells complete commands,
options, choices and job/agent names read from a real store."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from symbi_cron.cli.completion import FILES, SHELLS, complete_agent, complete_job

REPO = Path(__file__).resolve().parents[2]


def _shell_env(home: Path, bindir: Path) -> dict[str, str]:
    """The environment of a real shell: this SYMBI_HOME, ``symbi`` from ``bindir`` first on PATH."""
    env = dict(os.environ)
    env["SYMBI_HOME"] = str(home)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.fixture
def jobs_home(home: Path, cli) -> Path:
    """A store with two jobs and one agent, made through the real CLI."""
    from symbi_cron.services import agents
    from symbi_cron.services.app import open_app

    cli(
        "cron",
        "add",
        "--json",
        '{"name": "daily-report", "agent_id": "reporter", "cron_expr": "0 9 * * *"}',
        ok=True,
    )
    cli(
        "cron",
        "add",
        "--json",
        '{"name": "db-backup", "agent_id": "reporter", "cron_expr": "0 3 * * *"}',
        ok=True,
    )
    app = open_app(notify=False)
    agents.add_agent(app, {"name": "reporter", "command": "echo hi"})
    app.store.close()
    return home


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_files_are_current(generated: dict[str, str], shell: str) -> None:
    path = FILES[shell]
    current = (REPO / path).read_text(encoding="utf-8") if (REPO / path).exists() else None
    assert current == generated[path], f"{path} is stale: run python scripts/gen_docs.py"


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_command_prints_the_generated_script(cli, generated: dict[str, str], shell: str) -> None:
    result = cli("completion", shell, ok=True)
    assert result.stdout == generated[FILES[shell]]


def test_completion_command_rejects_an_unknown_shell(cli) -> None:
    result = cli("completion", "tcsh")
    assert result.exit_code == 2
    assert "tcsh" in result.stderr


def _bash(script: str, env: dict[str, str]) -> list[str]:
    full = f"source {REPO / FILES['bash']}\n{script}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    out = subprocess.run(["bash", "-c", full], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


def test_bash_completes_job_names_from_the_store(jobs_home: Path, symbi_bin: Path) -> None:
    env = _shell_env(jobs_home, symbi_bin)
    assert _bash('COMP_WORDS=(symbi cron pause ""); COMP_CWORD=3; _symbi', env) == [
        "daily-report",
        "db-backup",
    ]
    # "dai", not "da": a hex prefix would also complete any job whose random id starts with it.
    assert _bash("COMP_WORDS=(symbi cron history --limit 3 dai); COMP_CWORD=5; _symbi", env) == ["daily-report"]


def test_bash_completes_an_id_prefix_to_the_whole_id(jobs_home: Path, symbi_bin: Path, cli) -> None:
    import json

    job_id = json.loads(cli("cron", "list", "--format", "json", ok=True).stdout)[0]["id"]
    env = _shell_env(jobs_home, symbi_bin)
    assert _bash(f"COMP_WORDS=(symbi cron status {job_id[:6]}); COMP_CWORD=3; _symbi", env) == [job_id]


def test_bash_completes_commands_options_and_choices_without_the_program(tmp_path: Path) -> None:
    # An empty PATH entry for symbi: these come from the script's own tables.
    env = _shell_env(tmp_path / "nowhere", tmp_path)
    assert "cron" in _bash('COMP_WORDS=(symbi ""); COMP_CWORD=1; _symbi', env)
    assert _bash("COMP_WORDS=(symbi cron li); COMP_CWORD=2; _symbi", env) == ["list"]
    assert "--format" in _bash("COMP_WORDS=(symbi cron list --); COMP_CWORD=3; _symbi", env)
    assert _bash('COMP_WORDS=(symbi cron list --format ""); COMP_CWORD=4; _symbi', env) == [
        "table",
        "json",
        "csv",
    ]
    # A value-taking option's value is skipped when finding the command path.
    assert _bash("COMP_WORDS=(symbi cron list --status x --format j); COMP_CWORD=6; _symbi", env) == ["json"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (apt-get install fish)")
def test_fish_completes_job_names_and_commands(jobs_home: Path, symbi_bin: Path) -> None:
    env = _shell_env(jobs_home, symbi_bin)

    def complete(line: str) -> list[str]:
        out = subprocess.run(
            ["fish", "--no-config", "-c", f"source {REPO / FILES['fish']}; complete -C'{line}'"],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        return [ln.split("\t")[0] for ln in out.stdout.splitlines()]

    assert complete("symbi cron pause ") == ["daily-report", "db-backup"]
    assert complete("symbi cron li") == ["list"]
    assert complete("symbi cron list --format ") == ["csv", "json", "table"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)")
def test_zsh_completes_job_names(jobs_home: Path, symbi_bin: Path) -> None:
    # Without a terminal zsh's completion widgets cannot run, so compadd/_describe are stand-ins that print what
    # the script hands them; the script's own walk and the call to the program are real.
    stubs = (
        "compdef() { :; }\n"
        'compadd() { [[ " $* " == *\' -a \'* ]] && print -rl -- "${(@P)${@[-1]}}"; }\n'
        '_describe() { local a=${@[-1]}; [[ $a == -U ]] && a=${@[-2]}; print -rl -- "${(@P)a}"; }\n'
    )
    env = _shell_env(jobs_home, symbi_bin)

    def complete(words: str, current: int) -> list[str]:
        script = f"{stubs}source {REPO / FILES['zsh']}\nwords=({words}); CURRENT={current}; _symbi\n"
        out = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, env=env, timeout=30)
        return [ln.split(":")[0] for ln in out.stdout.splitlines() if ln]

    assert complete('symbi cron pause ""', 4) == ["daily-report", "db-backup"]
    assert complete("symbi cron li", 3)[:1] == ["add"]  # _describe gets every subcommand; zsh filters by prefix
    assert complete('symbi cron list --format ""', 5) == ["table", "json", "csv"]


def test_complete_job_reads_names_and_id_prefixes(jobs_home: Path) -> None:
    import sqlite3

    names = [i.value for i in complete_job(None, None, "")]  # type: ignore[arg-type]
    assert names == ["daily-report", "db-backup"]
    ids = [r[0] for r in sqlite3.connect(jobs_home / "symbi.db").execute("SELECT id FROM jobs ORDER BY name")]
    # "db" is a name prefix and a hex id prefix: the job named db-backup, plus any job whose random id starts so.
    expected = ["db-backup"] + [i for i in ids if i.startswith("db")]
    assert [i.value for i in complete_job(None, None, "db")] == expected  # type: ignore[arg-type]
    assert [i.value for i in complete_job(None, None, ids[0][:6])] == [ids[0]]  # type: ignore[arg-type]


def test_complete_agent_reads_the_registry(jobs_home: Path) -> None:
    assert [i.value for i in complete_agent(None, None, "re")] == ["reporter"]  # type: ignore[arg-type]
    assert complete_agent(None, None, "zz") == []  # type: ignore[arg-type]


def test_completion_without_a_store_creates_nothing(home: Path) -> None:
    assert complete_job(None, None, "") == []  # type: ignore[arg-type]
    assert not home.exists() or not (home / "symbi.db").exists()


def test_value_completion_never_touches_a_postgresql_store(home, monkeypatch):
    """With a shared store configured, Tab must not open network connections: it completes nothing."""
    from symbi_cron.cli.completers import complete_job

    monkeypatch.setenv("SYMBI_STORE_URL", "postgresql://nobody@127.0.0.1:9/none")
    assert complete_job(None, None, "") == []  # type: ignore[arg-type]


def test_value_completion_survives_a_broken_config(home):
    from symbi_cron.cli.completers import complete_job

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[store\n")
    assert complete_job(None, None, "") == []  # type: ignore[arg-type]
