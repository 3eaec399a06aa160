"""./zipapp.sh as a newcomer runs it: no PYTHON set, after the README's commands made .venv (with shiv)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (REPO / ".venv" / "bin" / "python").exists(), reason="needs the checkout's .venv")
def test_zipapp_uses_the_checkouts_venv_when_python3_has_no_shiv(tmp_path):
    """A bare `./zipapp.sh` must not stop at 'shiv is not installed' when .venv has it (the system python3
    usually does not). A python3 without shiv is put first on PATH; --python-version 3.bad makes the script
    stop right after its shiv check (exit 2, no build), which shows which check it reached."""
    check = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "shiv", "--version"], capture_output=True)
    if check.returncode != 0:
        pytest.skip("shiv is not installed in .venv")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "python3"
    stub.write_text("#!/bin/sh\nexit 1\n")
    stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    result = subprocess.run(
        ["bash", str(REPO / "zipapp.sh"), "--python-version", "3.bad"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "shiv is not installed" not in result.stderr, result.stderr
    assert result.returncode == 2 and "--python-version must look like 3.12" in result.stderr, result.stderr
