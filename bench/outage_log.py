"""How much one daemon logs during a database outage (docs/performance.md, "PostgreSQL store"; issue 17, item 6).

A real daemon (`symbi cron daemon start`, tick_interval_seconds 0.2, the API off) on a throwaway PostgreSQL cluster
(tests/pg/server.py, or SYMBI_TEST_PG_URL); its database then refuses connections (ALLOW_CONNECTIONS false, every
connection terminated) for SECONDS, then accepts them again. Printed: the lines the daemon logged from the start of
the outage until both its reload listener and its tick loop say they are back, beside what the listener alone
logged before (one warning per reconnection attempt, one a second: SECONDS + 1 lines).

Run: .venv/bin/python bench/outage_log.py [SECONDS]   (default 70)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> None:
    import psycopg
    from agents.daemon_helper import Daemon, wait_for
    from pg.server import admin_url, fresh_database

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 70.0
    url = fresh_database()
    db = url.rsplit("/", 1)[1]
    d = Daemon(Path(tempfile.mkdtemp(prefix="symbi-outage-")) / "host")
    with open(d.home / "config.toml", "a") as fh:
        fh.write("[store]\nlease_seconds = 30\n")
    d.env["SYMBI_STORE_URL"] = url
    try:
        d.start()
        before = len(d.log().splitlines())
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (db,),
            )
            time.sleep(seconds)
            admin.execute(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
        wait_for(
            lambda: "reload listener back" in d.log() and "tick loop working again" in d.log(),
            timeout=60,
            what="the daemon back",
        )
        lines = d.log().splitlines()[before:]
        listener = [line for line in lines if "reload listener" in line]
        print(
            f"{seconds:.0f} s outage: {len(lines)} daemon log lines in all, {len(listener)} of them the reload"
            f" listener's (it logged about {seconds + 1:.0f} before: one per reconnection attempt)"
        )
        for line in lines:
            print("  " + (line if len(line) <= 150 else line[:147] + "..."))
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
