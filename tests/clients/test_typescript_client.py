"""The TypeScript client (clients/typescript): its types are generated from our OpenAPI document and current, it
type-checks (refusing what the API refuses), and its tests -- the guide's JavaScript flow as written, then every
method -- pass with node against a real daemon process.

The client's build tools come from the npm registry: `npm ci` installs them into clients/typescript/node_modules
on first use (package-lock.json pins them). Skipped, saying so, only when node is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from agents.daemon_helper import Daemon, wait_for
from servers.ports import free_port

from symbi_cron.http.openapi import document_json

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "typescript"
NODE = shutil.which("node")
NPM = shutil.which("npm")


def test_the_clients_openapi_json_is_our_current_document():
    current = (CLIENT / "openapi.json").read_text(encoding="utf-8")
    assert current == document_json(), (
        "clients/typescript/openapi.json is stale: run `python -m symbi_cron.http.openapi --json`"
        " then `npm run generate` in clients/typescript"
    )


@pytest.fixture(scope="module")
def toolchain() -> Path:
    """clients/typescript with its node_modules installed (npm ci, from package-lock.json)."""
    if NODE is None or NPM is None:
        pytest.skip("node and npm are not installed: the TypeScript client is not tested (apt-get install nodejs npm)")
    stamp = CLIENT / "node_modules" / ".package-lock.json"
    lock = CLIENT / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"npm ci failed in {CLIENT}:\n{done.stdout}\n{done.stderr}"
    return CLIENT


def _npx(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLIENT / "node_modules" / ".bin" / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_generated_types_are_current(toolchain, tmp_path):
    out = tmp_path / "schema.ts"
    done = _npx(
        "openapi-typescript", "openapi.json", "--default-non-nullable", "false", "--output", str(out), cwd=toolchain
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == (toolchain / "src" / "schema.ts").read_text(), (
        "clients/typescript/src/schema.ts is stale: run `npm run generate` in clients/typescript"
    )


def test_the_client_against_a_real_daemon(toolchain, tmp_path):
    build = tmp_path / "build"
    done = _npx("tsc", "-p", "tsconfig.json", "--outDir", str(build), cwd=toolchain)
    assert done.returncode == 0, f"tsc:\n{done.stdout}{done.stderr}"

    d = Daemon(tmp_path / "home")
    port = free_port()
    cfg = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {port}")
    (d.home / "config.toml").write_text(cfg)
    for agent in ("backup-agent", "reporter"):
        d.symbi("agent", "add", agent, "--command", "true", check=True)
    d.start()
    try:
        key = d.symbi("api-key", check=True).stdout.strip()
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for(up, what="the API")
        env = dict(os.environ, SYMBI_API_URL=url, SYMBI_API_KEY=key)
        run = subprocess.run(
            [NODE, "--test", "--test-reporter=spec", str(build / "test")],
            cwd=toolchain,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, f"node --test failed:\n{run.stdout}\n{run.stderr}"
        assert "Created job: " in run.stdout and "Active jobs: 1" in run.stdout  # the guide's flow printed its lines
    finally:
        d.symbi("cron", "daemon", "stop")
        d.cleanup()
