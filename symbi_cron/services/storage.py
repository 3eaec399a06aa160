"""Moving a store to another backend: ``symbi store migrate --to URL`` (docs/scaling.md).

Everything the store holds is copied in one transaction on the target (agents, jobs, runs, deliveries, the audit
log, rows and columns as they are), from one consistent snapshot of the source, then checked: the row count of
every table and the audit hash chain recomputed on the target, ending at the same head as the source's. The
target must be empty; the daemon must be stopped (a run finishing during the copy would be lost).
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, InvalidInput, InvalidState, StoreError
from ..store.transfer import ALL, STATS, TABLES, clear_stats, copy_rows, count_rows
from .app import App


def migrate_store(app: App, to_url: str) -> dict[str, Any]:
    """Copy ``app.store`` into the empty store at ``to_url``; returns ``{"from", "to", "tables": {name: rows},
    "audit": {"ok", "count", "head"}}``. Raises Conflict when the target holds data, StoreError when a check
    fails (the target transaction is then rolled back: nothing half-copied stays)."""
    from dataclasses import replace

    from ..processes import running_pid
    from ..store.factory import is_postgres_url, open_store
    from .audit import verify_chain

    if not (is_postgres_url(to_url) or to_url.startswith("sqlite:")):
        raise InvalidInput("--to must be a postgresql://... or sqlite:PATH URL", field="--to")
    if running_pid(app.paths) is not None:
        raise InvalidState("the daemon is running: stop it first (symbi cron daemon stop), then migrate")
    target = open_store(app.paths, url=to_url)
    if getattr(target, "path", None) == getattr(app.store, "path", None):
        raise InvalidInput("--to names the store being copied", field="--to")
    source_check = verify_chain(app)
    if not source_check["ok"]:
        raise InvalidState(
            f"the source audit log does not verify ({source_check['problems'][0]['message']});"
            " run `symbi audit verify` and fix that first"
        )
    copied: dict[str, int] = {}
    with app.store.read() as src, target.write() as dst:
        for table in TABLES:
            if count_rows(dst, table):
                raise Conflict(f"the target store already holds {table}; migrate into an empty database")
        for table in ALL:
            if table == STATS[0]:  # what the triggers counted from the copied runs makes way for the source's
                clear_stats(dst)
            copied[table] = copy_rows(src, dst, table)
        for table in ALL:
            theirs = count_rows(dst, table)
            if theirs != copied[table] or theirs != count_rows(src, table):
                raise StoreError(f"{table}: {copied[table]} rows read but {theirs} in the target; nothing was copied")
        check = verify_chain(replace(app, store=target))  # inside the write: sees the copied rows
        if not check["ok"] or check["head"] != source_check["head"] or check["count"] != source_check["count"]:
            problem = check["problems"][0]["message"] if check["problems"] else "a different head"
            raise StoreError(f"the audit chain does not verify on the target ({problem}); nothing was copied")
    target.close()
    return {
        "from": str(app.store.path),
        "to": str(getattr(target, "path", to_url)),
        "tables": copied,
        "audit": {"ok": True, "count": check["count"], "head": check["head"]},
    }
