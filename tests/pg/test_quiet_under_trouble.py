"""Quiet under trouble, with a real daemon on a real PostgreSQL (docs/scaling.md, "Operating it"): changes made
by other processes reload it at DEBUG, counted, never a "reloaded" line each at INFO; a database outage under its
reload listener is one "down" line and one "back after N s" line, not a warning every second. (The reminder once
a minute of a longer outage is tested with a stepped clock in tests/test_outage.py.)

The outage is real: the test's database refuses connections (``ALLOW_CONNECTIONS false``) and every connection to
it is terminated, for three seconds, then it accepts them again.
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest
from agents.daemon_helper import Daemon, wait_for

from symbi_cron.store.postgres import PgStore

from .server import admin_url

pytestmark = pytest.mark.slow


def test_remote_changes_reload_quietly_and_an_outage_is_two_lines(tmp_path, pg_url):
    d = Daemon(tmp_path / "host")
    with open(d.home / "config.toml", "a") as fh:
        fh.write("[store]\nlease_seconds = 30\n")
    d.env.update(SYMBI_STORE_URL=pg_url, SYMBI_LOG_LEVEL="DEBUG")
    store = PgStore(pg_url)
    db = pg_url.rsplit("/", 1)[1]
    try:
        d.start()
        wait_for(lambda: "since start)" in d.log(), what="the listener's first look")
        for _ in range(5):  # five changes made elsewhere (the CLI or the API of another host)
            store.notify_changed("test")
        wait_for(lambda: "(6 since start)" in d.log(), what="the five changes counted")
        log = d.log()
        assert "reloaded the configuration" not in log
        counted = re.findall(r"DEBUG symbi.scheduler: reload after (\d+) change\(s\) announced", log)
        assert sum(int(n) for n in counted) == 6  # the first look, then the five changes

        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (db,),
            )
            wait_for(lambda: "reload listener down" in d.log(), what="the listener to notice the outage")
            time.sleep(3)  # the outage lasts three seconds: three reconnections fail meanwhile
            admin.execute(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
        back = wait_for(
            lambda: re.search(r"reload listener back after (\d+) s \((\d+) failed attempts\)", d.log()),
            timeout=20,
            what="the listener back",
        )
        assert int(back.group(1)) >= 3 and int(back.group(2)) >= 3
        wait_for(lambda: "tick loop working again after" in d.log(), what="the tick loop back")
        log = d.log()
        # The tick loop's errors: each distinct one once (the connection cut, then the refusals), not one a tick.
        failing = [line for line in log.splitlines() if "tick loop failing" in line]
        assert 1 <= len(failing) <= 3 and len(set(failing)) == len(failing)
        assert log.count("tick loop working again") == 1
        assert log.count("reload listener down") == 1 and "still down" not in log
        assert "reload listener: " not in log  # the old line, once a second
        # Working again: a change made now is seen.
        store.close()
        store = PgStore(pg_url)
        seen = len(re.findall("since start", d.log()))
        store.notify_changed("test")
        wait_for(lambda: len(re.findall("since start", d.log())) > seen, what="a change after the outage")
        print("\n" + "\n".join(line for line in d.log().splitlines() if " WARNING " in line or " ERROR " in line))
    finally:
        d.cleanup()
        store.close()
