"""Every file and directory symbi-cron uses (SPEC §2).

``SYMBI_HOME``, when set, holds everything. Otherwise the store, logs and contexts live in the platformdirs user
data dir ``symbi`` and ``config.toml`` in the user config dir ``symbi``. Directories are created 0700 and files
holding data or secrets 0600; nothing else in the package builds a path by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "symbi"


@dataclass(frozen=True)
class Paths:
    """The resolved locations. Build one with :func:`resolve`."""

    data_dir: Path
    config_dir: Path

    @property
    def db(self) -> Path:
        return self.data_dir / "symbi.db"

    @property
    def lock(self) -> Path:
        return self.data_dir / "symbi.db.lock"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def contexts_dir(self) -> Path:
        return self.data_dir / "contexts"

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "daemon.pid"

    @property
    def owner_connections_lock(self) -> Path:
        """The run owners' store connection slots (``store/slots.py``): one locked byte per connection held."""
        return self.data_dir / "owner-connections.lock"

    @property
    def daemon_log(self) -> Path:
        return self.data_dir / "daemon.log"

    @property
    def api_unavailable_file(self) -> Path:
        """Written by a daemon running without its API (the port could not be bound): why."""
        return self.data_dir / "api.unavailable"

    @property
    def api_url_file(self) -> Path:
        """Written by a daemon serving its API: the address it listens on (``symbi ui`` reads it)."""
        return self.data_dir / "api.url"

    @property
    def api_key_file(self) -> Path:
        return self.data_dir / "api.key"

    @property
    def runs_log_dir(self) -> Path:
        return self.logs_dir / "runs"

    @property
    def jobs_log_dir(self) -> Path:
        return self.logs_dir / "jobs"

    def run_log(self, run_id: str) -> Path:
        """The full output and stderr of one run."""
        return self.runs_log_dir / f"{run_id}.log"

    def run_held_mark(self, run_id: str) -> Path:
        """There while the agent of a run prepared ahead has not been released by its owner (it waits for its
        start time): a run whose owner died with it there never started its agent (``RunOwner``, ``Supervisor``)."""
        return self.runs_log_dir / f"{run_id}.held"

    def job_log(self, job_name: str) -> Path:
        """The job's own delivery file (the ``log_file`` channel)."""
        return self.jobs_log_dir / f"{safe_filename(job_name)}.log"

    def context_dir(self, job_id: str, run_id: str | None = None) -> Path:
        """A job's context directory; per run when ``run_id`` is given."""
        base = self.contexts_dir / job_id
        return base / run_id if run_id else base / "shared"

    def ensure(self) -> Paths:
        """Create the directories (0700) if missing; return self."""
        for d in (self.data_dir, self.config_dir):
            ensure_private_dir(d)
        return self


def safe_filename(name: str) -> str:
    """A file name derived from a job name, distinct for distinct names and short enough for any file system.

    A name of letters, digits, ``-``, ``_`` and ``.`` (not starting with ``.``, at most 100 bytes) is used as is.
    Any other name is cleaned (other characters become ``_``), shortened to 50 characters and given a hash of the
    original, so that ``a/b`` and ``a_b`` (or two long names with the same beginning) never share a file.
    """
    cleaned = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in name)
    if cleaned == name and name[:1] not in ("", ".") and len(name.encode("utf-8", "replace")) <= 100:
        return name
    import hashlib

    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{cleaned.lstrip('.')[:50]}-{digest}"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700 (whatever the umask). One system call when the
    directory exists or only its last part is missing (a run's context directory, every run)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return path
    except FileNotFoundError:
        ensure_private_dir(Path(path).parent)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            return path
    if os.stat(path).st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask; the directory must be private anyway
    return path


def open_private(path: Path, mode: str = "a", encoding: str | None = "utf-8"):
    """Open a file for writing, creating it 0600 whatever the process umask (and its directory 0700 when missing:
    looked at only then, so the usual open costs one system call)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        ensure_private_dir(path.parent)
        fd = os.open(path, flags, 0o600)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding=encoding)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open_private(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def resolve(env: Mapping[str, str] | None = None) -> Paths:
    """Resolve the locations from ``SYMBI_HOME`` or platformdirs, as absolute paths (a relative ``SYMBI_HOME``
    against the current directory, once: a daemon changes directory after this, and the same relative path would
    then mean another place; platformdirs ignores relative XDG variables)."""
    home = (os.environ if env is None else env).get("SYMBI_HOME")
    if home:
        root = Path(home).expanduser().absolute()
        return Paths(data_dir=root, config_dir=root)
    import platformdirs

    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
    )


def pinned_env(paths: Paths, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with every location in it made absolute for ``paths``: ``SYMBI_HOME`` (when set) and a relative
    ``sqlite:`` path in ``SYMBI_STORE_URL``, against the current directory. What a process passes on before it
    changes directory (the daemon) or to a process that may run elsewhere: they then mean the same places."""
    out = dict(env)
    if out.get("SYMBI_HOME"):
        out["SYMBI_HOME"] = str(paths.data_dir)
    url = out.get("SYMBI_STORE_URL") or ""
    if url.startswith("sqlite:") and url not in ("sqlite:", "sqlite://"):
        out["SYMBI_STORE_URL"] = "sqlite:" + str(sqlite_path(url, Path.cwd()))
    return out


def sqlite_path(url: str, base: Path) -> Path:
    """The file of a ``sqlite:PATH`` (or ``sqlite://PATH``) store URL, a relative PATH taken against ``base``."""
    return (base / Path(url.removeprefix("sqlite://").removeprefix("sqlite:")).expanduser()).absolute()
