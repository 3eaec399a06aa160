"""The store contract: what the scheduler, the services, the metrics and shell completion may ask of a store, and
what each answer promises. Nothing outside ``symbi_cron/store/`` speaks SQL (``tests/store/test_contract.py``
walks the package); it asks for an operation by name.

A store is two things:

* **A backend** (:class:`Backend`): connections and transactions. ``store/db.py`` (SQLite) and
  ``store/postgres.py`` (PostgreSQL) implement it on the template of ``store/base.py``; ``store/factory.py`` picks
  one.
* **Operations** (:data:`OPERATIONS`): functions of the table modules (``jobs``, ``runs``, ``outbox``...), each
  taking a connection the caller got from the backend, each listed below with its transaction and locking promise.
  The SQL lives in them. A statement is written once when both dialects read it the same, and once per dialect,
  side by side (``base.PerDialect``), where they must differ.

Transactions, the :data:`WRITE` / :data:`READ` of each operation:

* ``WRITE``: called with the connection of ``store.write()``. It joins that transaction: it commits with the
  caller's other changes or rolls back with them (a failed write leaves the store as it was). SQLite serialises
  writes store-wide (the store's file lock, then ``BEGIN IMMEDIATE``). PostgreSQL locks rows (issue 17): the
  claim's job (``jobs.get_for_claim``, SKIP LOCKED), the start's and the record's job then run
  (``runs.get_for_start``, ``runs.get_for_finish``); two orders stay store-wide, each behind a transaction-level
  advisory lock held to the commit: the audit chain's append and the start's count of ``max_concurrent_jobs``
  (``runs.lock_starts``). So what a write read under those locks stays true until it commits.
* ``READ``: any connection. Alone, one statement and its own snapshot; inside ``store.read()``, one snapshot for
  several reads (no lock); inside ``store.write()``, the transaction's own changes.

Several daemons on one PostgreSQL (issue 17) claim rows: the claim and the start each read their candidates
without a lock (``jobs.due``, ``runs.startable``), then take each one inside their write through one named
operation (``jobs.get_for_claim``, ``runs.get_for_start``), which locks it (``FOR UPDATE SKIP LOCKED``: None for a
row another daemon holds). A run's way through the store is named step by step: claimed (``jobs.get_for_claim``,
``runs.insert``), begun (``runs.get_for_start``, ``runs.begin`` under its owner's id and lease token), finished
(``runs.get_for_finish``, ``runs.finish``). Leases (``daemons.register``, ``daemons.extend``, ``daemons.remove``,
``daemons.lease_of``, ``daemons.forget_lapsed``) carry a fencing token and are extended only under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

#: Called with the connection of ``store.write()``: part of the caller's transaction, under the store's write lock.
WRITE = "write"
#: Any connection: alone (its own snapshot), inside ``store.read()`` (one snapshot) or inside a write.
READ = "read"


@runtime_checkable
class Backend(Protocol):
    """Connections and transactions: what ``store.db.Store`` and ``store.postgres.PgStore`` both offer."""

    #: ``"sqlite"`` or ``"postgresql"``: which statement of a ``PerDialect`` pair the connections take.
    dialect: str
    #: Where the store is, for messages: the SQLite file, or the PostgreSQL URL without its password.
    path: Any

    def connection(self) -> Any:
        """This thread's connection (one per thread), opened, and migrated to the latest schema, on first use."""

    def write(self) -> AbstractContextManager[Any]:
        """One atomic change under the store-wide write lock; yields the connection. Nested calls join the outer
        transaction; any exception rolls the whole change back. Driver errors become ``StoreError``."""

    def savepoint(self, name: str = "sp") -> AbstractContextManager[Any]:
        """A part of the current write that can fail alone (an exception rolls back only what was done inside)."""

    def read(self) -> AbstractContextManager[Any]:
        """One consistent snapshot for several reads, no lock taken (inside a write: the write's connection)."""

    def in_write(self) -> bool:
        """Whether this thread is inside ``write()``."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current write commits (dropped on rollback; at once outside a write)."""

    def notify_changed(self, origin: str = "") -> None:
        """Tell the daemons sharing this store that it changed (PostgreSQL: NOTIFY at commit; SQLite: nothing, the
        CLI signals its one daemon)."""

    def check_writable(self) -> None:
        """A real, idempotent write: a read-only store fails here (the daemon asks before it says READY)."""

    def compact(self) -> None:
        """After removing many rows: give the space back where the backend needs asking (SQLite's WAL)."""

    def schema_version(self) -> int:
        """The schema version applied."""

    def migrate(self) -> int:
        """Apply pending migrations in one transaction; the version reached. A newer schema is refused."""

    def close(self) -> None:
        """Close this thread's connection."""

    def give_back(self) -> None:
        """This thread will not need the store for a while: a store that rations its connections (a PostgreSQL run
        owner's, ``store.owner_connections``) closes this thread's and gives its slot back; any other keeps it."""

    def query(self, sql: str, params: tuple | dict = ()) -> list[Any]:
        """One ad hoc read (tests and benchmarks look at rows with it; the package asks for operations)."""


@dataclass(frozen=True)
class Operation:
    """One thing the store answers: ``name`` is ``module.function`` in ``symbi_cron.store``."""

    name: str
    tx: str
    promise: str = ""


#: Who asks what. An operation asked by several is listed once, under the first.
OPERATIONS: dict[str, tuple[Operation, ...]] = {
    # runtime/supervisor.py (the tick), runtime/owner.py (a run's owner), and the services they call for one run:
    # services/claim.py, start.py, record.py, delivery.py, leases.py.
    "scheduler": (
        Operation("jobs.due", READ, "the claim's candidates, earliest first, read without a lock"),
        Operation("jobs.earliest_next_run", READ),
        Operation("jobs.count_due", READ, "the jobs due by an instant (the owners kept ready for them)"),
        Operation(
            "jobs.claimable",
            WRITE,
            "the due jobs the claiming transaction takes, each locked until it ends; a row-locking backend skips the"
            " ones another transaction holds (FOR UPDATE SKIP LOCKED, one statement)",
        ),
        Operation(
            "jobs.get_for_claim",
            WRITE,
            "the job is the claiming transaction's until it ends; a row-locking backend answers None for a job"
            " another transaction holds (FOR UPDATE SKIP LOCKED)",
        ),
        Operation(
            "runs.insert",
            WRITE,
            "claims a slot exactly once: a second insert of the same (job_id, scheduled_for) changes nothing and"
            " answers False, whatever lock is held (the UNIQUE constraint)",
        ),
        Operation(
            "runs.occupancy",
            WRITE,
            "counted inside the claiming transaction: no other writer adds a run of the job before it commits",
        ),
        Operation("runs.startable", READ, "the start's candidates, in order, read without a lock"),
        Operation(
            "runs.get_for_start",
            WRITE,
            "the run is the starting transaction's until it ends; a row-locking backend locks the run (SKIP LOCKED:"
            " None when held) and its job, so that max_concurrent is counted by one transaction at a time",
        ),
        Operation("runs.count_running", WRITE, "counted inside the starting transaction (max_concurrent)"),
        Operation(
            "runs.lock_starts",
            WRITE,
            "until the write ends no other start counts the running runs (PostgreSQL: a transaction-level advisory"
            " lock; the transaction does no network I/O)",
        ),
        Operation(
            "runs.count_all_running",
            WRITE,
            "every daemon's running runs, counted after runs.lock_starts (a cluster-wide max_concurrent_jobs)",
        ),
        Operation(
            "jobs.lock",
            WRITE,
            "the job's row until the write ends (FOR UPDATE, or SKIP LOCKED: False when another transaction holds"
            " it); every writer of a job's runs locks the job first, then the run",
        ),
        Operation(
            "runs.begin",
            WRITE,
            "in the write that took the run (runs.get_for_start) and passed its gate: the run is running under its"
            " owner's id once that write commits, carrying its owner's lease token (fence)",
        ),
        Operation(
            "runs.unbegin",
            WRITE,
            "a run prepared ahead whose owner stopped before its start time is queued again, unstarted, in the write"
            " that read it (runs.get_for_finish) still running under that owner",
        ),
        Operation(
            "runs.get_for_finish",
            WRITE,
            "the run is the recording transaction's until it ends, so an outcome is counted once; a row-locking"
            " backend locks it (FOR UPDATE, waiting: an outcome is never skipped)",
        ),
        Operation(
            "runs.finish",
            WRITE,
            "the final status and outcome, in the write that read the run (runs.get_for_finish) not yet final, with"
            " the job's counters and the owed deliveries (outbox.enqueue); the caller checked, on the locked row,"
            " that the run is still its to record (a fenced-off owner's outcome is refused)",
        ),
        Operation("runs.status_of", READ),
        Operation("runs.next_not_before", READ),
        Operation("runs.count_queued", READ),
        Operation("runs.statuses", READ),
        Operation("runs.with_status", READ),
        Operation("runs.running_owned_by", READ),
        Operation("runs.last_scheduled_slot", READ),
        Operation("runs.previous_summary", READ),
        Operation("runs.previous_status", READ),
        Operation("runs.get", READ),
        Operation("runs.update", WRITE),
        Operation("jobs.get", READ),
        Operation("jobs.status_of", READ),
        Operation("jobs.set_state", WRITE),
        Operation("agents.get", READ),
        Operation(
            "outbox.enqueue",
            WRITE,
            "in the transaction that records the run's outcome: a finished run's deliveries are never forgotten",
        ),
        Operation("outbox.owed", READ),
        Operation("outbox.settle", WRITE, "in the transaction that stores the channel's receipt"),
        Operation("outbox.owners", READ),
        Operation(
            "outbox.take_over",
            WRITE,
            "only the rows the old owner still holds: two sweepers cannot both take a row",
        ),
        Operation("deliveries.save_receipts", WRITE, "a second receipt of a run and channel replaces the first"),
        Operation(
            "daemons.register",
            WRITE,
            "answers the lease's fencing token: greater than any before it when taken again after it lapsed",
        ),
        Operation(
            "daemons.extend",
            WRITE,
            "extends only a lease still held under the caller's token and, for a daemon, not lapsed (False"
            " otherwise: the holder learns its runs may have been taken over)",
        ),
        Operation("daemons.remove", WRITE),
        Operation(
            "daemons.lease_of",
            READ,
            "with lock=True (inside a write), the row stays as read until the write ends: its holder cannot renew"
            " it while another daemon decides to take its run over",
        ),
        Operation("daemons.loads", READ, "each live daemon's running runs (its owners' leases name it)"),
        Operation("daemons.parent_of", READ, "the daemon a run owner works for, as its lease row names it"),
        Operation("daemons.forget_lapsed", WRITE, "only holders with no running run and no owed delivery"),
        Operation("daemons.label", WRITE, "the holder's name, version and last renewal, on its own lease row only"),
        Operation(
            "audit.append_event",
            WRITE,
            "in the transaction of the change it records; reading the chain's last row and appending to it is one"
            " step: on PostgreSQL the append takes a transaction-level advisory lock of its own, held to the commit",
        ),
    ),
    # services/: the use cases behind the CLI and the HTTP API (jobs, agents, runs, approvals, audit, retention,
    # doctor, store migrate). The API reaches the store only through them.
    "services": (
        Operation("jobs.insert", WRITE, "names are unique: the UNIQUE constraint is the last word"),
        Operation("jobs.update_spec", WRITE),
        Operation("jobs.delete", WRITE, "its runs, receipts and owed deliveries go with it (ON DELETE CASCADE)"),
        Operation("jobs.find", READ),
        Operation("jobs.by_name", READ),
        Operation("jobs.name_of", READ),
        Operation("jobs.name_taken", READ),
        Operation("jobs.names_using_agent", READ),
        Operation("jobs.list_jobs", READ, "a page by name (a keyset: no OFFSET)"),
        Operation("jobs.spec_texts", READ),
        Operation("runs.find", READ),
        Operation("runs.for_job", READ, "a page by slot, newest first (a keyset on runs_job_time)"),
        Operation("agents.list_agents", READ),
        Operation("agents.spec_texts", READ),
        Operation("agents.upsert", WRITE),
        Operation("agents.delete", WRITE),
        Operation("deliveries.load_receipts", READ),
        Operation("audit.find_events", READ),
        Operation("audit.first_seq", READ),
        Operation("audit.in_order", READ, "a cursor over the whole log: call it inside store.read()"),
        Operation("audit.highest_seq_ever", READ),
        Operation("retention.job_ids", READ),
        Operation(
            "retention.prunable_runs",
            READ,
            "never an open run, a run with an owed delivery, or a job's newest finished run",
        ),
        Operation(
            "retention.delete_runs", WRITE, "removes only final runs with no owed delivery, checked in the statement"
        ),
        Operation("retention.existing_runs", READ),
        Operation("retention.open_runs", READ),
        Operation("retention.audit_cut", READ),
        Operation("retention.audit_prefix", READ),
        Operation(
            "retention.prune_audit",
            WRITE,
            "the checkpoint and the removal in one transaction; the schema refuses a removal past the newest"
            " checkpoint",
        ),
        Operation("retention.checkpoints", READ),
        Operation("retention.get_meta", READ),
        Operation("retention.set_meta", WRITE),
        Operation("retention.sizes", READ),
        Operation("transfer.count_rows", READ),
        Operation("transfer.clear_stats", WRITE),
        Operation("transfer.copy_rows", WRITE, "reads the source (inside its store.read()), writes the target"),
    ),
    # http/metrics.py and services/health.py: counters the triggers keep as runs finish, no scan of the history.
    "metrics": (
        Operation("stats.scheduler_totals", READ),
        Operation("stats.job_counts", READ),
        Operation("stats.open_run_counts", READ),
        Operation("stats.delivery_failure_totals", READ),
        Operation("stats.job_count", READ),
        Operation("stats.job_names", READ),
        Operation("stats.job_rows", READ),
        Operation("stats.job_delivery_failures", READ),
        Operation("stats.run_totals", READ),
        Operation("stats.jobs_in_status", READ),
        Operation("stats.earliest_due", READ),
        Operation("stats.running_runs", READ),
        Operation("stats.model_totals", READ, "runs, tokens and cost per model, kept by the triggers (model_stats)"),
        Operation("daemons.count_live", READ),
        Operation("daemons.live_daemons", READ, "the supervisors whose lease holds now, with their names and versions"),
        Operation("runs.running_by_daemon", READ, "running runs counted per daemon name, through the runs_open index"),
        Operation("deliveries.failed_delivery_count", READ),
    ),
    # services/dashboard.py, services/dashboard_sessions.py and services/usage.py, behind http/dashboard.py (the
    # web dashboard's pages, its login links and sessions, and tokens and cost per day, job, agent and model).
    "dashboard": (
        Operation("dashboard.job_page", READ, "a page of jobs by name, filtered, through the jobs' indexes"),
        Operation("dashboard.job_total", READ),
        Operation("dashboard.agent_names", READ),
        Operation("dashboard.latest_runs", READ, "each job's newest runs (no output), one indexed read per job"),
        Operation("dashboard.runs_between", READ, "a job's runs in a time window, at most ``cap`` per job"),
        Operation("dashboard.runs_in_window_count", READ),
        Operation("dashboard.last_outcomes", READ),
        Operation("dashboard.open_runs", READ),
        Operation(
            "dashboard.pulse",
            READ,
            "changes whenever a page could show something new (the audit's last event, the open runs, the run"
            " counters); call it inside store.read() to read the three parts in one snapshot",
        ),
        Operation("dashboard_sessions.add", WRITE, "only the token's hash is stored"),
        Operation("dashboard_sessions.get", READ, "None for an unknown or expired token"),
        Operation(
            "dashboard_sessions.remove",
            WRITE,
            "how many rows went; read (dashboard_sessions.get) and removed in one write, a one-time login link"
            " is taken once (writes are serialised store-wide)",
        ),
        Operation("dashboard_sessions.remove_all", WRITE, "the counts and the removal in one transaction"),
        Operation("dashboard_sessions.purge_expired", WRITE),
        Operation("usage.usage_rows", READ, "model runs by finish time through the runs_usage index"),
        Operation(
            "usage.spent",
            READ,
            "what a job's or a model's runs finished since an instant spent (services/budgets.py, as a run starts):"
            " through runs_job_finished or runs_usage",
        ),
    ),
    # cli/completers.py, at every Tab press: opens the SQLite file read-only itself (never creates or migrates it)
    # and answers nothing on any problem, or on a PostgreSQL store.
    "completion": (
        Operation("completion.jobs", READ),
        Operation("completion.agent_names", READ),
        Operation("completion.pending_runs", READ),
    ),
}


def operations() -> Iterator[tuple[str, Operation]]:
    """``(who asks, operation)`` of every operation."""
    for asker, ops in OPERATIONS.items():
        for op in ops:
            yield asker, op
