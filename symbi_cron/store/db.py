"""The SQLite job store: connections, the file lock, transactions and migrations.

SQLite runs in WAL mode with a busy timeout, so readers never block the writer. Every change goes through
:meth:`Store.write`: the cross-process file lock, then ``BEGIN IMMEDIATE``; an exception anywhere inside rolls
the whole change back, so a failed write leaves the store exactly as it was. Reads need no lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .base import TransactionalStore
from .migrations import LATEST_VERSION, MIGRATIONS

BUSY_TIMEOUT_MS = 10_000
LOCK_TIMEOUT_S = 30.0


def _store_error(exc: BaseException, path: Path) -> StoreError:
    text = str(exc)
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        return StoreError(f"the store {path} is read-only: cannot write ({text})")
    if "disk is full" in low or "database or disk is full" in low or getattr(exc, "errno", None) == 28:
        return StoreError(f"the disk holding {path} is full: nothing was changed ({text})")
    if "unable to open" in low:
        return StoreError(f"cannot open the store {path} ({text}); check the directory exists and is writable")
    if "locked" in low or "busy" in low:
        return StoreError(f"the store {path} is busy (another process holds it); try again")
    if "not a database" in low or "malformed" in low:
        return StoreError(f"the store {path} is damaged ({text}); restore it from a backup")
    return StoreError(f"store error on {path}: {text}")


class Store(TransactionalStore):
    """One SQLite store file. Thread-safe: each thread gets its own connection."""

    #: Which SQL dialect the connections speak (``postgres.PgStore`` says "postgresql").
    dialect = "sqlite"

    def __init__(self, path: Path, lock_path: Path | None = None, *, lock_timeout: float = LOCK_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.lock_path = Path(lock_path) if lock_path else self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        self._lock_obj: Any = None
        self._migrated = False
        self._migrate_lock = threading.Lock()
        #: False once the store is known to exist (:meth:`must_exist`): a connection opened later never creates the
        #: file again when it was deleted meanwhile (it fails, and the daemon sees its store deleted).
        self.create_missing = True

    def must_exist(self) -> None:
        self.create_missing = False

    # -- connections -------------------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        try:
            target: Any = self.path
            if not self.create_missing:
                from urllib.parse import quote

                target = f"file:{quote(str(self.path))}?mode=rw"
            else:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not self.path.exists():
                    # Create the file 0600 before SQLite does (it would honour the umask); -wal/-shm copy its mode.
                    os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(
                target,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
                uri=not self.create_missing,
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as exc:
            raise _store_error(exc, self.path) from None
        return conn

    # -- the file lock -----------------------------------------------------------------------------------------
    _driver_error = sqlite3.Error

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        if self._lock_obj is None:
            self._lock_obj = WriteLock(self.lock_path, self.lock_timeout)
        try:
            self._lock_obj.acquire()
        except TimeoutError:
            raise StoreError(f"the store lock {self.lock_path} is held by another process; try again") from None
        except OSError as exc:
            raise _store_error(exc, self.lock_path) from None
        try:
            yield
        finally:
            self._lock_obj.release()

    def _begin_write(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _commit(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            self._rollback(conn)
            raise

    def _rollback(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # nothing to roll back (the failed statement ended the transaction)

    def _store_error(self, exc: BaseException) -> StoreError:
        return _store_error(exc, self.path)

    def compact(self) -> None:
        """After removing many rows: fold the WAL back into the file and truncate it (the freed pages are reused by
        later writes, so the file stops growing; it does not shrink)."""
        try:
            self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass  # readers hold the WAL: the next checkpoint will do it

    def notify_changed(self, origin: str = "") -> None:
        """Nothing to announce: one SQLite store has one daemon, which the CLI signals (``App.notify``)."""

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries (no lock taken)."""
        conn = self.connection()
        if self.in_write():
            yield conn
            return
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    # -- schema ------------------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return int(self.connection().execute("PRAGMA user_version").fetchone()[0])

    def check_writable(self) -> None:
        """A real, idempotent write: the schema version written back as it is (a read-only store, a full disk, a
        lock nobody releases fail here)."""
        with self.write() as tx:
            version = int(tx.execute("PRAGMA user_version").fetchone()[0])
            tx.execute(f"PRAGMA user_version = {version}")

    def migrate(self) -> int:
        """Apply pending migrations (in one transaction); return the version reached."""
        conn = self.connection()
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if current > LATEST_VERSION:
            raise StoreError(
                f"the store {self.path} has schema version {current}, newer than this symbi ({LATEST_VERSION});"
                " upgrade symbi-cron"
            )
        if current == LATEST_VERSION:
            self._migrated = True
            return current
        with self.write() as tx:
            current = int(tx.execute("PRAGMA user_version").fetchone()[0])
            for version, _title, sql in MIGRATIONS:
                if version <= current:
                    continue
                for statement in _split_sql(sql):
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {version}")
                current = version
        self._migrated = True
        return current


class WriteLock:
    """The store's cross-process write lock: an exclusive ``flock`` on the lock file (0600), behind a mutex shared
    by the threads of this process (``flock`` excludes open files, not threads).

    Uncontended, it costs one ``flock`` call. Contended, the wait is the kernel's: a blocking ``flock`` made by a
    short-lived thread while the caller waits for it with its deadline, so hundreds of waiting processes (a burst
    of run owners recording at once) sleep in the kernel and are woken in turn, instead of polling the lock and
    taking the CPU from its holder (with a polling wait, 500 owners recording at once turned into a convoy: records
    seconds late, some timing out). A wait that times out leaves its blocking ``flock`` behind: when it is granted,
    the next caller of this process takes it over if one waits, else it is released at once. (The ``filelock``
    package polled too, at ~0.5 ms of CPU per acquire and release.) A process forked with the lock object opens the
    file again: a descriptor inherited across ``fork`` shares its lock with the parent.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._wait: _BlockingFlock | None = None  # a blocking flock in progress (this process's one at a time)

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
            self._wait = None  # a waiting thread of the parent did not cross the fork
        return self._fd

    def acquire(self) -> None:
        import fcntl
        import time

        deadline = time.monotonic() + self.timeout
        if not self._mutex.acquire(timeout=self.timeout):
            raise TimeoutError(str(self.path))
        try:
            fd = self._file()
            while True:
                if self._wait is None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        return
                    except BlockingIOError:
                        self._wait = _BlockingFlock(fd)
                wait = self._wait
                if wait.take(deadline - time.monotonic()):
                    self._wait = None
                    return
                if wait.ended():
                    self._wait = None  # granted and let go meanwhile (or failed): try again from the start
                    if time.monotonic() < deadline:
                        continue
                raise TimeoutError(str(self.path))  # it goes on waiting: granted later, it is released or taken
        except BaseException:
            self._mutex.release()
            raise

    def release(self) -> None:
        import fcntl

        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


class _BlockingFlock:
    """One blocking ``flock(LOCK_EX)`` made by a thread of its own; :meth:`take` waits for it with a timeout. A wait
    nobody takes when it is granted (its caller timed out and no other came) releases the lock at once."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._state = threading.Lock()
        self._done = threading.Event()
        self._granted = False
        self._wanted = True
        threading.Thread(target=self._run, name="store-lock-wait", daemon=True).start()

    def _run(self) -> None:
        import fcntl

        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            self._done.set()  # the descriptor was closed (the store closed): the caller times out
            return
        with self._state:
            self._granted = True
            if not self._wanted:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                self._granted = False
        self._done.set()

    def ended(self) -> bool:
        """The wait is over and nobody holds what it got (let go at once, or the flock failed)."""
        with self._state:
            return self._done.is_set() and not self._granted

    def take(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the lock; True when this caller holds it now."""
        with self._state:
            if self._done.is_set() and not self._granted:
                return False
            self._wanted = True
        self._done.wait(max(0.0, timeout))
        with self._state:
            if self._granted:
                return True
            self._wanted = False  # released as soon as it is granted, unless another caller takes it first
            return False


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new store to WAL. Two processes (or threads) opening a brand-new file at once race for this
    switch, and SQLite answers the loser "database is locked" at once, without its busy handler: retry until the
    busy timeout instead of failing the command."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            buf = []
    rest = "\n".join(buf).strip()
    if rest:
        statements.append(rest)
    return statements


def inspect_file(path: Path, *, thorough: bool = True) -> tuple[int | None, list[str]]:
    """Check a SQLite store file without changing it (read-only: no migration, no WAL switch): its schema version
    and what ``PRAGMA integrity_check`` (``quick_check`` unless ``thorough``) and ``foreign_key_check`` report.
    Returns (version or None when unreadable, problems)."""
    if not path.exists():
        return None, []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        return None, [str(_store_error(exc, path))]
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        check = "integrity_check(20)" if thorough else "quick_check(20)"
        problems = [r[0] for r in conn.execute(f"PRAGMA {check}") if r[0] != "ok"]
        orphans = conn.execute("PRAGMA foreign_key_check").fetchmany(5)
        problems += [f"row {r[1]} of table {r[0]} refers to a missing row of {r[2]}" for r in orphans]
        return version, problems
    except sqlite3.Error as exc:
        return None, [str(_store_error(exc, path))]
    finally:
        conn.close()
