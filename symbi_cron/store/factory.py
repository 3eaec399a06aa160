"""Which store a process opens: SQLite (the default, the data directory's file) or PostgreSQL.

``SYMBI_STORE_URL`` wins, then ``[store] url`` in ``config.toml``. A relative ``sqlite:`` path is taken against the
config file's directory when it comes from the file, against the current directory when it comes from the
variable (which ``daemon start`` makes absolute before the daemon changes directory). Only a ``postgresql://`` (or ``postgres://``)
URL selects PostgreSQL, and only then is psycopg imported. The config file is read with tomllib alone (no
pydantic: ``symbi cron list`` must stay fast); ``config.StoreSettings`` validates the same key when the settings
are loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..envref import expand_env, unset_refs
from ..errors import ConfigError
from ..paths import Paths, sqlite_path

PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(PG_SCHEMES)


def store_url(paths: Paths, env: Mapping[str, str] | None = None) -> str | None:
    """The configured store URL with ``${VAR}`` expanded, or None for the SQLite file in the data directory."""
    env = os.environ if env is None else env
    url = env.get("SYMBI_STORE_URL") or None
    base = None  # a relative sqlite: path: against the current directory (the variable's)
    if url is None and paths.config_file.is_file():
        url = _config_url(paths)
        base = paths.config_dir  # ... or the config file's directory, wherever the process runs
    if not url:
        return None
    missing = unset_refs(url, env)
    if missing:  # an empty password would be tried (and logged as a login failure) instead: refuse to connect
        raise ConfigError(
            f"refers to ${{{missing[0]}}}, which is not set: not connecting without it",
            field="store.url",
        )
    url = expand_env(url, env)
    if url.startswith("sqlite:"):
        if url in ("sqlite:", "sqlite://"):
            return None
        return "sqlite:" + str(sqlite_path(url, base or Path.cwd()))
    if not is_postgres_url(url):
        raise ConfigError(
            f"store.url must start with postgresql:// (or be empty for SQLite), got {url[:20]!r}",
            field="store.url",
        )
    return url


def _config_url(paths: Paths) -> str | None:
    from ..tomlfile import read_toml

    # A file that does not parse is an error naming it: guessing SQLite here would send a PostgreSQL user's changes
    # to a local file.
    data = read_toml(paths.config_file)
    section = data.get("store")
    url = section.get("url") if isinstance(section, dict) else None
    return url if isinstance(url, str) and url else None


def open_store(paths: Paths, env: Mapping[str, str] | None = None, *, url: str | None = None) -> Any:
    """The store this process should use: ``PgStore`` for a postgresql URL, else the SQLite ``Store``."""
    if url is None:
        url = store_url(paths, env)
    if url and is_postgres_url(url):
        from .postgres import PgStore

        return PgStore(url)
    from .db import Store

    if url and url.startswith("sqlite:"):
        return Store(sqlite_path(url, Path.cwd()))
    return Store(paths.db, paths.lock)
