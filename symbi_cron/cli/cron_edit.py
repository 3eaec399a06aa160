"""``symbi cron edit [--name JOB]...``: the jobs as a ``.symbi`` file in ``$VISUAL`` / ``$EDITOR``, as
``crontab -e`` does. Saved, the file is checked; with problems it is opened again with them on top (quitting
without a change, or the editor failing, changes nothing); valid, the difference is applied in one transaction
(``services.applying``) and printed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from .common import get_app, warn_if_no_daemon
from .completers import complete_job

FILE_NAME = "jobs.symbi"
PROBLEM_PREFIX = "#! "


def _header(names: tuple[str, ...]) -> str:
    which = "the jobs " + ", ".join(names) if names else "your jobs"
    return (
        f"# symbi cron edit: {which} and the agents they run, as a .symbi file (docs/dsl.md).\n"
        "# Save and quit to apply the changes in one transaction. Deleting a schedule block removes its job and\n"
        "# its history; renaming a job replaces it. Quit without saving (or make the editor fail: :cq in vim)\n"
        "# to change nothing.\n\n"
    )


def editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else the system's `editor`, else vi (split like a shell: `code --wait`)."""
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if value:
            return shlex.split(value)
    return ["editor"] if shutil.which("editor") else ["vi"]


def _problems_header(err, offset: int) -> str:
    """The problems as comment lines (``#! ``) on top of the file, their line numbers as the file shows them."""
    lines = [f"{PROBLEM_PREFIX}The file has problems: fix them and save, or quit without a change to abort."]
    for p in err.problems:
        lines.append(f"{PROBLEM_PREFIX}{FILE_NAME}:{p.line + offset}:{p.column}: error: {p.message}")
        if p.hint:
            lines[-1] += f" ({p.hint})"
        if p.source_line:
            lines.append(f"{PROBLEM_PREFIX}    {p.source_line}")
            lines.append(f"{PROBLEM_PREFIX}    {p.caret()}")
    return "\n".join(lines) + "\n"


def _without_problems(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(PROBLEM_PREFIX.rstrip()))


@click.command("edit")
@click.option(
    "--name", "names", multiple=True, metavar="JOB", shell_complete=complete_job, help="Only these jobs (repeatable)."
)
def edit(names: tuple[str, ...]) -> None:
    """Edit jobs in $VISUAL or $EDITOR as a .symbi file, like `crontab -e`.

    The file holds every job (or the --name ones) and the agents they run. On save it is checked as `validate`
    checks it; a file with problems opens again with them listed on top. A valid file is applied in one
    transaction: new schedule blocks are added, changed ones updated (keeping their status and history), and
    deleted ones removed. What changed is printed. Quitting without saving changes nothing.
    """
    from ..dsl import DslError
    from ..errors import SymbiError
    from ..services import applying
    from ..services.importing import export_symbi

    app = get_app()
    body = export_symbi(app, names=list(names) or None)
    original = _header(names) + body
    scope = set(names) if names else None
    workdir = Path(tempfile.mkdtemp(prefix="symbi-edit-"))
    path = workdir / FILE_NAME
    shown = original
    try:
        while True:
            path.write_text(shown, encoding="utf-8")
            os.chmod(path, 0o600)
            argv = editor_command()
            try:
                code = subprocess.call([*argv, str(path)])
            except FileNotFoundError:
                raise SymbiError(f"cannot start the editor {argv[0]!r}: not found (set $VISUAL or $EDITOR)") from None
            if code != 0:
                click.echo(f"the editor exited with status {code}: nothing changed", err=True)
                raise click.exceptions.Exit(1)
            saved = path.read_text(encoding="utf-8")
            if saved == shown:
                click.echo(
                    "no changes" if shown == original else "nothing changed (the file still has problems)", err=True
                )
                if shown != original:
                    raise click.exceptions.Exit(1)
                return
            text = _without_problems(saved)
            try:
                the_plan = applying.plan(app, text, file=FILE_NAME, prune=True, scope=scope)
            except DslError as err:
                # Parsed without the old problem lines: line numbers shift by the new header's length.
                header = _problems_header(err, 0)
                shifted = _problems_header(err, header.count("\n"))
                shown = shifted + text
                click.echo(f"{len(err.problems)} problem(s) in the file: opening it again", err=True)
                continue
            if the_plan.empty:
                click.echo("no changes", err=True)
                return
            applying.apply(app, the_plan)
            from .cron_file import _print_plan

            _print_plan(the_plan, applied=True)
            warn_if_no_daemon(app)
            return
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
