"""Log files that do not grow forever: size-based rotation for ``daemon.log`` and the jobs' ``log_file`` logs.

``rotate(path, backups)`` renames ``x.log`` to ``x.log.1`` (``x.log.1`` to ``x.log.2``, ...), dropping the oldest,
under the same ``flock`` the ``log_file`` channel takes to append, so no block is split between two files.

:class:`RotatingLog` is the daemon's log stream: the logging handler and the ``stdout`` delivery channel both write
to it, and past ``max_bytes`` it rotates and points file descriptor 2 at the new file (a crash's traceback lands in
the current log). Its size is read from the open file before each write, so an outside ``logrotate
copytruncate`` is noticed too. Files are created 0600.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


def backups_of(path: Path) -> list[Path]:
    """``path``'s rotated copies that exist (``x.log.1``, ``x.log.2``, ...), newest first."""
    out = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            out.append((int(suffix), candidate))
    return [p for _, p in sorted(out)]


def rotate(path: Path, backups: int) -> None:
    """Shift ``path`` into ``path.1`` (and older copies up by one), keeping ``backups`` copies; with 0 backups the
    file is just emptied. The next writer creates ``path`` anew."""
    if backups <= 0:
        try:
            with open(path, "r+b") as fh:
                fh.truncate(0)
        except FileNotFoundError:
            pass
        return
    for old in backups_of(path):
        n = int(old.name.rsplit(".", 1)[1])
        if n >= backups:
            old.unlink(missing_ok=True)
    for n in range(backups - 1, 0, -1):
        src = path.with_name(f"{path.name}.{n}")
        if src.exists():
            os.replace(src, path.with_name(f"{path.name}.{n + 1}"))
    if path.exists():
        os.replace(path, path.with_name(f"{path.name}.1"))


def rotate_locked(path: Path, backups: int) -> None:
    """:func:`rotate` under the file's exclusive ``flock`` (what the ``log_file`` channel holds while it appends)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        rotate(path, backups)
    finally:
        os.close(fd)


class RotatingLog:
    """A text stream appending to ``path`` (0600) that rotates past ``max_bytes`` (0: never), keeping ``backups``
    copies. ``redirect_stderr`` points fd 2 at the current file."""

    def __init__(self, path: Path, *, max_bytes: int = 0, backups: int = 5, redirect_stderr: bool = False) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.redirect_stderr = redirect_stderr
        self._lock = threading.RLock()
        self._fh: Any = None
        self._open()

    def _open(self) -> None:
        from .paths import open_private

        self._fh = open_private(self.path, "a")
        if self.redirect_stderr:
            os.dup2(self._fh.fileno(), 2)

    def configure(self, *, max_bytes: int, backups: int) -> None:
        """New limits (a reload), applied from the next write."""
        with self._lock:
            self.max_bytes, self.backups = int(max_bytes), int(backups)

    def apply_settings(self, _old: Any, new: Any) -> None:
        """A reload applier (services/reload.py): ``[retention] daemon_log_max_bytes`` and ``daemon_log_backups``."""
        self.configure(max_bytes=new.retention.daemon_log_max_bytes, backups=new.retention.daemon_log_backups)

    def write(self, text: str) -> int:
        with self._lock:
            if self.max_bytes:
                try:
                    self._fh.flush()
                    mine = os.fstat(self._fh.fileno())
                    try:
                        current = os.stat(self.path)
                    except FileNotFoundError:
                        current = None
                    if current is None or current.st_ino != mine.st_ino:
                        # Another process writing this log (a run owner, the daemon) rotated it: follow.
                        self._reopen()
                        mine = os.fstat(self._fh.fileno())
                    size = mine.st_size + len(text.encode("utf-8", "replace"))
                except OSError:
                    size = 0
                if size > self.max_bytes and self._fh.tell() > 0:
                    self._rotate()
            n = self._fh.write(text)
            return n

    def _rotate(self) -> None:
        """Rotate under the log's ``flock`` (every process appending to it may decide to), unless another process
        did it meanwhile; then write to the new file."""
        import fcntl

        try:
            self._fh.flush()
            fd = os.open(self.path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.fstat(self._fh.fileno()).st_ino:
                    rotate(self.path, self.backups)
            finally:
                os.close(fd)
        except OSError:
            return  # a full disk or a read-only directory: keep writing where we can
        self._reopen()

    def _reopen(self) -> None:
        old, self._fh = self._fh, None
        try:
            self._open()
        except OSError:
            self._fh = old  # cannot create the new file: stay on the old one
            return
        old.close()

    def flush(self) -> None:
        with self._lock:
            self._fh.flush()

    def fileno(self) -> int:
        return self._fh.fileno()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._fh.close()

    @property
    def closed(self) -> bool:
        return self._fh is None or self._fh.closed

    @property
    def encoding(self) -> str:
        return self._fh.encoding
