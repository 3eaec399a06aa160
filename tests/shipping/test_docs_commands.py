"""Every command shown in the docs is checked against the command tree, and the cheap ones are run.

Commands come from ```console blocks (lines starting with ``$ ``) and ```sh / ```bash / ```shell blocks (every
line) in docs/*.md and README.md. Each ``symbi`` command in them (also ``.venv/bin/symbi`` and
``python3 dist/symbi.pyz``) must name an existing command path and parse: options exist, choices are valid,
required arguments are there. Nothing runs for that check (click parses, the command is not invoked). Blocks that
are not commands to type are fenced ```text.

Read-only commands with no side effects are also run for real against an empty SYMBI_HOME, and
docs/getting-started.md is run from top to bottom in one SYMBI_HOME, daemon included: the walkthrough works.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = sorted(
    p.relative_to(REPO).as_posix() for p in [*(REPO / "docs").glob("*.md"), REPO / "README.md"] if p.exists()
)
SHELL_FENCES = {"sh", "bash", "shell", "console"}
SYMBI_PROGRAMS = {"symbi", ".venv/bin/symbi", "dist/symbi.pyz", "./dist/symbi.pyz"}
OPERATORS = {"|", "||", "&&", ";", "&"}
REDIRECTS = {">", ">>", "<", "2>", "2>>", "&>", ">&", "2>&1"}

#: Command paths that only read and need nothing in the store: run for real from every doc.
READ_ONLY = {
    ("--version",),
    ("cron", "list"),
    ("cron", "next"),
    ("cron", "pending"),
    ("config", "show"),
    ("completion",),
    ("audit", "verify"),
    ("agent", "list"),
}


def shell_blocks(markdown: str) -> list[tuple[int, str, list[str]]]:
    """(line number, command, output shown after it) for each command in the shell blocks of ``markdown``."""
    out: list[tuple[int, str, list[str]]] = []
    fence: str | None = None
    pending, start = "", 0
    for number, line in enumerate(markdown.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else (stripped[3:].strip().split() or [""])[0]
            continue
        if fence not in SHELL_FENCES:
            continue
        if not pending:
            if fence == "console":
                if not stripped.startswith("$ "):
                    if out and stripped:
                        out[-1][2].append(stripped)  # output shown after the command
                    continue
                stripped = stripped[2:]
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        out.append((start, pending + stripped, []))
        pending = ""
    return out


def shell_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, command) of each command in the shell blocks of ``markdown``."""
    return [(n, cmd) for n, cmd, _out in shell_blocks(markdown)]


_REDIRECTION = re.compile(r"(?<=\s)\d?(>>?|<)(&\d)?\s*(?(2)|[^\s|;&]+)")


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line: split at | && || ; with redirections and VAR=value prefixes removed."""
    lexer = shlex.shlex(_REDIRECTION.sub(" ", line), posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in OPERATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    result = []
    for words in commands:
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words = words[1:]
        if words:
            result.append(words)
    return result


def symbi_args(words: list[str]) -> list[str] | None:
    """The arguments after the program when ``words`` runs symbi, else None."""
    if words[0] in SYMBI_PROGRAMS:
        return words[1:]
    if re.fullmatch(r"python3?(\.\d+)?", words[0]):
        rest = [w for w in words[1:] if w not in ("-I", "-E", "-s")]
        if rest and rest[0].endswith("symbi.pyz"):
            return rest[1:]
        if rest[:2] == ["-m", "symbi_cron"]:
            return rest[2:]
    return None


def doc_commands() -> list[tuple[str, int, list[str]]]:
    found = []
    for rel in DOC_FILES:
        for number, line, shown in shell_blocks((REPO / rel).read_text(encoding="utf-8")):
            for words in simple_commands(line):
                args = symbi_args(words)
                if args is not None:
                    found.append((rel, number, args))
                    SHOWN[(rel, number)] = shown
    return found


#: (file, line) -> the output a console block shows after that command.
SHOWN: dict[tuple[str, int], list[str]] = {}


def parse(args: list[str]) -> tuple[tuple[str, ...], click.Command]:
    """Parse ``args`` against the real tree without invoking anything; returns the command path and command.

    Raises click.UsageError (unknown command or option, bad choice, missing argument, extra arguments)."""
    from symbi_cron.cli import cli

    cmd: click.Command = cli
    name, ctx, path = "symbi", None, ()
    args = list(args)
    while True:
        try:
            ctx = cmd.make_context(name, list(args), parent=ctx)
        except click.exceptions.Exit:  # --help / --version: valid, and nothing below them runs
            return path, cmd
        except click.exceptions.NoArgsIsHelpError:
            return path, cmd
        if not isinstance(cmd, click.Group):
            return path, cmd
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return path, cmd
        sub = cmd.get_command(ctx, rest[0])
        if sub is None:
            raise click.UsageError(f"no such command {' '.join(['symbi', *path, rest[0]])!r}")
        cmd, name, args, path = sub, rest[0], rest[1:], (*path, rest[0])


def _id(item: tuple[str, int, list[str]]) -> str:
    return f"{item[0]}:{item[1]}:{' '.join(item[2])[:40]}"


COMMANDS = doc_commands()


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) > 20
    assert "docs/getting-started.md" in {c[0] for c in COMMANDS}


@pytest.mark.parametrize("item", COMMANDS, ids=[_id(c) for c in COMMANDS])
def test_doc_command_parses(item: tuple[str, int, list[str]]) -> None:
    rel, number, args = item
    try:
        parse(args)
    except click.UsageError as exc:
        pytest.fail(f"{rel}:{number}: symbi {shlex.join(args)}: {exc.format_message()}")


def _read_only(args: list[str]) -> bool:
    if args in (["--version"], ["--help"]) or "--help" in args or "-h" in args:
        return True
    try:
        path, _cmd = parse(args)
    except click.UsageError:
        return False
    return path in READ_ONLY or path[:1] in READ_ONLY


READ_ONLY_COMMANDS = [c for c in COMMANDS if _read_only(c[2])]


@pytest.mark.parametrize("item", READ_ONLY_COMMANDS, ids=[_id(c) for c in READ_ONLY_COMMANDS])
def test_read_only_doc_command_runs(item: tuple[str, int, list[str]], cli) -> None:
    rel, number, args = item
    result = cli(*args)
    shown = SHOWN.get((rel, number)) or []
    where = f"{rel}:{number}: symbi {shlex.join(args)}"
    if shown and shown[0].startswith("error:"):
        # The doc shows this command failing: it must fail, with that message.
        assert result.exit_code != 0, f"{where}: the doc shows an error, the command succeeded"
        assert shown[0] in result.stderr, f"{where}: the doc shows {shown[0]!r}, the command said {result.stderr!r}"
    else:
        assert result.exit_code == 0, f"{where}: {result.stderr}"


def test_shell_line_splitting() -> None:
    assert simple_commands("symbi cron list --format json | jq '.[].name' > names.txt") == [
        ["symbi", "cron", "list", "--format", "json"],
        ["jq", ".[].name"],
    ]
    assert simple_commands("SYMBI_HOME=/tmp/x symbi cron list 2>/dev/null && echo ok") == [
        ["symbi", "cron", "list"],
        ["echo", "ok"],
    ]
    assert symbi_args(["python3", "-I", "dist/symbi.pyz", "cron", "list"]) == ["cron", "list"]
    lines = shell_lines("```console\n$ symbi cron list \\\n    --format json\n[]\n```\n```text\nsymbi nope\n```\n")
    assert lines == [(2, "symbi cron list --format json")]


def test_parse_rejects_what_click_would() -> None:
    for bad in (
        ["cron", "lisst"],
        ["cron", "list", "--bogus"],
        ["cron", "list", "--format", "xml"],
        ["cron", "status"],
    ):
        with pytest.raises(click.UsageError):
            parse(bad)
    assert parse(["cron", "list", "--format", "json"])[0] == ("cron", "list")


def test_docs_generated_files_are_current(gen_docs) -> None:
    """docs/cli.md and the tables of docs/configuration.md follow the code (scripts/gen_docs.py --check)."""
    result = subprocess.run(
        [os.sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_getting_started_runs_from_top_to_bottom(tmp_path: Path, symbi_bin: Path) -> None:
    """Every command of docs/getting-started.md, in order, in one fresh SYMBI_HOME, with a real daemon."""
    text = (REPO / "docs" / "getting-started.md").read_text(encoding="utf-8")
    lines = [cmd for _n, cmd in shell_lines(text)]
    assert any("daemon start" in c for c in lines)
    env = {
        **os.environ,
        "SYMBI_HOME": str(tmp_path / "home"),
        "HOME": str(tmp_path),
        "PATH": f"{symbi_bin}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "SYMBI_API_PORT": "0",
        "SYMBI_DEFAULT_TIMEZONE": "UTC",
    }
    workdir = tmp_path / "work"
    workdir.mkdir()
    try:
        for cmd in lines:
            if cmd.startswith(("pip ", "python3 -m venv", "python3 -m pip", "git ", ". .venv", "source ")):
                continue  # installing: this checkout is already installed
            result = subprocess.run(
                ["bash", "-c", cmd], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    finally:
        subprocess.run(["bash", "-c", "symbi cron daemon stop"], env=env, capture_output=True, timeout=120)


def test_configuration_examples_are_valid(tmp_path: Path) -> None:
    """Each ```toml block of docs/configuration.md loads (unknown keys and wrong types would be errors)."""
    from symbi_cron.config import load_settings

    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"example-{i}.toml"
        path.write_text(block, encoding="utf-8")
        load_settings(path, env={})


def test_systemd_unit_runs_the_daemon_in_the_foreground() -> None:
    """packaging/symbi-cron.service: ExecStart is a valid `symbi cron daemon --foreground`, reload is SIGHUP."""
    unit = (REPO / "packaging" / "symbi-cron.service").read_text(encoding="utf-8")
    keys = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    words = shlex.split(keys["ExecStart"])
    assert words[0].endswith("/symbi")
    assert parse(words[1:])[0] == ("cron", "daemon")
    assert words[1:] == ["cron", "daemon", "--foreground"]
    assert keys["Type"] == "simple" and keys["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert keys["KillMode"] == "process"  # the daemon alone: it drains the owners itself, a restart leaves them
    assert keys["RestartForceExitStatus"] == keys["SuccessExitStatus"] == "75"  # USR2: restart, runs go on
