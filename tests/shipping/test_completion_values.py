"""Completion of values (issue 15, item 6): file paths for `validate --file`, `import --crontab` and `apply FILE`
(the shell's own, no program run), fixed values (`--status`, `audit query --type`), and values the program
knows (`--tz` zones, `test-delivery --channel` with config's custom channels), in bash, zsh and fish; and
through an alias or a function standing for the command (the zipapp's case: tests/shipping/test_zipapp.py
completes through an alias to the real zipapp in tmux)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from symbi_cron.cli.completion import FILES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, home: Path, cli) -> Path:
    """A directory with files to complete, and a store with a job; config defines a custom channel."""
    cli("cron", "add", "--json", '{"name": "daily-report", "agent_id": "reporter", "cron_expr": "0 9 * * *"}', ok=True)
    (home / "config.toml").write_text('[custom_channels]\npager = "/usr/local/bin/page-oncall"\n')
    d = tmp_path / "work"
    (d / "conf.d").mkdir(parents=True)
    for name in ("jobs.symbi", "jobs-old.symbi", "my.crontab"):
        (d / name).write_text("")
    return d


def _env(home: Path, bindir: Path | None) -> dict[str, str]:
    env = dict(os.environ, SYMBI_HOME=str(home), PYTHONPATH=str(REPO))
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}" if bindir else "/usr/bin:/bin"
    return env


def bash(words: str, cword: int, env: dict[str, str], cwd: Path, prelude: str = "") -> list[str]:
    script = (
        f"{prelude}\nsource {REPO / FILES['bash']}\nCOMP_WORDS=({words}); COMP_CWORD={cword}; _symbi\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=cwd, timeout=30)
    assert out.returncode == 0, out.stderr
    return sorted(line for line in out.stdout.splitlines() if line)


def test_bash_completes_file_paths_without_the_program(workdir: Path, home: Path) -> None:
    env = _env(home, None)  # no symbi on PATH: these must not need it
    assert bash("symbi cron validate --file jo", 4, env, workdir) == ["jobs-old.symbi", "jobs.symbi"]
    assert bash("symbi cron import --crontab my", 4, env, workdir) == ["my.crontab"]
    assert bash("symbi cron apply j", 3, env, workdir) == ["jobs-old.symbi", "jobs.symbi"]
    assert bash("symbi cron apply --prune conf", 4, env, workdir) == ["conf.d"]
    assert bash("symbi agent add x --workdir c", 5, env, workdir) == ["conf.d"]  # directories only


def test_bash_completes_fixed_values_without_the_program(workdir: Path, home: Path) -> None:
    env = _env(home, None)
    assert bash('symbi cron list --status ""', 4, env, workdir) == sorted(
        ["active", "paused", "completed", "failed", "dead_letter"]
    )
    assert bash("symbi cron history daily-report --status f", 5, env, workdir) == ["failed"]
    assert bash("symbi audit query --type CronJobF", 4, env, workdir) == ["CronJobFailed"]


def test_bash_completes_zones_and_channels_from_the_program(workdir: Path, home: Path, symbi_bin: Path) -> None:
    env = _env(home, symbi_bin)
    zones = bash("symbi cron next '0 9 * * *' --tz Europe/Mad", 5, env, workdir)
    assert zones == ["Europe/Madrid"]
    assert bash("symbi cron test-delivery daily-report --channel cu", 5, env, workdir) == ["custom:pager"]
    assert "slack" in bash('symbi cron test-delivery daily-report --channel ""', 5, env, workdir)


def test_bash_asks_the_program_behind_an_alias_or_a_function(workdir: Path, home: Path, tmp_path: Path) -> None:
    # Not on PATH: a one-file program reached only through the alias (python3 ~/symbi.pyz, in the README).
    pyz = tmp_path / "apps" / "symbi.pyz"
    pyz.parent.mkdir()
    pyz.write_text("import sys\nfrom symbi_cron.cli import main\nsys.exit(main())\n")
    env = _env(home, None)
    alias = f"shopt -s expand_aliases; alias symbi='{sys.executable} {pyz}'"
    assert bash('symbi cron pause ""', 3, env, workdir, prelude=alias) == ["daily-report"]
    function = f'symbi() {{ "{sys.executable}" "{pyz}" "$@"; }}'
    assert bash('symbi cron pause ""', 3, env, workdir, prelude=function) == ["daily-report"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)")
def test_zsh_completes_paths_values_and_through_an_alias(workdir: Path, home: Path, tmp_path: Path) -> None:
    # Without a terminal zsh's completion widgets cannot run: compadd, _describe and _path_files are stand-ins
    # printing what the script hands them; the script's walk and its call to the program are real.
    stubs = (
        "compdef() { :; }\n"
        'compadd() { [[ " $* " == *\' -a \'* ]] && print -rl -- "${(@P)${@[-1]}}"; }\n'
        '_describe() { local a=${@[-1]}; [[ $a == -U ]] && a=${@[-2]}; print -rl -- "${(@P)a}"; }\n'
        '_path_files() { print -r -- "path_files $*"; }\n'
    )
    pyz = tmp_path / "apps" / "symbi.pyz"
    pyz.parent.mkdir()
    pyz.write_text(f"#!{sys.executable}\nimport sys\nfrom symbi_cron.cli import main\nsys.exit(main())\n")
    pyz.chmod(0o755)
    env = _env(home, None)

    def complete(words: str, current: int, prelude: str = "") -> list[str]:
        script = f"{stubs}{prelude}\nsource {REPO / FILES['zsh']}\nwords=({words}); CURRENT={current}; _symbi\n"
        out = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, env=env, timeout=30)
        return [ln.split(":")[0] for ln in out.stdout.splitlines() if ln]

    assert complete("symbi cron validate --file jo", 5) == ["path_files -f"]
    assert complete("symbi agent add x --workdir c", 6) == ["path_files -/"]
    assert complete('symbi cron list --status ""', 5)[:2] == ["active", "paused"]
    assert complete("symbi audit query --type CronJobF", 5) == list(_event_types())
    # Through an alias (complete_aliases) and as zsh hands it over for `python3 ~/symbi.pyz` (the path as typed).
    alias = f"setopt complete_aliases; alias symbi='{sys.executable} {pyz}'"
    assert complete('symbi cron pause ""', 4, alias) == ["daily-report"]
    home_relative = "~/" + os.path.relpath(pyz, Path.home()) if str(pyz).startswith(str(Path.home())) else str(pyz)
    assert complete(f'{home_relative} cron pause ""', 4) == ["daily-report"]


def _event_types() -> tuple[str, ...]:
    from symbi_cron.vocab import EVENT_TYPES

    return EVENT_TYPES


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (apt-get install fish)")
def test_fish_completes_paths_values_and_through_an_alias(workdir: Path, home: Path, tmp_path: Path) -> None:
    pyz = tmp_path / "apps" / "symbi.pyz"
    pyz.parent.mkdir()
    pyz.write_text("import sys\nfrom symbi_cron.cli import main\nsys.exit(main())\n")
    env = _env(home, None)

    def complete(line: str, prelude: str = "") -> list[str]:
        out = subprocess.run(
            ["fish", "--no-config", "-c", f"{prelude}; source {REPO / FILES['fish']}; complete -C'{line}'"],
            capture_output=True,
            text=True,
            env=env,
            cwd=workdir,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        return sorted(ln.split("\t")[0] for ln in out.stdout.splitlines())

    assert complete("symbi cron validate --file jo") == ["jobs-old.symbi", "jobs.symbi"]
    assert complete("symbi cron import --crontab my") == ["my.crontab"]
    assert complete("symbi cron list --status d") == ["dead_letter"]
    alias = f"alias symbi '{sys.executable} {pyz}'"
    assert complete("symbi cron pause ", alias) == ["daily-report"]
    assert complete("symbi cron next 0 --tz Europe/Mad", alias) == ["Europe/Madrid"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_an_interactive_bash_completes_paths_and_custom_channels(workdir: Path, home: Path, symbi_bin: Path) -> None:
    """Real readline in tmux: Tab Tab lists the files; custom:p<Tab> completes past the ':' bash splits at."""
    from agents.tmux import TmuxShell, interactive_env

    env = interactive_env(_env(home, symbi_bin))
    with TmuxShell(["bash", "--norc", "--noprofile"], env) as sh:
        sh.run(f"source {REPO / FILES['bash']}; cd {workdir}")
        sh.type("symbi cron validate --file jo\t")
        sh.wait_for("--file jobs")  # the common prefix
        sh.keys("Tab", "Tab")  # ambiguous: the second Tab lists the candidates
        screen = sh.wait_for("jobs-old.symbi")
        assert "jobs.symbi" in screen
        sh.keys("C-u")
        sh.type("symbi cron test-delivery daily-report --channel custom:p\t")
        screen = sh.wait_for("--channel custom:pager")
        assert "custom:custom:" not in screen
