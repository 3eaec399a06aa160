"""The PostgreSQL store: the same interface as :class:`symbi_cron.store.db.Store` (``store/contract.py``), for
several daemons on several hosts sharing one database (docs/scaling.md).

The table modules hold the queries. A statement is written once when both dialects read it the same, and once per
dialect, side by side (``base.PerDialect``), where they differ; nothing rewrites a query's meaning at run time.
:class:`PgConnection` changes only the placeholder spelling (:func:`placeholders`: ``?`` -> ``%s``, once per
statement text) and makes rows indexable by name and by position (like ``sqlite3.Row``). The migrations' DDL is the
one exception: :func:`pg_ddl` translates each statement of ``migrations.py`` once, when the migration runs
(``INTEGER`` is ``BIGINT``: instants are epoch milliseconds; a trigger becomes a plpgsql function). docs/decisions.md
says why.

Writes lock rows, not the store (issue 17): a daemon claiming a job locks that job's row (``FOR UPDATE SKIP
LOCKED``: the others skip it and claim the rest), starting or recording a run locks its job, then the run. Two
things keep one store-wide order, each with a transaction-level advisory lock held only from the statement that
needs it to COMMIT, never across network I/O: the audit chain's append (``store/audit.py``) and the
``max_concurrent_jobs`` count of a start (``services/start.py``). Migrations take one more around the whole schema
change. Every connection sets server-side timeouts (:data:`SESSION_TIMEOUTS`): a client frozen inside a
transaction (SIGSTOP, a paused VM) is cut off by the server after ``idle_in_transaction_session_timeout`` and its
locks go with it, a lock is waited for at most ``lock_timeout``, a statement runs at most ``statement_timeout``.
Reads take no lock. psycopg is imported only here, and this module only when a ``postgresql://`` URL is set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ..errors import StoreError
from .base import TransactionalStore
from .migrations import LATEST_VERSION, MIGRATIONS

#: pg_advisory_xact_lock key of the schema lock, taken by a migration ("symbicro" in ASCII, as a signed 64-bit
#: integer).
WRITE_LOCK_KEY = 0x73796D626963726F
#: The channel a committed change is announced on (``App.changed``); daemons LISTEN on it.
RELOAD_CHANNEL = "symbi_reload"
LOCK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10
#: Set by the store on every connection it opens (milliseconds). A transaction is idle only while its client runs
#: Python between two statements, never across network I/O (the policy gate runs before the write): 5 s idle means
#: the client is frozen or gone. The longest statements are a retention prune's batched deletes.
SESSION_TIMEOUTS = {
    "idle_in_transaction_session_timeout": 5_000,
    "statement_timeout": 120_000,
}


def redact_url(url: str) -> str:
    """The URL with its password (in the userinfo or a ``password=`` parameter) replaced by ``***`` (for messages
    and logs)."""
    url = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.IGNORECASE)


def _import_psycopg() -> Any:
    global _DriverError
    try:
        import psycopg
    except ImportError:
        raise StoreError("a postgresql:// store needs psycopg: pip install 'symbi-cron[postgres]'") from None
    _DriverError = psycopg.Error
    return psycopg


#: psycopg.Error once psycopg is imported (this module must import without it).
_DriverError: Any = ()


# -- placeholders ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=512)
def placeholders(sql: str) -> str:
    """A statement with psycopg's placeholders: ``?`` -> ``%s``, and a literal ``%`` -> ``%%`` (psycopg reads ``%``
    as the start of a placeholder). Only the spelling of parameters changes, never what the statement says; done
    once per statement text (cached)."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=128)
def named_placeholders(sql: str) -> str:
    """A statement with ``:name`` parameters (given as a dict) in psycopg's spelling, ``%(name)s``."""
    return placeholders(re.sub(r":(\w+)", "\x00\\1\x01", sql)).replace("\x00", "%(").replace("\x01", ")s")


# -- the migrations' DDL ---------------------------------------------------------------------------------------
_TRIGGER = re.compile(
    r"CREATE\s+TRIGGER\s+(\w+)\s+(BEFORE|AFTER)\s+(UPDATE|DELETE|INSERT)\s+ON\s+(\w+)\s+"
    r"BEGIN\s+SELECT\s+RAISE\(ABORT,\s*'([^']*)'\);\s*END;?",
    re.IGNORECASE | re.DOTALL,
)
_AUTOINC = re.compile(r"CREATE\s+TABLE\s+(\w+)\s*\((?=[^;]*\bAUTOINCREMENT\b)", re.IGNORECASE)
#: Any other trigger: ``CREATE TRIGGER name BEFORE|AFTER|INSTEAD OF event ON table [WHEN cond] BEGIN ... END``.
_ANY_TRIGGER = re.compile(
    r"CREATE\s+TRIGGER\s+(\w+)\s+(BEFORE|AFTER|INSTEAD\s+OF)\s+(INSERT|DELETE|UPDATE(?:\s+OF\s+\w+)?)\s+ON\s+(\w+)"
    r"(?:\s+FOR\s+EACH\s+ROW)?(?:\s+WHEN\s+(.*?))?\s+BEGIN\s+(.*?)\s*END;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_DROP_TRIGGER = re.compile(r"DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?(\w+)\s*;?\s*$", re.IGNORECASE)
_RAISE = re.compile(r"SELECT\s+RAISE\(ABORT,\s*('[^']*')\)", re.IGNORECASE)


def _pg_trigger(match: re.Match[str]) -> list[str]:
    """A SQLite trigger as a plpgsql function and its trigger: the WHEN condition becomes an IF around the body
    (plpgsql may run subqueries there, a trigger's own WHEN may not); ``RAISE(ABORT, m)`` raises an exception."""
    name, when, event, table, condition, body = match.groups()
    when = " ".join(when.upper().split())
    event = " ".join(event.split())
    body = _RAISE.sub(r"RAISE EXCEPTION \1", body.strip())
    if not body.endswith(";"):
        body += ";"
    if condition:
        body = f"IF ({condition.strip()}) THEN {body} END IF;"
    if when == "BEFORE":
        result = "OLD" if event.upper() == "DELETE" else "NEW"
    else:
        result = "NEW" if when == "INSTEAD OF" else "NULL"
    return [
        f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN {body} RETURN {result}; END $$",
        f"CREATE TRIGGER {name} {when} {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()",
    ]


def pg_ddl(statement: str) -> list[str]:
    """One migration statement (SQLite DDL) as PostgreSQL statements.

    ``INTEGER`` -> ``BIGINT``, ``REAL`` -> ``DOUBLE PRECISION``; a trigger becomes a plpgsql function and its
    trigger (``DROP TRIGGER name`` finds the trigger's table, which PostgreSQL needs named); an ``AUTOINCREMENT``
    table gets ``audit_sequence``-style bookkeeping (the highest key ever written, which SQLite keeps in
    ``sqlite_sequence``) so a truncation stays detectable.
    """
    trig = _TRIGGER.match(statement.strip())
    if trig:
        name, when, event, table, message = trig.groups()
        return [
            f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN RAISE EXCEPTION '{message}'; END $$",
            f"CREATE TRIGGER {name} {when} {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()",
        ]
    drop = _DROP_TRIGGER.match(statement.strip())
    if drop:
        name = drop.group(1)
        return [
            "DO $$ DECLARE t text; BEGIN"
            f" SELECT tgrelid::regclass::text INTO t FROM pg_trigger WHERE tgname = '{name}';"
            f" IF t IS NOT NULL THEN EXECUTE 'DROP TRIGGER {name} ON ' || t; END IF; END $$"
        ]
    general = _ANY_TRIGGER.match(statement.strip())
    if general:
        return [re.sub(r"\bINTEGER\b", "BIGINT", s) for s in _pg_trigger(general)]
    out = statement.strip().rstrip(";")
    autoinc = _AUTOINC.match(out)
    out = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", "BIGINT PRIMARY KEY", out, flags=re.IGNORECASE)
    out = re.sub(r"\bINTEGER\b", "BIGINT", out)
    out = re.sub(r"\bREAL\b", "DOUBLE PRECISION", out)
    stmts = [out]
    if autoinc:
        table = autoinc.group(1)
        seq = f"{table}_sequence"
        stmts += [
            f"CREATE TABLE {seq} (seq BIGINT NOT NULL)",
            f"INSERT INTO {seq} (seq) VALUES (0)",
            f"CREATE OR REPLACE FUNCTION {seq}_fn() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN UPDATE {seq} SET seq = GREATEST(seq, NEW.seq); RETURN NEW; END $$",
            f"CREATE TRIGGER {seq}_bump AFTER INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {seq}_fn()",
        ]
    return stmts


# -- rows and connections --------------------------------------------------------------------------------------
class PgRow(tuple):
    """A row indexable by position and by column name, with ``keys()`` (what code written for ``sqlite3.Row``
    uses)."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __new__(cls, values: Iterable[Any]) -> PgRow:
        return super().__new__(cls, (_plain(v) for v in values))

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@lru_cache(maxsize=256)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    """One PgRow subclass per column list: the name index lives on the class, not on every row."""
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        index.setdefault(n, i)
    return type("PgRow", (PgRow,), {"__slots__": (), "_index": index})


def _plain(value: Any) -> Any:
    # SUM/AVG of BIGINT are NUMERIC in PostgreSQL; SQLite gives int or float, and JSON cannot take a Decimal.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _row_factory(cursor: Any) -> Callable[[Any], PgRow]:
    names = tuple(c.name for c in (cursor.description or ()))
    return _row_class(names)


class PgConnection:
    """A psycopg connection taking the table modules' statements (``?`` placeholders, see :func:`placeholders`),
    with rows indexable by name and by position. A driver error is raised
    as a StoreError, as :meth:`TransactionalStore.write` does: a read on a connection the server dropped (a database
    restart under a daemon or the API) is a store error, reported in one line and retried, not a crash."""

    dialect = "postgresql"

    def __init__(self, raw: Any, url: str = "") -> None:
        self.raw = raw
        self.url = url
        #: The owners' connection slot this connection holds (``PgStore.slots``), given back when it closes.
        self.slot: tuple[Any, int] | None = None

    def execute(self, sql: str, params: Any = ()) -> Any:
        cur = self.raw.cursor(row_factory=_row_factory)
        try:
            if isinstance(params, dict):
                cur.execute(named_placeholders(sql), params)
            else:
                cur.execute(placeholders(sql), tuple(params))
        except _DriverError as exc:
            raise _pg_error(exc, self.url) from None
        return cur

    def executemany(self, sql: str, seq: Iterable[Any]) -> Any:
        cur = self.raw.cursor(row_factory=_row_factory)
        try:
            cur.executemany(placeholders(sql), [tuple(p) for p in seq])
        except _DriverError as exc:
            raise _pg_error(exc, self.url) from None
        return cur

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            slot, self.slot = self.slot, None
            if slot is not None:
                slot[0].release(slot[1])

    @property
    def broken(self) -> bool:
        return bool(self.raw.closed or getattr(self.raw, "broken", False))


def _pg_error(exc: BaseException, url: str) -> StoreError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = redact_url(url)
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate == "55P03" or "lock timeout" in text:
        return StoreError(f"the store {where} is busy (a write lock was held too long); try again")
    if sqlstate == "53100":
        return StoreError(f"the disk of the store {where} is full: nothing was changed ({text})")
    if sqlstate == "25006":
        return StoreError(f"the store {where} is read-only: cannot write ({text})")
    # Before "connection": libpq reports a rejected password at connect as a connection failure, with no sqlstate.
    if sqlstate.startswith("28") or "authentication failed" in text:
        return StoreError(f"the store {where} refused the credentials ({text})")
    if sqlstate.startswith("08") or "connection" in text.lower():
        return StoreError(f"cannot reach the store {where} ({text})")
    return StoreError(f"store error on {where}: {text}")


class PgStore(TransactionalStore):
    """A store in a PostgreSQL database. Thread-safe: each thread gets its own connection."""

    dialect = "postgresql"

    def __init__(self, url: str, *, lock_timeout: float = LOCK_TIMEOUT_S, idle_timeout: float | None = None) -> None:
        self.url = url
        #: Seconds a transaction may sit idle before the server ends the session (SESSION_TIMEOUTS by default).
        self.idle_timeout = (
            idle_timeout if idle_timeout is not None else SESSION_TIMEOUTS["idle_in_transaction_session_timeout"] / 1000
        )
        self.path = redact_url(url)  # what messages show where the SQLite store shows its file
        self.lock_path = None
        self.lock_timeout = lock_timeout
        self._psycopg = _import_psycopg()
        self._driver_error = self._psycopg.Error
        self._local = threading.local()
        self._migrated = False
        self._migrate_lock = threading.Lock()
        #: In a run owner (``runtime.forkserver``): the ``store.owner_connections`` slots a connection is opened
        #: under (``store/slots.py``), and given back when idle (:meth:`give_back`). None elsewhere.
        self.slots: Any = None

    # -- connections -------------------------------------------------------------------------------------------
    def give_back(self) -> None:
        """This thread will not need the store for a while (an agent runs, the owner waits for its next run): a
        run owner closes its connection and gives its slot back, so that a burst of owners never holds more
        connections than ``store.owner_connections``. Anywhere else (``slots`` unset) it keeps it."""
        if self.slots is not None and not self.in_write():
            self.close()

    def give_up_slot_wait_when(self, give_up: Callable[[], bool] | None) -> None:
        """This thread's waits for a slot are given up (a StoreError) as soon as ``give_up()`` is True (an owner's
        lease thread that is being stopped)."""
        self._local.give_up = give_up

    def _open(self) -> PgConnection:
        psycopg = self._psycopg
        slot = None
        if self.slots is not None:
            from .slots import SlotWaitAbandoned

            try:
                slot = (self.slots, self.slots.acquire(getattr(self._local, "give_up", None)))
            except SlotWaitAbandoned as exc:
                raise StoreError(f"no connection to the store {self.path}: {exc}") from None
        try:
            raw = psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="symbi-cron"
            )
        except psycopg.Error as exc:
            if slot is not None:
                slot[0].release(slot[1])
            raise _pg_error(exc, self.url) from None
        conn = PgConnection(raw, self.url)
        conn.slot = slot
        settings = {
            **SESSION_TIMEOUTS,
            "idle_in_transaction_session_timeout": int(self.idle_timeout * 1000),
            "lock_timeout": int(self.lock_timeout * 1000),
        }
        try:
            conn.execute(
                "SELECT " + ", ".join("set_config(?, ?, false)" for _ in settings),
                tuple(x for name, ms in settings.items() for x in (name, f"{ms}ms")),
            )
        except StoreError:
            conn.close()
            raise
        return conn

    def _usable(self, conn: PgConnection) -> bool:
        return not conn.broken

    def listen_changes(self) -> ChangeListener:
        """A connection of its own that LISTENs on :data:`RELOAD_CHANNEL` (what :meth:`notify_changed` announces);
        the caller closes it. Driver errors become StoreError."""
        conn = self._open()
        try:
            conn.execute(f"LISTEN {RELOAD_CHANNEL}")
        except BaseException:
            conn.close()
            raise
        return ChangeListener(conn)

    # -- transactions (the template is TransactionalStore.write) ------------------------------------------------
    def _begin_write(self, conn: PgConnection) -> None:
        """BEGIN (READ COMMITTED). No store-wide lock: each operation locks the rows it changes (module docstring)."""
        try:
            conn.execute("BEGIN")
        except (self._psycopg.Error, StoreError):
            _rollback(conn)
            raise

    def _commit(self, conn: PgConnection) -> None:
        try:
            conn.execute("COMMIT")
        except (self._psycopg.Error, StoreError):
            _rollback(conn)
            raise

    def _rollback(self, conn: PgConnection) -> None:
        _rollback(conn)

    def _store_error(self, exc: BaseException) -> StoreError:
        return _pg_error(exc, self.url)

    def compact(self) -> None:
        """Nothing to ask: PostgreSQL's autovacuum reuses the space of removed rows."""

    def notify_changed(self, origin: str = "") -> None:
        """Tell every daemon sharing this database that the store changed (NOTIFY, delivered at COMMIT)."""
        if self.in_write():
            self.connection().execute("SELECT pg_notify(?, ?)", (RELOAD_CHANNEL, origin))
        else:
            with self.write() as tx:
                tx.execute("SELECT pg_notify(?, ?)", (RELOAD_CHANNEL, origin))

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        """A consistent snapshot for several queries (no lock taken)."""
        conn = self.connection()
        if self.in_write():
            yield conn
            return
        psycopg = self._psycopg
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                if conn.raw.info.transaction_status != 0:  # not idle: end the snapshot
                    conn.execute("COMMIT")
        except StoreError:
            _rollback(conn)
            raise
        except psycopg.Error as exc:
            _rollback(conn)
            raise _pg_error(exc, self.url) from None

    # -- schema ------------------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        row = (
            self.connection()
            .execute("SELECT version FROM schema_version" if self._has_version_table() else "SELECT 0")
            .fetchone()
        )
        return int(row[0]) if row else 0

    def check_writable(self) -> None:
        """A real, idempotent write: the schema version written back as it is (a read-only database, a full disk,
        a write lock held too long fail here)."""
        with self.write() as tx:
            tx.execute("UPDATE schema_version SET version = version")

    def _has_version_table(self) -> bool:
        conn = getattr(self._local, "conn", None) or self._open()
        return conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]

    def migrate(self) -> int:
        """Apply pending migrations in one transaction (under the schema lock: one daemon migrates, the others
        wait and find the work done); return the version reached."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        with self.write() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_signed64(WRITE_LOCK_KEY),))
            tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            row = tx.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                tx.execute("INSERT INTO schema_version (version) VALUES (0)")
            current = int(row[0]) if row else 0
            if current > LATEST_VERSION:
                raise StoreError(
                    f"the store {self.path} has schema version {current}, newer than this symbi"
                    f" ({LATEST_VERSION}); upgrade symbi-cron"
                )
            from .db import _split_sql

            for version, _title, sql in MIGRATIONS:
                if version <= current:
                    continue
                for statement in _split_sql(sql):
                    for pg_statement in pg_ddl(statement):
                        tx.execute(pg_statement)
                tx.execute("UPDATE schema_version SET version = ?", (version,))
                current = version
        self._migrated = True
        return current


class ChangeListener:
    """A connection LISTENing on the reload channel (:meth:`PgStore.listen_changes`)."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn

    def changes(self, timeout: float) -> Iterator[str]:
        """Each change announced within ``timeout`` seconds, as it comes (every notification of a batch: each is one
        remote change), its payload the origin ``notify_changed`` was given. Driver errors propagate: reconnect."""
        for note in self._conn.raw.notifies(timeout=timeout):
            yield note.payload

    def close(self) -> None:
        self._conn.close()


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def _rollback(conn: PgConnection) -> None:
    try:
        if not conn.broken:
            conn.execute("ROLLBACK")
    except Exception:
        pass
