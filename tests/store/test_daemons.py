"""The ``daemons`` table: leases of daemons and of their run owners (docs/scaling.md)."""

from __future__ import annotations

from symbi_cron.processes import owner_id
from symbi_cron.store import daemons

NOW = 1_800_000_000_000


def test_only_daemons_count_as_live_not_the_owners_a_dead_daemon_left_running(app):
    with app.store.write() as tx:
        daemons.register(tx, owner_id("owner"), host="h1", pid=11, now_ms=NOW, lease_ms=30_000)
    with app.store.read() as conn:
        assert daemons.count_live(conn, NOW) == 0  # a run's owner renews its lease: it schedules nothing
    with app.store.write() as tx:
        daemons.register(tx, owner_id("daemon"), host="h2", pid=12, now_ms=NOW, lease_ms=30_000)
        daemons.register(tx, owner_id("daemon"), host="h3", pid=13, now_ms=NOW, lease_ms=-1)  # lapsed
    with app.store.read() as conn:
        assert daemons.count_live(conn, NOW) == 1
        assert [d["host"] for d in daemons.live_daemons(conn, NOW)] == ["h2"]
