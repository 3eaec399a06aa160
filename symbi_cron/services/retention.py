"""Retention (SPEC §17): what ``[retention]`` bounds, applied by the daemon every ``interval_hours`` and by
``symbi store prune [--dry-run]`` (docs/operations.md, "Retention").

One pass removes, in this order:

1. finished runs past ``run_max_age_days`` or beyond the newest ``runs_per_job`` of their job (never an open run,
   a run with a delivery still pending, or a job's newest finished run), with their delivery receipts and their
   ``logs/runs`` files;
2. ``logs/runs`` files older than ``run_log_max_age_days``, and those whose run is gone (never an open run's);
3. job logs (``logs/jobs``): rotated past ``job_log_max_bytes`` (keeping ``job_log_backups``), removed when not
   written for ``job_log_max_age_days``;
4. the context directories of jobs that no longer exist, and run directories left behind by a crash
   (``orphan_contexts``);
5. audit events older than ``audit_max_age_days``, as a prefix of the chain behind a checkpoint, so ``symbi audit
   verify`` still verifies what is left (and says from where).

Runs and audit events go in batches of their own transactions, so a pass never holds the store's write lock for
long (the tick loop keeps claiming slots meanwhile). The run statistics (metrics, health) do not move. A pass that
removed anything writes the audit event ``StorePruned`` with what it removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from ..store import retention as rows
from ..timeutil import to_ms
from ..vocab import Event
from .app import App

log = logging.getLogger("symbi.daemon")
BATCH = 500
AUDIT_BATCH = 5000
DAY_MS = 86_400_000
LAST_PRUNE = "retention.last_prune_ms"


def _days_ms(days: float) -> int | None:
    return int(days * DAY_MS) if days else None


def prune(app: App, *, dry_run: bool = False) -> dict[str, Any]:
    """One retention pass (or, with ``dry_run``, what it would remove). Returns counts and bytes:
    ``{"runs", "run_logs", "job_logs_rotated", "job_logs_removed", "contexts", "audit_events", "bytes",
    "checkpoint", "dry_run"}``."""
    s = app.settings.retention
    now_ms = to_ms(app.clock.now())
    report: dict[str, Any] = {
        "dry_run": dry_run,
        "runs": 0,
        "run_logs": 0,
        "job_logs_rotated": 0,
        "job_logs_removed": 0,
        "contexts": 0,
        "audit_events": 0,
        "bytes": 0,
        "checkpoint": None,
    }
    gone_runs = _prune_runs(app, s, now_ms, dry_run, report)
    # Files are aged by the file system's clock (their mtimes), runs and events by the store's.
    wall_ms = int(time.time() * 1000)
    _prune_run_logs(app, s, wall_ms, dry_run, report, gone_runs)
    _prune_job_logs(app, s, wall_ms, dry_run, report)
    if s.orphan_contexts:
        _prune_contexts(app, dry_run, report)
    if s.audit_max_age_days:
        _prune_audit(app, now_ms - int(s.audit_max_age_days * DAY_MS), now_ms, dry_run, report)
    if not dry_run:
        removed = {k: report[k] for k in ("runs", "run_logs", "job_logs_removed", "contexts", "audit_events")}
        with app.store.write() as tx:
            if any(removed.values()) or report["job_logs_rotated"]:
                from ..store.audit import append_event

                details = {**removed, "job_logs_rotated": report["job_logs_rotated"], "bytes": report["bytes"]}
                if report["checkpoint"]:
                    details["checkpoint"] = report["checkpoint"]
                append_event(tx, at_ms=now_ms, type=Event.store_pruned, actor=app.actor, details=details)
            rows.set_meta(tx, LAST_PRUNE, str(now_ms), now_ms=now_ms)
        app.store.compact()
    return report


def _prune_runs(app: App, s: Any, now_ms: int, dry_run: bool, report: dict[str, Any]) -> list[str]:
    age = _days_ms(s.run_max_age_days)
    before = now_ms - age if age else None
    if before is None and not s.runs_per_job:
        return []
    gone: list[str] = []
    conn = app.store.connection()
    for job_id in rows.job_ids(conn):
        while True:
            if dry_run:
                ids = rows.prunable_runs(conn, job_id, before_ms=before, keep=s.runs_per_job, limit=1_000_000)
                gone += ids
                break
            with app.store.write() as tx:
                ids = rows.prunable_runs(tx, job_id, before_ms=before, keep=s.runs_per_job, limit=BATCH)
                if ids:
                    rows.delete_runs(tx, ids)
            gone += ids
            if len(ids) < BATCH:
                break
    report["runs"] = len(gone)
    for run_id in gone:
        path = app.paths.run_log(run_id)
        size = _size_of(path)
        if size is not None:
            report["run_logs"] += 1
            report["bytes"] += size
            if not dry_run:
                path.unlink(missing_ok=True)
    return gone


def _prune_run_logs(app: App, s: Any, now_ms: int, dry_run: bool, report: dict[str, Any], already: list[str]) -> None:
    directory = app.paths.runs_log_dir
    if not directory.is_dir():
        return
    age = _days_ms(s.run_log_max_age_days)
    done = set(already)
    candidates: list[tuple[str, Path, os.stat_result]] = []
    with os.scandir(directory) as it:
        for entry in it:
            if not entry.name.endswith(".log") or not entry.is_file(follow_symlinks=False):
                continue
            run_id = entry.name[: -len(".log")]
            if run_id in done:
                continue
            candidates.append((run_id, Path(entry.path), entry.stat(follow_symlinks=False)))
    if not candidates:
        return
    conn = app.store.connection()
    open_ids = rows.open_runs(conn)
    existing = rows.existing_runs(conn, [c[0] for c in candidates])
    for run_id, path, st in candidates:
        if run_id in open_ids:
            continue
        old = age is not None and (now_ms - st.st_mtime * 1000) > age
        orphan = run_id not in existing and (now_ms - st.st_mtime * 1000) > 60_000  # not one being created
        if old or orphan:
            report["run_logs"] += 1
            report["bytes"] += st.st_size
            if not dry_run:
                path.unlink(missing_ok=True)


def _prune_job_logs(app: App, s: Any, now_ms: int, dry_run: bool, report: dict[str, Any]) -> None:
    from ..logfiles import backups_of, rotate_locked

    directory = app.paths.jobs_log_dir
    if not directory.is_dir():
        return
    age = _days_ms(s.job_log_max_age_days)
    for path in sorted(directory.glob("*.log")):
        copies = backups_of(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if age is not None and now_ms - st.st_mtime * 1000 > age:
            for p in [path, *copies]:
                size = _size_of(p)
                if size is not None:
                    report["job_logs_removed"] += 1
                    report["bytes"] += size
                    if not dry_run:
                        p.unlink(missing_ok=True)
            continue
        if s.job_log_max_bytes and st.st_size > s.job_log_max_bytes:
            report["job_logs_rotated"] += 1
            dropped = [c for c in copies if int(c.name.rsplit(".", 1)[1]) >= s.job_log_backups]
            report["bytes"] += sum(_size_of(c) or 0 for c in dropped) + (0 if s.job_log_backups else st.st_size)
            if not dry_run:
                rotate_locked(path, s.job_log_backups)


def _prune_contexts(app: App, dry_run: bool, report: dict[str, Any]) -> None:
    base = app.paths.contexts_dir
    if not base.is_dir():
        return
    conn = app.store.connection()
    jobs = set(rows.job_ids(conn))
    open_ids = rows.open_runs(conn)
    for job_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        if job_dir.name not in jobs:
            _remove_tree(job_dir, dry_run, report)
            continue
        for run_dir in sorted(p for p in job_dir.iterdir() if p.is_dir() and p.name != "shared"):
            # An ephemeral run directory outlives its run only after a crash; one being created has no run yet
            # for a moment: leave directories younger than a minute alone.
            if run_dir.name in open_ids or time.time() - run_dir.stat().st_mtime < 60:
                continue
            _remove_tree(run_dir, dry_run, report)


def _remove_tree(path: Path, dry_run: bool, report: dict[str, Any]) -> None:
    size = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            size += _size_of(Path(root) / name) or 0
    report["contexts"] += 1
    report["bytes"] += size
    if not dry_run:
        shutil.rmtree(path, ignore_errors=True)


def _prune_audit(app: App, before_ms: int, now_ms: int, dry_run: bool, report: dict[str, Any]) -> None:
    conn = app.store.connection()
    cut = rows.audit_cut(conn, before_ms)
    if cut is None:
        return
    upto, _hash, _at, count = cut
    if dry_run:
        report["audit_events"] = count
        return
    while True:
        with app.store.write() as tx:
            batch = rows.audit_prefix(tx, upto, AUDIT_BATCH)
            if batch is None:
                break
            seq, digest, at, n = batch
            report["audit_events"] += rows.prune_audit(tx, seq=seq, hash=digest, at=at, count=n, now_ms=now_ms)
            report["checkpoint"] = {"seq": seq, "hash": digest}
        if n < AUDIT_BATCH:
            break


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def last_prune_ms(app: App) -> int | None:
    value = rows.get_meta(app.store.connection(), LAST_PRUNE)
    return int(value) if value else None


class RetentionWorker:
    """The daemon's retention thread: a pass when the last one (whoever ran it: the daemon or ``symbi store
    prune``) is ``interval_hours`` old, then the next one ``interval_hours`` later. Reads ``[retention]`` at each
    wake, so a reload applies."""

    #: The first pass waits this long after the daemon starts (start-up and the first slots come first).
    FIRST_DELAY = 10.0

    def __init__(self, app: App) -> None:
        self.app = app
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RetentionWorker:
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def due_in(self) -> float:
        """Seconds until the next pass (0: now)."""
        s = self.app.settings.retention
        interval = float(s.interval_hours) * 3600
        last = last_prune_ms(self.app)
        if last is None:
            return 0.0
        return max(0.0, last / 1000 + interval - self.app.clock.now().timestamp())

    def _loop(self) -> None:
        self._stop.wait(self.FIRST_DELAY)
        while not self._stop.is_set():
            try:
                wait = self.due_in() if self.app.settings.retention.enabled else 3600.0
            except Exception as exc:  # the store is unreachable: try again later
                log.warning("retention: cannot read when it last ran: %s", exc)
                wait = 60.0
            if wait > 0:
                self._stop.wait(min(wait, 3600.0))  # re-read the settings at least hourly (a reload may change them)
                continue
            self.run_once()
        self.app.store.close()

    def run_once(self) -> dict[str, Any] | None:
        started = time.monotonic()
        try:
            report = prune(self.app)
        except Exception as exc:
            log.error("retention: the pass failed: %s", exc)
            self._stop.wait(60.0)
            return None
        log.info("retention: %s in %.1fs", summary(report), time.monotonic() - started)
        return report


def summary(report: dict[str, Any]) -> str:
    """One line for people: what was (or would be) removed."""
    verb = "would remove" if report["dry_run"] else "removed"
    parts = [
        f"{report['runs']} runs",
        f"{report['run_logs']} run logs",
        f"{report['job_logs_removed']} job logs",
        f"{report['contexts']} context directories",
        f"{report['audit_events']} audit events",
    ]
    text = f"{verb} {', '.join(parts)} ({_human(report['bytes'])} of files)"
    if report["job_logs_rotated"]:
        text += f"; {'would rotate' if report['dry_run'] else 'rotated'} {report['job_logs_rotated']} job logs"
    if report.get("checkpoint"):
        text += f"; audit checkpoint at seq {report['checkpoint']['seq']}"
    return text


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
