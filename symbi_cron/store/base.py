"""What every store backend shares: one connection per thread, write transactions that nested calls join, and
callbacks run after commit. A backend says how to lock, begin, commit and roll back, and which driver errors
become :class:`~symbi_cron.errors.StoreError`. ``store/contract.py`` says what each of these promises.

:class:`PerDialect` holds a statement that must differ between SQLite and PostgreSQL, written once for each, side by
side in its table module; the connection's dialect picks one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from ..errors import StoreError

#: The dialects a store speaks: ``sqlite`` (``store/db.py``) and ``postgresql`` (``store/postgres.py``).
SQLITE = "sqlite"
POSTGRESQL = "postgresql"


def dialect_of(conn: Any) -> str:
    """The SQL dialect ``conn`` speaks: a PostgreSQL connection says so; any other (a plain ``sqlite3`` one, as the
    tests open) is SQLite."""
    return getattr(conn, "dialect", SQLITE)


class PerDialect:
    """One statement written once per dialect, where the dialects must differ (an index hint SQLite needs, a
    catalog table). ``statement(conn)`` is the one ``conn`` speaks. Every other statement is written once."""

    __slots__ = ("sqlite", "postgresql")

    def __init__(self, *, sqlite: str, postgresql: str) -> None:
        self.sqlite = sqlite
        self.postgresql = postgresql

    def __call__(self, conn: Any) -> str:
        return self.postgresql if dialect_of(conn) == POSTGRESQL else self.sqlite


class TransactionalStore:
    """The connection and write-transaction template. Subclasses set ``_local``, ``_migrated`` and
    ``_migrate_lock`` and implement the ``_hooks`` and :meth:`migrate`."""

    _local: threading.local
    _migrated: bool
    _migrate_lock: threading.Lock
    #: The driver's base error class: any such error inside a write becomes a StoreError.
    _driver_error: type[BaseException] = Exception

    # -- what a backend provides -------------------------------------------------------------------------------
    def _open(self) -> Any:
        """A new connection (driver errors become StoreError)."""
        raise NotImplementedError

    def _usable(self, conn: Any) -> bool:
        """Whether a thread's connection still works (a server may drop it); always, by default."""
        return True

    def migrate(self) -> int:
        raise NotImplementedError

    def check_writable(self) -> None:
        """A real, idempotent write (the schema version written back as it is): a read-only store fails here."""
        raise NotImplementedError

    def _write_lock(self) -> AbstractContextManager[Any]:
        """Held around the whole transaction (the SQLite file lock); none by default."""
        return nullcontext()

    def _begin_write(self, conn: Any) -> None:
        raise NotImplementedError

    def _commit(self, conn: Any) -> None:
        """Commit; on failure roll back and raise the driver's error."""
        raise NotImplementedError

    def _rollback(self, conn: Any) -> None:
        raise NotImplementedError

    def _store_error(self, exc: BaseException) -> StoreError:
        raise NotImplementedError

    # -- connections -------------------------------------------------------------------------------------------
    def connection(self) -> Any:
        """This thread's connection (reopened when it stopped working), migrated to the latest schema."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not self.in_write() and not self._usable(conn):
            try:
                conn.close()  # what it holds goes (a PostgreSQL run owner's connection slot)
            except Exception:
                pass
            conn = None
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            if not self._migrated:
                with self._migrate_lock:
                    if not self._migrated:
                        self.migrate()
        return conn

    def must_exist(self) -> None:
        """From now on the store is known to exist (a daemon opened and migrated it): a connection opened later
        never creates it again (SQLite, ``store/db.py``); nothing to do for a database server."""

    def give_back(self) -> None:
        """This thread will not need the store for a while: a store that rations its connections (a PostgreSQL
        run owner's, ``store/postgres.py``) closes this thread's; any other keeps it (SQLite's costs nothing)."""

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            finally:
                self._local.conn = None

    def query(self, sql: str, params: tuple | dict = ()) -> list[Any]:
        """Run one read query and return all rows."""
        try:
            return self.connection().execute(sql, params).fetchall()
        except self._driver_error as exc:
            raise self._store_error(exc) from None

    # -- the template ------------------------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Any]:
        """One atomic change. Nested calls join the outer transaction; any exception rolls the whole change back."""
        conn = self.connection()
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield conn
            finally:
                self._local.depth = depth
            return
        with self._write_lock():
            self._local.depth = 1
            self._local.after_commit = []
            try:
                try:
                    self._begin_write(conn)
                    try:
                        yield conn
                    except BaseException:
                        self._rollback(conn)
                        raise
                    self._commit(conn)
                except self._driver_error as exc:
                    raise self._store_error(exc) from None
            finally:
                self._local.depth = 0
        callbacks, self._local.after_commit = self._local.after_commit, []
        for cb in callbacks:
            cb()

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[Any]:
        """A part of the current write transaction that can fail alone: an exception inside rolls back only what
        was done inside (then propagates); the rest of the transaction stands. Outside a write, a write."""
        if not self.in_write():
            with self.write() as conn:
                yield conn
            return
        conn = self.connection()
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")

    def in_write(self) -> bool:
        """Whether this thread is inside a write transaction."""
        return bool(getattr(self._local, "depth", 0))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current write transaction commits (dropped on rollback). The same callback
        registered several times in one transaction (every service step calls ``App.changed``) runs once."""
        if self.in_write():
            if callback not in self._local.after_commit:
                self._local.after_commit.append(callback)
        else:
            callback()
