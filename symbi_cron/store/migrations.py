"""The versioned schema. Append a migration to change it; never edit a released one.

``PRAGMA user_version`` holds the version applied (a ``schema_version`` table on PostgreSQL, where
``store/postgres.pg_ddl`` translates each statement: one source for both dialects). Each migration runs inside the
same write transaction that bumps the version, so a failed migration leaves the store as it was. Instants are
INTEGER milliseconds since the Unix epoch (UTC): they sort and compare as instants."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "jobs, runs, agents, deliveries and the audit log",
        """
        CREATE TABLE agents (
            name        TEXT PRIMARY KEY,
            spec        TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL
        );

        CREATE TABLE jobs (
            id             TEXT PRIMARY KEY,
            name           TEXT NOT NULL UNIQUE,
            agent_id       TEXT NOT NULL,
            status         TEXT NOT NULL,
            spec           TEXT NOT NULL,
            next_run       INTEGER,
            last_run       INTEGER,
            run_count      INTEGER NOT NULL DEFAULT 0,
            failure_count  INTEGER NOT NULL DEFAULT 0,
            created_at     INTEGER NOT NULL,
            updated_at     INTEGER NOT NULL
        );
        CREATE INDEX jobs_due ON jobs(next_run) WHERE status = 'active';
        CREATE INDEX jobs_agent ON jobs(agent_id);
        CREATE INDEX jobs_status ON jobs(status);

        CREATE TABLE runs (
            id                 TEXT PRIMARY KEY,
            job_id             TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            trigger            TEXT NOT NULL,
            status             TEXT NOT NULL,
            scheduled_for      INTEGER NOT NULL,
            attempt            INTEGER NOT NULL DEFAULT 1,
            input              TEXT,
            not_before         INTEGER,
            started_at         INTEGER,
            finished_at        INTEGER,
            execution_time_ms  INTEGER,
            exit_code          INTEGER,
            output             TEXT,
            summary            TEXT,
            error_message      TEXT,
            iterations         INTEGER NOT NULL DEFAULT 0,
            detail             TEXT,
            daemon_id          TEXT,
            created_at         INTEGER NOT NULL,
            updated_at         INTEGER NOT NULL,
            UNIQUE (job_id, scheduled_for)
        );
        CREATE INDEX runs_job_time ON runs(job_id, scheduled_for DESC);
        CREATE INDEX runs_open ON runs(status, not_before)
            WHERE status IN ('queued', 'running', 'pending_approval');

        CREATE TABLE deliveries (
            run_id    TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            channel   TEXT NOT NULL,
            ok        INTEGER NOT NULL,
            detail    TEXT,
            attempts  INTEGER NOT NULL DEFAULT 1,
            at        INTEGER NOT NULL,
            PRIMARY KEY (run_id, channel)
        );

        CREATE TABLE audit (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            at         INTEGER NOT NULL,
            type       TEXT NOT NULL,
            actor      TEXT NOT NULL,
            job_id     TEXT,
            job_name   TEXT,
            run_id     TEXT,
            details    TEXT NOT NULL,
            prev_hash  TEXT NOT NULL,
            hash       TEXT NOT NULL
        );
        CREATE INDEX audit_type_at ON audit(type, at);
        CREATE INDEX audit_job ON audit(job_id, at);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    ),
    (
        2,
        "model agents: tokens and cost per run",
        """
        ALTER TABLE runs ADD COLUMN input_tokens INTEGER;
        ALTER TABLE runs ADD COLUMN output_tokens INTEGER;
        ALTER TABLE runs ADD COLUMN cost_usd REAL;
        """,
    ),
    (
        3,
        "daemon leases: several supervisors sharing one store",
        """
        CREATE TABLE daemons (
            id           TEXT PRIMARY KEY,
            host         TEXT NOT NULL,
            pid          INTEGER NOT NULL,
            started_at   INTEGER NOT NULL,
            lease_until  INTEGER NOT NULL
        );
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]
