"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temp dir, on 127.0.0.1 and a free port.

One cluster per test session (started on first use, stopped at exit); one fresh database per test, copied from a
migrated template (``CREATE DATABASE ... TEMPLATE``: tens of milliseconds). As root the server runs as the
``postgres`` user (PostgreSQL refuses to run as root) and its directory belongs to it. ``SYMBI_TEST_PG_URL``
points the tests at an existing server instead (its user must be allowed to CREATE DATABASE).

When no server can be had (no PostgreSQL binaries, no psycopg, initdb fails) the tests that need one are skipped
with the reason; they never pass without one. ``.ci/postgres`` installs the binaries from Debian's packages.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from servers.ports import free_port

_lock = threading.Lock()
_state: dict[str, object] = {}


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _as_owner(cmd: list[str], user: str | None) -> list[str]:
    if user is None:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user, "--", *cmd]
    import shlex

    return ["su", user, "-s", "/bin/sh", "-c", shlex.join(cmd)]


def _start(max_connections: int = 200) -> str:
    """Start a cluster and return the admin URL (database ``postgres``); raises RuntimeError with the reason. It is
    stopped at exit."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise RuntimeError("psycopg is not installed (pip install 'symbi-cron[postgres]')") from None
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl); run .ci/postgres to install them")
    user = None
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no postgres user to run the server as") from None
        user = "postgres"
    base = Path(tempfile.mkdtemp(prefix="symbi-pg-"))
    data = base / "data"
    if user:
        shutil.chown(base, user, user)
    os.chmod(base, 0o700)
    port = free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    r = subprocess.run(
        _as_owner(
            [initdb, "-D", str(data), "-A", "trust", "-U", "symbi", "-E", "UTF8", "--locale=C", "--no-sync"],
            user,
        ),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if r.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {(r.stderr or r.stdout).strip()[-400:]}")
    opts = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        f" -c full_page_writes=off -c max_connections={max_connections}"
    )
    r = subprocess.run(
        _as_owner(
            [pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "server.log"), "-w", "-t", "60", "start"],
            user,
        ),
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )
    if r.returncode != 0:
        log = (base / "server.log").read_text(errors="replace")[-400:] if (base / "server.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {(r.stderr or r.stdout).strip()[-300:]} {log}")

    def stop() -> None:
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], user),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://symbi@127.0.0.1:{port}/postgres"


def admin_url() -> str:
    """The admin URL of the session's server (started on first call); pytest.skip with the reason otherwise."""
    with _lock:
        if "url" not in _state and "error" not in _state:
            given = os.environ.get("SYMBI_TEST_PG_URL")
            try:
                _state["url"] = given or _start()
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                _state["error"] = str(exc)
        if "error" in _state:
            pytest.skip(f"PostgreSQL tests need a server: {_state['error']}")
        return str(_state["url"])


def small_server(max_connections: int) -> str:
    """A server of its own with a small ``max_connections`` (the session's has 200), and on it a new, migrated,
    empty database; returns that database's URL. pytest.skip with the reason when no server can be had."""
    import psycopg

    admin_url()  # skips here, with the reason, when the session's server could not start either
    if os.environ.get("SYMBI_TEST_PG_URL"):
        pytest.skip("a server with a small max_connections needs the PostgreSQL binaries, not SYMBI_TEST_PG_URL")
    try:
        admin = _start(max_connections)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"a second PostgreSQL server could not start: {exc}")
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute("CREATE DATABASE symbi_small")
    from symbi_cron.store.postgres import PgStore

    store = PgStore(_with_db(admin, "symbi_small"))
    store.migrate()
    store.close()
    return _with_db(admin, "symbi_small")


def _with_db(url: str, db: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{db}"


def fresh_database() -> str:
    """A new, migrated, empty database on the session's server; returns its URL (gone with the cluster)."""
    import psycopg

    admin = admin_url()
    with _lock:
        if "template" not in _state:
            from symbi_cron.store.postgres import PgStore

            name = f"symbi_tpl_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f"CREATE DATABASE {name}")
            store = PgStore(_with_db(admin, name))
            store.migrate()
            store.close()
            _state["template"] = name
    name = f"symbi_t_{uuid.uuid4().hex[:12]}"
    for attempt in range(20):  # CREATE DATABASE ... TEMPLATE fails while another session is still on the template
        try:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f"CREATE DATABASE {name} TEMPLATE {_state['template']}")
            break
        except psycopg.errors.ObjectInUse:
            time.sleep(0.05 * (attempt + 1))
    return _with_db(admin, name)
