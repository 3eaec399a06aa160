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
    (
        4,
        "run statistics kept as runs finish (metrics and health without scanning runs); audit checkpoints (pruning)",
        """
        CREATE TABLE job_stats (
            job_id            TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
            succeeded         INTEGER NOT NULL DEFAULT 0,
            failed            INTEGER NOT NULL DEFAULT 0,
            timed_out         INTEGER NOT NULL DEFAULT 0,
            denied            INTEGER NOT NULL DEFAULT 0,
            skipped           INTEGER NOT NULL DEFAULT 0,
            missed            INTEGER NOT NULL DEFAULT 0,
            interrupted       INTEGER NOT NULL DEFAULT 0,
            cancelled         INTEGER NOT NULL DEFAULT 0,
            duration_count    INTEGER NOT NULL DEFAULT 0,
            duration_sum_ms   INTEGER NOT NULL DEFAULT 0,
            duration_max_ms   INTEGER NOT NULL DEFAULT 0,
            le_100ms          INTEGER NOT NULL DEFAULT 0,
            le_250ms          INTEGER NOT NULL DEFAULT 0,
            le_500ms          INTEGER NOT NULL DEFAULT 0,
            le_1s             INTEGER NOT NULL DEFAULT 0,
            le_2500ms         INTEGER NOT NULL DEFAULT 0,
            le_5s             INTEGER NOT NULL DEFAULT 0,
            le_10s            INTEGER NOT NULL DEFAULT 0,
            le_30s            INTEGER NOT NULL DEFAULT 0,
            le_1m             INTEGER NOT NULL DEFAULT 0,
            le_2m             INTEGER NOT NULL DEFAULT 0,
            le_5m             INTEGER NOT NULL DEFAULT 0,
            le_10m            INTEGER NOT NULL DEFAULT 0,
            le_30m            INTEGER NOT NULL DEFAULT 0,
            le_1h             INTEGER NOT NULL DEFAULT 0,
            model_runs        INTEGER NOT NULL DEFAULT 0,
            input_tokens      INTEGER NOT NULL DEFAULT 0,
            output_tokens     INTEGER NOT NULL DEFAULT 0,
            priced_runs       INTEGER NOT NULL DEFAULT 0,
            cost_usd          REAL NOT NULL DEFAULT 0,
            dead_letters      INTEGER NOT NULL DEFAULT 0,
            last_status       TEXT,
            last_finished_at  INTEGER,
            last_duration_ms  INTEGER,
            last_success_at   INTEGER
        );

        CREATE TABLE scheduler_stats (
            id                INTEGER PRIMARY KEY CHECK (id = 1),
            succeeded         INTEGER NOT NULL DEFAULT 0,
            failed            INTEGER NOT NULL DEFAULT 0,
            timed_out         INTEGER NOT NULL DEFAULT 0,
            denied            INTEGER NOT NULL DEFAULT 0,
            skipped           INTEGER NOT NULL DEFAULT 0,
            missed            INTEGER NOT NULL DEFAULT 0,
            interrupted       INTEGER NOT NULL DEFAULT 0,
            cancelled         INTEGER NOT NULL DEFAULT 0,
            duration_count    INTEGER NOT NULL DEFAULT 0,
            duration_sum_ms   INTEGER NOT NULL DEFAULT 0,
            duration_max_ms   INTEGER NOT NULL DEFAULT 0,
            le_100ms          INTEGER NOT NULL DEFAULT 0,
            le_250ms          INTEGER NOT NULL DEFAULT 0,
            le_500ms          INTEGER NOT NULL DEFAULT 0,
            le_1s             INTEGER NOT NULL DEFAULT 0,
            le_2500ms         INTEGER NOT NULL DEFAULT 0,
            le_5s             INTEGER NOT NULL DEFAULT 0,
            le_10s            INTEGER NOT NULL DEFAULT 0,
            le_30s            INTEGER NOT NULL DEFAULT 0,
            le_1m             INTEGER NOT NULL DEFAULT 0,
            le_2m             INTEGER NOT NULL DEFAULT 0,
            le_5m             INTEGER NOT NULL DEFAULT 0,
            le_10m            INTEGER NOT NULL DEFAULT 0,
            le_30m            INTEGER NOT NULL DEFAULT 0,
            le_1h             INTEGER NOT NULL DEFAULT 0,
            model_runs        INTEGER NOT NULL DEFAULT 0,
            input_tokens      INTEGER NOT NULL DEFAULT 0,
            output_tokens     INTEGER NOT NULL DEFAULT 0,
            priced_runs       INTEGER NOT NULL DEFAULT 0,
            cost_usd          REAL NOT NULL DEFAULT 0,
            dead_letters      INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE job_delivery_failures (
            job_id    TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            channel   TEXT NOT NULL,
            failures  INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (job_id, channel)
        );

        CREATE TABLE delivery_failure_totals (
            channel   TEXT PRIMARY KEY,
            failures  INTEGER NOT NULL DEFAULT 0
        );

        -- One body for both paths (a run inserted final, a run updated to final): an INSTEAD OF trigger on a view.
        -- No `x IN (...)` lists in trigger code: SQLite builds an ephemeral index for one at every execution
        -- (it made a finished run cost 0.3 ms); CASE x WHEN ... does the same test for free.
        CREATE VIEW run_outcomes AS
            SELECT job_id, status, 0 AS executed, execution_time_ms AS duration_ms, finished_at, input_tokens,
                output_tokens, cost_usd
            FROM runs WHERE 1 = 0;

        CREATE TRIGGER run_outcomes_count INSTEAD OF INSERT ON run_outcomes
        BEGIN
            INSERT INTO job_stats (job_id) VALUES (new.job_id) ON CONFLICT (job_id) DO NOTHING;
            UPDATE job_stats SET
                succeeded = succeeded + CASE WHEN new.status = 'succeeded' THEN 1 ELSE 0 END,
                failed = failed + CASE WHEN new.status = 'failed' THEN 1 ELSE 0 END,
                timed_out = timed_out + CASE WHEN new.status = 'timed_out' THEN 1 ELSE 0 END,
                denied = denied + CASE WHEN new.status = 'denied' THEN 1 ELSE 0 END,
                skipped = skipped + CASE WHEN new.status = 'skipped' THEN 1 ELSE 0 END,
                missed = missed + CASE WHEN new.status = 'missed' THEN 1 ELSE 0 END,
                interrupted = interrupted + CASE WHEN new.status = 'interrupted' THEN 1 ELSE 0 END,
                cancelled = cancelled + CASE WHEN new.status = 'cancelled' THEN 1 ELSE 0 END,
                duration_count = duration_count + CASE WHEN new.duration_ms IS NULL THEN 0 ELSE 1 END,
                duration_sum_ms = duration_sum_ms + COALESCE(new.duration_ms, 0),
                duration_max_ms = CASE WHEN new.duration_ms > duration_max_ms THEN new.duration_ms
                    ELSE duration_max_ms END,
                le_100ms = le_100ms + CASE WHEN new.duration_ms <= 100 THEN 1 ELSE 0 END,
                le_250ms = le_250ms + CASE WHEN new.duration_ms <= 250 THEN 1 ELSE 0 END,
                le_500ms = le_500ms + CASE WHEN new.duration_ms <= 500 THEN 1 ELSE 0 END,
                le_1s = le_1s + CASE WHEN new.duration_ms <= 1000 THEN 1 ELSE 0 END,
                le_2500ms = le_2500ms + CASE WHEN new.duration_ms <= 2500 THEN 1 ELSE 0 END,
                le_5s = le_5s + CASE WHEN new.duration_ms <= 5000 THEN 1 ELSE 0 END,
                le_10s = le_10s + CASE WHEN new.duration_ms <= 10000 THEN 1 ELSE 0 END,
                le_30s = le_30s + CASE WHEN new.duration_ms <= 30000 THEN 1 ELSE 0 END,
                le_1m = le_1m + CASE WHEN new.duration_ms <= 60000 THEN 1 ELSE 0 END,
                le_2m = le_2m + CASE WHEN new.duration_ms <= 120000 THEN 1 ELSE 0 END,
                le_5m = le_5m + CASE WHEN new.duration_ms <= 300000 THEN 1 ELSE 0 END,
                le_10m = le_10m + CASE WHEN new.duration_ms <= 600000 THEN 1 ELSE 0 END,
                le_30m = le_30m + CASE WHEN new.duration_ms <= 1800000 THEN 1 ELSE 0 END,
                le_1h = le_1h + CASE WHEN new.duration_ms <= 3600000 THEN 1 ELSE 0 END,
                model_runs = model_runs + CASE WHEN new.input_tokens IS NULL THEN 0 ELSE 1 END,
                input_tokens = input_tokens + COALESCE(new.input_tokens, 0),
                output_tokens = output_tokens + COALESCE(new.output_tokens, 0),
                priced_runs = priced_runs + CASE WHEN new.cost_usd IS NULL THEN 0 ELSE 1 END,
                cost_usd = cost_usd + COALESCE(new.cost_usd, 0),
                last_status = CASE WHEN new.executed = 1 THEN new.status ELSE last_status END,
                last_finished_at = CASE WHEN new.executed = 1 THEN new.finished_at ELSE last_finished_at END,
                last_duration_ms = CASE WHEN new.executed = 1 THEN new.duration_ms ELSE last_duration_ms END,
                last_success_at = CASE WHEN new.status = 'succeeded' THEN new.finished_at ELSE last_success_at END
            WHERE job_id = new.job_id;
            UPDATE scheduler_stats SET
                succeeded = succeeded + CASE WHEN new.status = 'succeeded' THEN 1 ELSE 0 END,
                failed = failed + CASE WHEN new.status = 'failed' THEN 1 ELSE 0 END,
                timed_out = timed_out + CASE WHEN new.status = 'timed_out' THEN 1 ELSE 0 END,
                denied = denied + CASE WHEN new.status = 'denied' THEN 1 ELSE 0 END,
                skipped = skipped + CASE WHEN new.status = 'skipped' THEN 1 ELSE 0 END,
                missed = missed + CASE WHEN new.status = 'missed' THEN 1 ELSE 0 END,
                interrupted = interrupted + CASE WHEN new.status = 'interrupted' THEN 1 ELSE 0 END,
                cancelled = cancelled + CASE WHEN new.status = 'cancelled' THEN 1 ELSE 0 END,
                duration_count = duration_count + CASE WHEN new.duration_ms IS NULL THEN 0 ELSE 1 END,
                duration_sum_ms = duration_sum_ms + COALESCE(new.duration_ms, 0),
                duration_max_ms = CASE WHEN new.duration_ms > duration_max_ms THEN new.duration_ms
                    ELSE duration_max_ms END,
                le_100ms = le_100ms + CASE WHEN new.duration_ms <= 100 THEN 1 ELSE 0 END,
                le_250ms = le_250ms + CASE WHEN new.duration_ms <= 250 THEN 1 ELSE 0 END,
                le_500ms = le_500ms + CASE WHEN new.duration_ms <= 500 THEN 1 ELSE 0 END,
                le_1s = le_1s + CASE WHEN new.duration_ms <= 1000 THEN 1 ELSE 0 END,
                le_2500ms = le_2500ms + CASE WHEN new.duration_ms <= 2500 THEN 1 ELSE 0 END,
                le_5s = le_5s + CASE WHEN new.duration_ms <= 5000 THEN 1 ELSE 0 END,
                le_10s = le_10s + CASE WHEN new.duration_ms <= 10000 THEN 1 ELSE 0 END,
                le_30s = le_30s + CASE WHEN new.duration_ms <= 30000 THEN 1 ELSE 0 END,
                le_1m = le_1m + CASE WHEN new.duration_ms <= 60000 THEN 1 ELSE 0 END,
                le_2m = le_2m + CASE WHEN new.duration_ms <= 120000 THEN 1 ELSE 0 END,
                le_5m = le_5m + CASE WHEN new.duration_ms <= 300000 THEN 1 ELSE 0 END,
                le_10m = le_10m + CASE WHEN new.duration_ms <= 600000 THEN 1 ELSE 0 END,
                le_30m = le_30m + CASE WHEN new.duration_ms <= 1800000 THEN 1 ELSE 0 END,
                le_1h = le_1h + CASE WHEN new.duration_ms <= 3600000 THEN 1 ELSE 0 END,
                model_runs = model_runs + CASE WHEN new.input_tokens IS NULL THEN 0 ELSE 1 END,
                input_tokens = input_tokens + COALESCE(new.input_tokens, 0),
                output_tokens = output_tokens + COALESCE(new.output_tokens, 0),
                priced_runs = priced_runs + CASE WHEN new.cost_usd IS NULL THEN 0 ELSE 1 END,
                cost_usd = cost_usd + COALESCE(new.cost_usd, 0)
            WHERE id = 1;
        END;

        CREATE TRIGGER runs_finished_insert AFTER INSERT ON runs
            WHEN CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 ELSE 0 END = 1
        BEGIN
            INSERT INTO run_outcomes (job_id, status, executed, duration_ms, finished_at, input_tokens, output_tokens,
                cost_usd)
            VALUES (new.job_id, new.status, CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1
                WHEN 'timed_out' THEN 1 WHEN 'interrupted' THEN 1 ELSE 0 END, new.execution_time_ms,
                COALESCE(new.finished_at, new.updated_at), new.input_tokens, new.output_tokens, new.cost_usd);
        END;

        CREATE TRIGGER runs_finished_update AFTER UPDATE OF status ON runs
            WHEN CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 ELSE 0 END = 1
                AND CASE old.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 ELSE 0 END = 0
        BEGIN
            INSERT INTO run_outcomes (job_id, status, executed, duration_ms, finished_at, input_tokens, output_tokens,
                cost_usd)
            VALUES (new.job_id, new.status, CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1
                WHEN 'timed_out' THEN 1 WHEN 'interrupted' THEN 1 ELSE 0 END, new.execution_time_ms,
                COALESCE(new.finished_at, new.updated_at), new.input_tokens, new.output_tokens, new.cost_usd);
        END;

        CREATE TRIGGER jobs_dead_lettered AFTER UPDATE OF status ON jobs
            WHEN new.status = 'dead_letter' AND old.status <> 'dead_letter'
        BEGIN
            INSERT INTO job_stats (job_id) VALUES (new.id) ON CONFLICT (job_id) DO NOTHING;
            UPDATE job_stats SET dead_letters = dead_letters + 1 WHERE job_id = new.id;
            UPDATE scheduler_stats SET dead_letters = dead_letters + 1 WHERE id = 1;
        END;

        CREATE TRIGGER deliveries_failed_insert AFTER INSERT ON deliveries
            WHEN new.ok = 0
        BEGIN
            INSERT INTO job_delivery_failures (job_id, channel, failures)
                VALUES ((SELECT job_id FROM runs WHERE id = new.run_id), new.channel, 1)
                ON CONFLICT (job_id, channel) DO UPDATE SET failures = job_delivery_failures.failures + 1;
            INSERT INTO delivery_failure_totals (channel, failures) VALUES (new.channel, 1)
                ON CONFLICT (channel) DO UPDATE SET failures = delivery_failure_totals.failures + 1;
        END;

        CREATE TRIGGER deliveries_failed_update AFTER UPDATE OF ok ON deliveries
            WHEN new.ok = 0 AND (old.ok IS NULL OR old.ok <> 0)
        BEGIN
            INSERT INTO job_delivery_failures (job_id, channel, failures)
                VALUES ((SELECT job_id FROM runs WHERE id = new.run_id), new.channel, 1)
                ON CONFLICT (job_id, channel) DO UPDATE SET failures = job_delivery_failures.failures + 1;
            INSERT INTO delivery_failure_totals (channel, failures) VALUES (new.channel, 1)
                ON CONFLICT (channel) DO UPDATE SET failures = delivery_failure_totals.failures + 1;
        END;

        INSERT INTO job_stats (job_id, succeeded, failed, timed_out, denied, skipped, missed, interrupted, cancelled,
            duration_count, duration_sum_ms, duration_max_ms,
            le_100ms, le_250ms, le_500ms, le_1s, le_2500ms, le_5s, le_10s, le_30s, le_1m, le_2m, le_5m, le_10m,
            le_30m, le_1h,
            model_runs, input_tokens, output_tokens, priced_runs, cost_usd)
            SELECT job_id,
                SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'timed_out' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'denied' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'skipped' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'missed' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'interrupted' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms IS NULL THEN 0 ELSE 1 END),
                COALESCE(SUM(execution_time_ms), 0),
                COALESCE(MAX(execution_time_ms), 0),
                SUM(CASE WHEN execution_time_ms <= 100 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 250 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 500 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 1000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 2500 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 5000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 10000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 30000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 60000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 120000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 300000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 600000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 1800000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN execution_time_ms <= 3600000 THEN 1 ELSE 0 END),
                SUM(CASE WHEN input_tokens IS NULL THEN 0 ELSE 1 END),
                COALESCE(SUM(input_tokens), 0),
                COALESCE(SUM(output_tokens), 0),
                SUM(CASE WHEN cost_usd IS NULL THEN 0 ELSE 1 END),
                COALESCE(SUM(cost_usd), 0)
            FROM runs WHERE status IN ('succeeded', 'failed', 'timed_out', 'denied', 'skipped', 'missed', 'interrupted',
                'cancelled')
            GROUP BY job_id;

        UPDATE job_stats SET
            last_status = (SELECT status FROM runs r WHERE r.job_id = job_stats.job_id
                AND r.status IN ('succeeded', 'failed', 'timed_out', 'interrupted')
                ORDER BY r.finished_at DESC LIMIT 1),
            last_finished_at = (SELECT MAX(finished_at) FROM runs r WHERE r.job_id = job_stats.job_id
                AND r.status IN ('succeeded', 'failed', 'timed_out', 'interrupted')),
            last_duration_ms = (SELECT execution_time_ms FROM runs r WHERE r.job_id = job_stats.job_id
                AND r.status IN ('succeeded', 'failed', 'timed_out', 'interrupted')
                ORDER BY r.finished_at DESC LIMIT 1),
            last_success_at = (SELECT MAX(finished_at) FROM runs r WHERE r.job_id = job_stats.job_id
                AND r.status = 'succeeded'),
            dead_letters = (SELECT COUNT(*) FROM audit a WHERE a.job_id = job_stats.job_id
                AND a.type = 'CronJobDeadLettered');

        INSERT INTO scheduler_stats (id, succeeded, failed, timed_out, denied, skipped, missed, interrupted, cancelled,
            duration_count, duration_sum_ms, duration_max_ms,
            le_100ms, le_250ms, le_500ms, le_1s, le_2500ms, le_5s, le_10s, le_30s, le_1m, le_2m, le_5m, le_10m,
            le_30m, le_1h,
            model_runs, input_tokens, output_tokens, priced_runs, cost_usd, dead_letters)
            SELECT 1,
                COALESCE(SUM(succeeded), 0),
                COALESCE(SUM(failed), 0),
                COALESCE(SUM(timed_out), 0),
                COALESCE(SUM(denied), 0),
                COALESCE(SUM(skipped), 0),
                COALESCE(SUM(missed), 0),
                COALESCE(SUM(interrupted), 0),
                COALESCE(SUM(cancelled), 0),
                COALESCE(SUM(duration_count), 0),
                COALESCE(SUM(duration_sum_ms), 0),
                COALESCE(MAX(duration_max_ms), 0),
                COALESCE(SUM(le_100ms), 0),
                COALESCE(SUM(le_250ms), 0),
                COALESCE(SUM(le_500ms), 0),
                COALESCE(SUM(le_1s), 0),
                COALESCE(SUM(le_2500ms), 0),
                COALESCE(SUM(le_5s), 0),
                COALESCE(SUM(le_10s), 0),
                COALESCE(SUM(le_30s), 0),
                COALESCE(SUM(le_1m), 0),
                COALESCE(SUM(le_2m), 0),
                COALESCE(SUM(le_5m), 0),
                COALESCE(SUM(le_10m), 0),
                COALESCE(SUM(le_30m), 0),
                COALESCE(SUM(le_1h), 0),
                COALESCE(SUM(model_runs), 0),
                COALESCE(SUM(input_tokens), 0),
                COALESCE(SUM(output_tokens), 0),
                COALESCE(SUM(priced_runs), 0),
                COALESCE(SUM(cost_usd), 0),
                (SELECT COUNT(*) FROM audit WHERE type = 'CronJobDeadLettered')
            FROM job_stats;

        INSERT INTO job_delivery_failures (job_id, channel, failures)
            SELECT r.job_id, d.channel, COUNT(*) FROM deliveries d JOIN runs r ON r.id = d.run_id
            WHERE d.ok = 0 GROUP BY r.job_id, d.channel;

        INSERT INTO delivery_failure_totals (channel, failures)
            SELECT channel, SUM(failures) FROM job_delivery_failures GROUP BY channel;

        CREATE TABLE audit_checkpoints (
            seq         INTEGER PRIMARY KEY,
            hash        TEXT NOT NULL,
            at          INTEGER NOT NULL,
            pruned      INTEGER NOT NULL,
            created_at  INTEGER NOT NULL
        );
        CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
        CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
        DROP TRIGGER audit_no_delete;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            WHEN old.seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints)
        BEGIN
            SELECT RAISE(ABORT, 'the audit log is append-only (pruning removes events only up to a checkpoint)');
        END;

        CREATE TABLE store_meta (
            key         TEXT PRIMARY KEY,
            value       TEXT NOT NULL,
            updated_at  INTEGER NOT NULL
        );
        """,
    ),
    (
        5,
        "the delivery outbox: a finished run's deliveries, written with its outcome, until each has a receipt",
        """
        CREATE TABLE outbox (
            run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            channel     TEXT NOT NULL,
            position    INTEGER NOT NULL,
            owner       TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            PRIMARY KEY (run_id, channel)
        );
        CREATE INDEX outbox_owner ON outbox(owner);
        """,
    ),
    (
        6,
        "a job's runs by finish time: the previous summary and the previous status without a scan of its history",
        """
        CREATE INDEX runs_job_finished ON runs(job_id, finished_at);
        """,
    ),
    (
        7,
        "the dashboard's login links and sessions; the model a model agent's run used; model runs by finish time",
        """
        CREATE TABLE dashboard_sessions (
            token_hash  TEXT PRIMARY KEY,
            kind        TEXT NOT NULL,
            identity    TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            expires_at  INTEGER NOT NULL
        );
        CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions(expires_at);
        ALTER TABLE runs ADD COLUMN model TEXT;
        CREATE INDEX runs_usage ON runs(finished_at) WHERE input_tokens IS NOT NULL;
        """,
    ),
    (
        8,
        "placement: each daemon's name, version and last renewal on its lease row, the daemon name on each run",
        """
        ALTER TABLE daemons ADD COLUMN name TEXT;
        ALTER TABLE daemons ADD COLUMN version TEXT;
        ALTER TABLE daemons ADD COLUMN renewed_at INTEGER;
        ALTER TABLE runs ADD COLUMN daemon_name TEXT;
        """,
    ),
    (
        9,
        "runs stopped by a model budget (status budget_exceeded): counted with the other final statuses",
        """
        ALTER TABLE job_stats ADD COLUMN budget_exceeded INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE scheduler_stats ADD COLUMN budget_exceeded INTEGER NOT NULL DEFAULT 0;
        DROP TRIGGER runs_finished_insert;
        DROP TRIGGER runs_finished_update;
        DROP TRIGGER run_outcomes_count;

        CREATE TRIGGER run_outcomes_count INSTEAD OF INSERT ON run_outcomes
        BEGIN
            INSERT INTO job_stats (job_id) VALUES (new.job_id) ON CONFLICT (job_id) DO NOTHING;
            UPDATE job_stats SET
                succeeded = succeeded + CASE WHEN new.status = 'succeeded' THEN 1 ELSE 0 END,
                failed = failed + CASE WHEN new.status = 'failed' THEN 1 ELSE 0 END,
                timed_out = timed_out + CASE WHEN new.status = 'timed_out' THEN 1 ELSE 0 END,
                denied = denied + CASE WHEN new.status = 'denied' THEN 1 ELSE 0 END,
                skipped = skipped + CASE WHEN new.status = 'skipped' THEN 1 ELSE 0 END,
                missed = missed + CASE WHEN new.status = 'missed' THEN 1 ELSE 0 END,
                interrupted = interrupted + CASE WHEN new.status = 'interrupted' THEN 1 ELSE 0 END,
                cancelled = cancelled + CASE WHEN new.status = 'cancelled' THEN 1 ELSE 0 END,
                budget_exceeded = budget_exceeded + CASE WHEN new.status = 'budget_exceeded' THEN 1 ELSE 0 END,
                duration_count = duration_count + CASE WHEN new.duration_ms IS NULL THEN 0 ELSE 1 END,
                duration_sum_ms = duration_sum_ms + COALESCE(new.duration_ms, 0),
                duration_max_ms = CASE WHEN new.duration_ms > duration_max_ms THEN new.duration_ms
                    ELSE duration_max_ms END,
                le_100ms = le_100ms + CASE WHEN new.duration_ms <= 100 THEN 1 ELSE 0 END,
                le_250ms = le_250ms + CASE WHEN new.duration_ms <= 250 THEN 1 ELSE 0 END,
                le_500ms = le_500ms + CASE WHEN new.duration_ms <= 500 THEN 1 ELSE 0 END,
                le_1s = le_1s + CASE WHEN new.duration_ms <= 1000 THEN 1 ELSE 0 END,
                le_2500ms = le_2500ms + CASE WHEN new.duration_ms <= 2500 THEN 1 ELSE 0 END,
                le_5s = le_5s + CASE WHEN new.duration_ms <= 5000 THEN 1 ELSE 0 END,
                le_10s = le_10s + CASE WHEN new.duration_ms <= 10000 THEN 1 ELSE 0 END,
                le_30s = le_30s + CASE WHEN new.duration_ms <= 30000 THEN 1 ELSE 0 END,
                le_1m = le_1m + CASE WHEN new.duration_ms <= 60000 THEN 1 ELSE 0 END,
                le_2m = le_2m + CASE WHEN new.duration_ms <= 120000 THEN 1 ELSE 0 END,
                le_5m = le_5m + CASE WHEN new.duration_ms <= 300000 THEN 1 ELSE 0 END,
                le_10m = le_10m + CASE WHEN new.duration_ms <= 600000 THEN 1 ELSE 0 END,
                le_30m = le_30m + CASE WHEN new.duration_ms <= 1800000 THEN 1 ELSE 0 END,
                le_1h = le_1h + CASE WHEN new.duration_ms <= 3600000 THEN 1 ELSE 0 END,
                model_runs = model_runs + CASE WHEN new.input_tokens IS NULL THEN 0 ELSE 1 END,
                input_tokens = input_tokens + COALESCE(new.input_tokens, 0),
                output_tokens = output_tokens + COALESCE(new.output_tokens, 0),
                priced_runs = priced_runs + CASE WHEN new.cost_usd IS NULL THEN 0 ELSE 1 END,
                cost_usd = cost_usd + COALESCE(new.cost_usd, 0),
                last_status = CASE WHEN new.executed = 1 THEN new.status ELSE last_status END,
                last_finished_at = CASE WHEN new.executed = 1 THEN new.finished_at ELSE last_finished_at END,
                last_duration_ms = CASE WHEN new.executed = 1 THEN new.duration_ms ELSE last_duration_ms END,
                last_success_at = CASE WHEN new.status = 'succeeded' THEN new.finished_at ELSE last_success_at END
            WHERE job_id = new.job_id;
            UPDATE scheduler_stats SET
                succeeded = succeeded + CASE WHEN new.status = 'succeeded' THEN 1 ELSE 0 END,
                failed = failed + CASE WHEN new.status = 'failed' THEN 1 ELSE 0 END,
                timed_out = timed_out + CASE WHEN new.status = 'timed_out' THEN 1 ELSE 0 END,
                denied = denied + CASE WHEN new.status = 'denied' THEN 1 ELSE 0 END,
                skipped = skipped + CASE WHEN new.status = 'skipped' THEN 1 ELSE 0 END,
                missed = missed + CASE WHEN new.status = 'missed' THEN 1 ELSE 0 END,
                interrupted = interrupted + CASE WHEN new.status = 'interrupted' THEN 1 ELSE 0 END,
                cancelled = cancelled + CASE WHEN new.status = 'cancelled' THEN 1 ELSE 0 END,
                budget_exceeded = budget_exceeded + CASE WHEN new.status = 'budget_exceeded' THEN 1 ELSE 0 END,
                duration_count = duration_count + CASE WHEN new.duration_ms IS NULL THEN 0 ELSE 1 END,
                duration_sum_ms = duration_sum_ms + COALESCE(new.duration_ms, 0),
                duration_max_ms = CASE WHEN new.duration_ms > duration_max_ms THEN new.duration_ms
                    ELSE duration_max_ms END,
                le_100ms = le_100ms + CASE WHEN new.duration_ms <= 100 THEN 1 ELSE 0 END,
                le_250ms = le_250ms + CASE WHEN new.duration_ms <= 250 THEN 1 ELSE 0 END,
                le_500ms = le_500ms + CASE WHEN new.duration_ms <= 500 THEN 1 ELSE 0 END,
                le_1s = le_1s + CASE WHEN new.duration_ms <= 1000 THEN 1 ELSE 0 END,
                le_2500ms = le_2500ms + CASE WHEN new.duration_ms <= 2500 THEN 1 ELSE 0 END,
                le_5s = le_5s + CASE WHEN new.duration_ms <= 5000 THEN 1 ELSE 0 END,
                le_10s = le_10s + CASE WHEN new.duration_ms <= 10000 THEN 1 ELSE 0 END,
                le_30s = le_30s + CASE WHEN new.duration_ms <= 30000 THEN 1 ELSE 0 END,
                le_1m = le_1m + CASE WHEN new.duration_ms <= 60000 THEN 1 ELSE 0 END,
                le_2m = le_2m + CASE WHEN new.duration_ms <= 120000 THEN 1 ELSE 0 END,
                le_5m = le_5m + CASE WHEN new.duration_ms <= 300000 THEN 1 ELSE 0 END,
                le_10m = le_10m + CASE WHEN new.duration_ms <= 600000 THEN 1 ELSE 0 END,
                le_30m = le_30m + CASE WHEN new.duration_ms <= 1800000 THEN 1 ELSE 0 END,
                le_1h = le_1h + CASE WHEN new.duration_ms <= 3600000 THEN 1 ELSE 0 END,
                model_runs = model_runs + CASE WHEN new.input_tokens IS NULL THEN 0 ELSE 1 END,
                input_tokens = input_tokens + COALESCE(new.input_tokens, 0),
                output_tokens = output_tokens + COALESCE(new.output_tokens, 0),
                priced_runs = priced_runs + CASE WHEN new.cost_usd IS NULL THEN 0 ELSE 1 END,
                cost_usd = cost_usd + COALESCE(new.cost_usd, 0)
            WHERE id = 1;
        END;

        CREATE TRIGGER runs_finished_insert AFTER INSERT ON runs
            WHEN CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END = 1
        BEGIN
            INSERT INTO run_outcomes (job_id, status, executed, duration_ms, finished_at, input_tokens, output_tokens,
                cost_usd)
            VALUES (new.job_id, new.status, CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1
                WHEN 'timed_out' THEN 1 WHEN 'interrupted' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END,
                new.execution_time_ms,
                COALESCE(new.finished_at, new.updated_at), new.input_tokens, new.output_tokens, new.cost_usd);
        END;

        CREATE TRIGGER runs_finished_update AFTER UPDATE OF status ON runs
            WHEN CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END = 1
                AND CASE old.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END = 0
        BEGIN
            INSERT INTO run_outcomes (job_id, status, executed, duration_ms, finished_at, input_tokens, output_tokens,
                cost_usd)
            VALUES (new.job_id, new.status, CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1
                WHEN 'timed_out' THEN 1 WHEN 'interrupted' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END,
                new.execution_time_ms,
                COALESCE(new.finished_at, new.updated_at), new.input_tokens, new.output_tokens, new.cost_usd);
        END;
        """,
    ),
    (
        10,
        "model usage counters per model (the /metrics series by model): kept by the run statistics triggers",
        """
        CREATE TABLE model_stats (
            model          TEXT PRIMARY KEY,
            runs           INTEGER NOT NULL DEFAULT 0,
            input_tokens   INTEGER NOT NULL DEFAULT 0,
            output_tokens  INTEGER NOT NULL DEFAULT 0,
            priced_runs    INTEGER NOT NULL DEFAULT 0,
            cost_usd       REAL NOT NULL DEFAULT 0
        );
        INSERT INTO model_stats (model, runs, input_tokens, output_tokens, priced_runs, cost_usd)
            SELECT COALESCE(model, ''), COUNT(*), SUM(input_tokens), COALESCE(SUM(output_tokens), 0),
                SUM(CASE WHEN cost_usd IS NULL THEN 0 ELSE 1 END), COALESCE(SUM(cost_usd), 0)
            FROM runs WHERE input_tokens IS NOT NULL AND status IN ('succeeded', 'failed', 'timed_out', 'denied',
                'skipped', 'missed', 'interrupted', 'cancelled', 'budget_exceeded')
            GROUP BY COALESCE(model, '');
        DROP TRIGGER runs_finished_insert;
        DROP TRIGGER runs_finished_update;
        DROP TRIGGER run_outcomes_count;
        DROP VIEW run_outcomes;
        CREATE VIEW run_outcomes AS
            SELECT job_id, status, 0 AS executed, execution_time_ms AS duration_ms, finished_at, input_tokens,
                output_tokens, cost_usd, model
            FROM runs WHERE 1 = 0;

        CREATE TRIGGER run_outcomes_count INSTEAD OF INSERT ON run_outcomes
        BEGIN
            INSERT INTO job_stats (job_id) VALUES (new.job_id) ON CONFLICT (job_id) DO NOTHING;
            UPDATE job_stats SET
                succeeded = succeeded + CASE WHEN new.status = 'succeeded' THEN 1 ELSE 0 END,
                failed = failed + CASE WHEN new.status = 'failed' THEN 1 ELSE 0 END,
                timed_out = timed_out + CASE WHEN new.status = 'timed_out' THEN 1 ELSE 0 END,
                denied = denied + CASE WHEN new.status = 'denied' THEN 1 ELSE 0 END,
                skipped = skipped + CASE WHEN new.status = 'skipped' THEN 1 ELSE 0 END,
                missed = missed + CASE WHEN new.status = 'missed' THEN 1 ELSE 0 END,
                interrupted = interrupted + CASE WHEN new.status = 'interrupted' THEN 1 ELSE 0 END,
                cancelled = cancelled + CASE WHEN new.status = 'cancelled' THEN 1 ELSE 0 END,
                budget_exceeded = budget_exceeded + CASE WHEN new.status = 'budget_exceeded' THEN 1 ELSE 0 END,
                duration_count = duration_count + CASE WHEN new.duration_ms IS NULL THEN 0 ELSE 1 END,
                duration_sum_ms = duration_sum_ms + COALESCE(new.duration_ms, 0),
                duration_max_ms = CASE WHEN new.duration_ms > duration_max_ms THEN new.duration_ms
                    ELSE duration_max_ms END,
                le_100ms = le_100ms + CASE WHEN new.duration_ms <= 100 THEN 1 ELSE 0 END,
                le_250ms = le_250ms + CASE WHEN new.duration_ms <= 250 THEN 1 ELSE 0 END,
                le_500ms = le_500ms + CASE WHEN new.duration_ms <= 500 THEN 1 ELSE 0 END,
                le_1s = le_1s + CASE WHEN new.duration_ms <= 1000 THEN 1 ELSE 0 END,
                le_2500ms = le_2500ms + CASE WHEN new.duration_ms <= 2500 THEN 1 ELSE 0 END,
                le_5s = le_5s + CASE WHEN new.duration_ms <= 5000 THEN 1 ELSE 0 END,
                le_10s = le_10s + CASE WHEN new.duration_ms <= 10000 THEN 1 ELSE 0 END,
                le_30s = le_30s + CASE WHEN new.duration_ms <= 30000 THEN 1 ELSE 0 END,
                le_1m = le_1m + CASE WHEN new.duration_ms <= 60000 THEN 1 ELSE 0 END,
                le_2m = le_2m + CASE WHEN new.duration_ms <= 120000 THEN 1 ELSE 0 END,
                le_5m = le_5m + CASE WHEN new.duration_ms <= 300000 THEN 1 ELSE 0 END,
                le_10m = le_10m + CASE WHEN new.duration_ms <= 600000 THEN 1 ELSE 0 END,
                le_30m = le_30m + CASE WHEN new.duration_ms <= 1800000 THEN 1 ELSE 0 END,
                le_1h = le_1h + CASE WHEN new.duration_ms <= 3600000 THEN 1 ELSE 0 END,
                model_runs = model_runs + CASE WHEN new.input_tokens IS NULL THEN 0 ELSE 1 END,
                input_tokens = input_tokens + COALESCE(new.input_tokens, 0),
                output_tokens = output_tokens + COALESCE(new.output_tokens, 0),
                priced_runs = priced_runs + CASE WHEN new.cost_usd IS NULL THEN 0 ELSE 1 END,
                cost_usd = cost_usd + COALESCE(new.cost_usd, 0),
                last_status = CASE WHEN new.executed = 1 THEN new.status ELSE last_status END,
                last_finished_at = CASE WHEN new.executed = 1 THEN new.finished_at ELSE last_finished_at END,
                last_duration_ms = CASE WHEN new.executed = 1 THEN new.duration_ms ELSE last_duration_ms END,
                last_success_at = CASE WHEN new.status = 'succeeded' THEN new.finished_at ELSE last_success_at END
            WHERE job_id = new.job_id;
            UPDATE scheduler_stats SET
                succeeded = succeeded + CASE WHEN new.status = 'succeeded' THEN 1 ELSE 0 END,
                failed = failed + CASE WHEN new.status = 'failed' THEN 1 ELSE 0 END,
                timed_out = timed_out + CASE WHEN new.status = 'timed_out' THEN 1 ELSE 0 END,
                denied = denied + CASE WHEN new.status = 'denied' THEN 1 ELSE 0 END,
                skipped = skipped + CASE WHEN new.status = 'skipped' THEN 1 ELSE 0 END,
                missed = missed + CASE WHEN new.status = 'missed' THEN 1 ELSE 0 END,
                interrupted = interrupted + CASE WHEN new.status = 'interrupted' THEN 1 ELSE 0 END,
                cancelled = cancelled + CASE WHEN new.status = 'cancelled' THEN 1 ELSE 0 END,
                budget_exceeded = budget_exceeded + CASE WHEN new.status = 'budget_exceeded' THEN 1 ELSE 0 END,
                duration_count = duration_count + CASE WHEN new.duration_ms IS NULL THEN 0 ELSE 1 END,
                duration_sum_ms = duration_sum_ms + COALESCE(new.duration_ms, 0),
                duration_max_ms = CASE WHEN new.duration_ms > duration_max_ms THEN new.duration_ms
                    ELSE duration_max_ms END,
                le_100ms = le_100ms + CASE WHEN new.duration_ms <= 100 THEN 1 ELSE 0 END,
                le_250ms = le_250ms + CASE WHEN new.duration_ms <= 250 THEN 1 ELSE 0 END,
                le_500ms = le_500ms + CASE WHEN new.duration_ms <= 500 THEN 1 ELSE 0 END,
                le_1s = le_1s + CASE WHEN new.duration_ms <= 1000 THEN 1 ELSE 0 END,
                le_2500ms = le_2500ms + CASE WHEN new.duration_ms <= 2500 THEN 1 ELSE 0 END,
                le_5s = le_5s + CASE WHEN new.duration_ms <= 5000 THEN 1 ELSE 0 END,
                le_10s = le_10s + CASE WHEN new.duration_ms <= 10000 THEN 1 ELSE 0 END,
                le_30s = le_30s + CASE WHEN new.duration_ms <= 30000 THEN 1 ELSE 0 END,
                le_1m = le_1m + CASE WHEN new.duration_ms <= 60000 THEN 1 ELSE 0 END,
                le_2m = le_2m + CASE WHEN new.duration_ms <= 120000 THEN 1 ELSE 0 END,
                le_5m = le_5m + CASE WHEN new.duration_ms <= 300000 THEN 1 ELSE 0 END,
                le_10m = le_10m + CASE WHEN new.duration_ms <= 600000 THEN 1 ELSE 0 END,
                le_30m = le_30m + CASE WHEN new.duration_ms <= 1800000 THEN 1 ELSE 0 END,
                le_1h = le_1h + CASE WHEN new.duration_ms <= 3600000 THEN 1 ELSE 0 END,
                model_runs = model_runs + CASE WHEN new.input_tokens IS NULL THEN 0 ELSE 1 END,
                input_tokens = input_tokens + COALESCE(new.input_tokens, 0),
                output_tokens = output_tokens + COALESCE(new.output_tokens, 0),
                priced_runs = priced_runs + CASE WHEN new.cost_usd IS NULL THEN 0 ELSE 1 END,
                cost_usd = cost_usd + COALESCE(new.cost_usd, 0)
            WHERE id = 1;
            INSERT INTO model_stats (model, runs, input_tokens, output_tokens, priced_runs, cost_usd)
                SELECT COALESCE(new.model, ''), 1, new.input_tokens, COALESCE(new.output_tokens, 0),
                    CASE WHEN new.cost_usd IS NULL THEN 0 ELSE 1 END, COALESCE(new.cost_usd, 0)
                WHERE new.input_tokens IS NOT NULL
                ON CONFLICT (model) DO UPDATE SET
                    runs = model_stats.runs + 1,
                    input_tokens = model_stats.input_tokens + excluded.input_tokens,
                    output_tokens = model_stats.output_tokens + excluded.output_tokens,
                    priced_runs = model_stats.priced_runs + excluded.priced_runs,
                    cost_usd = model_stats.cost_usd + excluded.cost_usd;
        END;

        CREATE TRIGGER runs_finished_insert AFTER INSERT ON runs
            WHEN CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END = 1
        BEGIN
            INSERT INTO run_outcomes (job_id, status, executed, duration_ms, finished_at, input_tokens, output_tokens,
                cost_usd, model)
            VALUES (new.job_id, new.status, CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1
                WHEN 'timed_out' THEN 1 WHEN 'interrupted' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END,
                new.execution_time_ms,
                COALESCE(new.finished_at, new.updated_at), new.input_tokens, new.output_tokens, new.cost_usd,
                new.model);
        END;

        CREATE TRIGGER runs_finished_update AFTER UPDATE OF status ON runs
            WHEN CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END = 1
                AND CASE old.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1 WHEN 'timed_out' THEN 1
                WHEN 'denied' THEN 1 WHEN 'skipped' THEN 1 WHEN 'missed' THEN 1 WHEN 'interrupted' THEN 1
                WHEN 'cancelled' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END = 0
        BEGIN
            INSERT INTO run_outcomes (job_id, status, executed, duration_ms, finished_at, input_tokens, output_tokens,
                cost_usd, model)
            VALUES (new.job_id, new.status, CASE new.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 1
                WHEN 'timed_out' THEN 1 WHEN 'interrupted' THEN 1 WHEN 'budget_exceeded' THEN 1 ELSE 0 END,
                new.execution_time_ms,
                COALESCE(new.finished_at, new.updated_at), new.input_tokens, new.output_tokens, new.cost_usd,
                new.model);
        END;
        """,
    ),
    (
        11,
        "fenced leases: a token per lease, the daemon an owner works for, the fencing token a running run carries",
        """
        ALTER TABLE daemons ADD COLUMN token INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE daemons ADD COLUMN parent TEXT;
        ALTER TABLE runs ADD COLUMN fence INTEGER;
        """,
    ),
    (
        12,
        "a job's open runs and its last summary without a walk through its history (every claim and start counts the"
        " first, every run reads the second; store.runs.OPEN_RUNS is the first's predicate, word for word)",
        """
        CREATE INDEX runs_job_open ON runs(job_id, status) WHERE status IN ('queued', 'running', 'pending_approval');
        CREATE INDEX runs_job_summary ON runs(job_id, finished_at) WHERE summary IS NOT NULL;
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]
