"""Man pages: generated from the command tree, current, one per top-level command, and they render cleanly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _pages(generated: dict[str, str]) -> dict[str, str]:
    return {p: text for p, text in generated.items() if p.startswith("symbi_cron/man/man1/")}


def test_man_pages_are_current(generated: dict[str, str], gen_docs) -> None:
    stale = [
        p
        for p, text in _pages(generated).items()
        if not (REPO / p).exists() or (REPO / p).read_text(encoding="utf-8") != text
    ]
    stale += gen_docs.stale_man_pages(REPO, generated)
    assert not stale, f"stale man pages {stale}: run python scripts/gen_docs.py"


def test_one_page_for_symbi_and_for_each_top_level_command(generated: dict[str, str]) -> None:
    from symbi_cron.cli import ROOT_COMMANDS

    names = {Path(p).name for p in _pages(generated)}
    assert names == {"symbi.1"} | {f"symbi-{c}.1" for c in ROOT_COMMANDS}


def test_pages_hold_every_subcommand_and_option(generated: dict[str, str]) -> None:
    cron = generated["symbi_cron/man/man1/symbi-cron.1"]
    from symbi_cron.cli.cron import CRON_COMMANDS

    for name in CRON_COMMANDS:
        assert f'.SS "symbi cron {name}'.replace("-", "\\-") in cron, name
    assert "\\-\\-format" in cron
    root = generated["symbi_cron/man/man1/symbi.1"]
    assert ".SH EXIT STATUS" in root and "SYMBI_HOME" in root


def test_pages_carry_no_date(generated: dict[str, str]) -> None:
    from symbi_cron import __version__

    for text in _pages(generated).values():
        assert text.startswith(".TH ") and f'"" "symbi {__version__}"' in text.splitlines()[0]


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed (apt-get install man-db groff-base)")
@pytest.mark.parametrize("page", sorted(p.name for p in (REPO / "symbi_cron" / "man" / "man1").glob("*.1")))
def test_page_renders_with_man(page: str) -> None:
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0", "LC_ALL": "C.UTF-8"}
    out = subprocess.run(
        ["man", "-l", str(REPO / "symbi_cron" / "man" / "man1" / page)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    text = re.sub(".\b", "", out.stdout)  # drop the bold/underline overstrikes of a terminal-less render
    assert "NAME" in text and "SEE ALSO" in text
    if shutil.which("groff"):
        check = subprocess.run(
            ["groff", "-man", "-ww", "-z", str(REPO / "symbi_cron" / "man" / "man1" / page)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert check.stderr == "", check.stderr  # no roff warnings


# -- installed like a real tool (issue 15, item 8) -------------------------------------------------------------
def test_symbi_man_shows_the_page_of_a_topic(run_symbi) -> None:
    env = {"MANWIDTH": "80"}
    root = run_symbi("man", env=env)
    assert root.returncode == 0, root.stderr
    assert "SYMBI(1)" in root.stdout and "EXIT STATUS" in root.stdout  # a pipe gets plain text
    cron = run_symbi("man", "cron", "add", env=env)  # a subcommand shows its command's page
    assert cron.returncode == 0 and "symbi cron apply" in re.sub(".\b", "", cron.stdout)
    missing = run_symbi("man", "nope")
    assert missing.returncode == 3 and "no manual page for 'nope' (topics: symbi, agent" in missing.stderr


def test_symbi_man_without_man_prints_plain_text(run_symbi, tmp_path: Path) -> None:
    import sys

    bindir = tmp_path / "bin"  # a PATH with python but no man
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    out = run_symbi("man", "logs", env={"PATH": str(bindir)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("SYMBI-LOGS(1)") and "\nNAME\n" in out.stdout and ".SH" not in out.stdout
    assert "--since" in out.stdout and "\\-" not in out.stdout
    assert max(len(line) for line in out.stdout.splitlines() if not line.startswith("           ")) <= 80


def test_pip_install_puts_the_pages_where_man_finds_them(tmp_path: Path) -> None:
    """The README's install (`pip install .` into a venv): man finds share/man/man1 beside the venv's bin/."""
    import sys

    wheel_dir = tmp_path / "wheel"
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # pip must see only the new venv
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheel_dir), str(REPO)],
        check=True,
        capture_output=True,
        env=clean,
        timeout=300,
    )
    [wheel] = list(wheel_dir.glob("symbi_cron-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".data/data/share/man/man1/symbi-cron.1") for n in names)
    assert "symbi_cron/man/man1/symbi.1" in names  # `symbi man` and the zipapp read these
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        env=clean,
        timeout=300,
    )  # fmt: skip
    assert (venv / "share" / "man" / "man1" / "symbi.1").exists()
    if shutil.which("man") is None:
        pytest.skip("man is not installed (apt-get install man-db groff-base)")
    env = {**os.environ, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "MANWIDTH": "80"}
    env.pop("MANPATH", None)
    env.pop("MAN_KEEP_FORMATTING", None)
    shown = subprocess.run(["man", "symbi-cron"], capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "symbi cron add" in re.sub(".\b", "", shown.stdout)
