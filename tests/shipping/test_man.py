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
    return {p: text for p, text in generated.items() if p.startswith("man/")}


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
    cron = generated["man/symbi-cron.1"]
    from symbi_cron.cli.cron import CRON_COMMANDS

    for name in CRON_COMMANDS:
        assert f'.SS "symbi cron {name}'.replace("-", "\\-") in cron, name
    assert "\\-\\-format" in cron
    root = generated["man/symbi.1"]
    assert ".SH EXIT STATUS" in root and "SYMBI_HOME" in root


def test_pages_carry_no_date(generated: dict[str, str]) -> None:
    from symbi_cron import __version__

    for text in _pages(generated).values():
        assert text.startswith(".TH ") and f'"" "symbi {__version__}"' in text.splitlines()[0]


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed (apt-get install man-db groff-base)")
@pytest.mark.parametrize("page", sorted(p.name for p in (REPO / "man").glob("*.1")))
def test_page_renders_with_man(page: str) -> None:
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0", "LC_ALL": "C.UTF-8"}
    out = subprocess.run(["man", "-l", str(REPO / "man" / page)], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    text = re.sub(".\b", "", out.stdout)  # drop the bold/underline overstrikes of a terminal-less render
    assert "NAME" in text and "SEE ALSO" in text
    if shutil.which("groff"):
        check = subprocess.run(
            ["groff", "-man", "-ww", "-z", str(REPO / "man" / page)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert check.stderr == "", check.stderr  # no roff warnings
