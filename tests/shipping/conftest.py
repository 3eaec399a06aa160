"""Fixtures of the shipping tests: the generator's outputs (computed once) and a ``symbi`` on PATH."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_generator():
    """scripts/gen_docs.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gen_docs():
    return load_generator()


@pytest.fixture(scope="session")
def generated(gen_docs) -> dict[str, str]:
    """Every file the generator would write for the current command tree (relative path -> text)."""
    return gen_docs.outputs(REPO)


@pytest.fixture
def symbi_bin(tmp_path: Path) -> Path:
    """A directory holding a ``symbi`` executable that runs this checkout with this interpreter."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "symbi"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m symbi_cron "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bindir
