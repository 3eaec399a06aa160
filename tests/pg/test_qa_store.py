"""QA of the PostgreSQL store: secrets in store URLs, migrate, leases and the LISTEN loop (docs/scaling.md)."""

from __future__ import annotations

import socket

from symbi_cron.store.postgres import _pg_error, redact_url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redact_url_masks_a_password_given_as_a_query_parameter():
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    masked = redact_url("postgresql://u@h/db?sslmode=require&password=LEAKME&application_name=x")
    assert "LEAKME" not in masked and "password=***" in masked and "sslmode=require" in masked
    assert "LEAKME" not in redact_url("postgresql://u@h/db?PassWord=LEAKME")


def test_an_unreachable_store_url_with_a_query_password_is_not_printed(home, cli):
    url = f"postgresql://u@127.0.0.1:{_closed_port()}/db?password=LEAKME"
    r = cli("store", "migrate", "--to", url)
    assert r.exit_code == 1 and "cannot reach" in r.stderr
    assert "LEAKME" not in r.stderr + r.stdout


def test_a_rejected_password_is_reported_as_refused_credentials_not_unreachable():
    # What psycopg raises for a bad password at connect: an OperationalError with no sqlstate.
    import psycopg

    exc = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password'
        ' authentication failed for user "app"'
    )
    err = _pg_error(exc, "postgresql://app:s3cret@127.0.0.1/db")
    assert "refused the credentials" in str(err) and "s3cret" not in str(err)


def test_a_read_on_a_connection_the_server_dropped_raises_store_error(pg_url):
    """After a database restart a long-lived process (the daemon's tick, the API) reads on a connection the server
    closed: that is a StoreError (logged in one line, retried), not a raw psycopg error logged as a bug."""
    import psycopg
    import pytest

    from symbi_cron.errors import StoreError
    from symbi_cron.store.postgres import PgStore

    store = PgStore(pg_url)
    conn = store.connection()
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreError) as err:
        conn.execute("SELECT COUNT(*) FROM jobs").fetchall()
    assert "cannot reach the store" in str(err.value)
    assert store.query("SELECT COUNT(*) FROM jobs")[0][0] == 0  # the next use reconnects
    store.close()
