"""zipapp.sh: the one-file build runs with a clean interpreter (``python3 -I``) from another directory, in an
empty HOME and in one it cannot write, through a whole session: add an agent and a job, start the daemon, see
the job run, stop it.

Building needs shiv and PyPI (or the pip mirror this machine is configured with), like ``pip install .``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _clean_python() -> str:
    """The base interpreter, outside any virtualenv: the zipapp must carry everything it needs."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (
        Path(sys.base_prefix) / "bin" / f"python{version}",
        Path(sys.base_prefix) / "bin" / "python3",
    ):
        if candidate.exists():
            return str(candidate)
    return shutil.which(f"python{version}") or sys.executable


def _bare_python3() -> str:
    """A python3 as a fresh machine has it: no shiv, and, on Debian, externally managed (pip install refused).
    The system's when it is this Python's version (the file must run on the interpreter the tests use)."""
    system = Path("/usr/bin/python3")
    if system.exists():
        version = subprocess.run(
            [str(system), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if version.stdout.strip() == str(tuple(sys.version_info[:2])):
            return str(system)
    return _clean_python()


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/symbi.pyz built by zipapp.sh into a temporary directory (once for this module), from a python3 with
    no shiv: the script makes its own build environment (issue 15, item 8), here in a fresh cache."""
    out = tmp_path_factory.mktemp("dist")
    cache = tmp_path_factory.mktemp("cache")
    python = _bare_python3()
    assert subprocess.run([python, "-m", "shiv", "--version"], capture_output=True).returncode != 0, (
        f"{python} has shiv: it would not test the fresh-machine build"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV", "PYTHONPATH")}
    build = subprocess.run(
        ["bash", str(REPO / "zipapp.sh"), "--out", str(out), "--python", python],
        capture_output=True,
        text=True,
        env={**env, "XDG_CACHE_HOME": str(cache)},
        timeout=900,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "has no shiv: making a build environment" in build.stderr
    assert (cache / "symbi-zipapp").is_dir()  # kept for the next build
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    built = [p.name for p in out.glob(f"symbi-{version}-*.pyz")]
    assert len(built) == 1, built
    link = out / "symbi.pyz"
    assert link.resolve() == (out / built[0]).resolve()
    return link


@pytest.fixture(params=["empty-home", "unwritable-home"])
def session_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """A minimal environment: no virtualenv, no PYTHONPATH, a fresh SYMBI_HOME and either kind of HOME."""
    if request.param == "empty-home":
        home = tmp_path / "home"
        home.mkdir()
    else:
        # A regular file: nothing can be created below it, whoever we are (root ignores mode bits).
        home = tmp_path / "home-is-a-file"
        home.write_text("")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmpdir),
        "SYMBI_HOME": str(tmp_path / "symbi-home"),
        "SYMBI_DEFAULT_TIMEZONE": "UTC",
        "SYMBI_API_PORT": "0",
        "LANG": "C.UTF-8",
        "KIND": request.param,
    }


def _run(pyz: Path, env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    elsewhere = Path(env["TMPDIR"])  # not the repository: nothing may come from the checkout
    return subprocess.run(
        [_clean_python(), "-I", str(pyz), *args],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_zipapp_runs_a_whole_session(pyz: Path, session_env: dict[str, str]) -> None:
    env = session_env
    version = _run(pyz, env, "--version")
    assert version.returncode == 0, version.stderr
    from symbi_cron import __version__

    assert version.stdout.strip() == f"symbi {__version__}"
    if env["KIND"] == "unwritable-home":
        # The compiled dependencies went to a private directory under TMPDIR instead of ~/.shiv.
        extracted = list(Path(env["TMPDIR"]).glob("symbi-shiv-*"))
        assert extracted, os.listdir(env["TMPDIR"])
        assert extracted[0].stat().st_mode & 0o077 == 0
    else:
        assert (Path(env["HOME"]) / ".shiv").is_dir()

    page = _run(pyz, env, "man", "cron")  # the file carries the man pages
    assert page.returncode == 0 and "symbi cron add" in page.stdout.replace("\b", ""), page.stderr
    where = _run(pyz, env, "man", "--where").stdout.strip()
    assert (Path(where) / "man1" / "symbi.1").is_file()  # for MANPATH

    added = _run(pyz, env, "agent", "add", "hello", "--command", "echo hello from the zipapp")
    assert added.returncode == 0, added.stderr
    at = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat(timespec="seconds")
    job = _run(pyz, env, "cron", "add", "--json", json.dumps({"name": "once", "agent_id": "hello", "at": at}))
    assert job.returncode == 0, job.stderr

    started = _run(pyz, env, "cron", "daemon", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        # The file carries the dashboard's pages: the daemon serves them from the package (SYMBI_API_PORT=0: the
        # port really bound is what `symbi ui` prints).
        ui = _run(pyz, env, "ui", "--format", "json")
        assert ui.returncode == 0, ui.stderr
        base = json.loads(ui.stdout)["url"].split("/ui/#login=")[0]
        import urllib.request

        for path, needle in (("/ui", b'src="/ui/static/app.js"'), ("/ui/static/app.js", b"loginFromLink")):
            with urllib.request.urlopen(base + path, timeout=10) as page:
                assert needle in page.read(), path
        deadline = time.monotonic() + 45
        runs: list[dict] = []
        while time.monotonic() < deadline:
            history = _run(pyz, env, "cron", "history", "once", "--format", "json")
            assert history.returncode == 0, history.stderr
            runs = json.loads(history.stdout)
            if any(r["status"] not in ("queued", "running") for r in runs):
                break
            time.sleep(0.5)
        assert runs, "the job never ran"
        assert runs[0]["status"] == "succeeded", runs[0]
        assert "hello from the zipapp" in (runs[0].get("output") or "")
    finally:
        stopped = _run(pyz, env, "cron", "daemon", "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_zipapp_sh_refuses_a_bad_python_version() -> None:
    result = subprocess.run(
        ["bash", str(REPO / "zipapp.sh"), "--python-version", "three"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=60,
    )
    if "shiv is not installed" in result.stderr:
        pytest.skip("shiv is not installed")
    assert result.returncode == 2
    assert "--python-version" in result.stderr


def test_zipapp_sh_refuses_an_unknown_option() -> None:
    result = subprocess.run(
        ["bash", str(REPO / "zipapp.sh"), "--frobnicate"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "unknown option: --frobnicate" in result.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_tab_completion_through_an_alias_to_the_zipapp(pyz: Path, tmp_path: Path) -> None:
    """alias symbi='python3 symbi.pyz' in an interactive bash (tmux): job names complete, from the zipapp."""
    from agents.tmux import TmuxShell, interactive_env

    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "SYMBI_HOME": str(tmp_path / "symbi-home"),
        "SYMBI_DEFAULT_TIMEZONE": "UTC",
        "LANG": "C.UTF-8",
    }
    added = _run(
        pyz,
        env,
        "cron",
        "add",
        "--json",
        json.dumps({"name": "nightly-backup", "agent_id": "a", "cron_expr": "@daily"}),
    )
    assert added.returncode == 0, added.stderr
    script = _run(pyz, env, "completion", "bash").stdout  # the script as the zipapp prints it
    (tmp_path / "symbi.bash").write_text(script)
    with TmuxShell(["bash", "--norc", "--noprofile"], interactive_env(env)) as sh:
        sh.run(f"alias symbi='{_clean_python()} -I {pyz}'; source {tmp_path / 'symbi.bash'}")
        sh.type("symbi cron pau\t")
        sh.wait_for("symbi cron pause")
        sh.type("nig\t")  # (the completed "pause" came with its space)
        sh.wait_for("symbi cron pause nightly-backup", timeout=60)


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
