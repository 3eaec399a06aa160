"""The error tree.

Every error a user can cause is a :class:`SymbiError`. Each class carries its stable exit code (documented in
docs/cli.md) and a machine-readable ``code`` that the HTTP API reuses. The CLI catches ``SymbiError`` in one place,
prints ``error: <message>`` to stderr and exits with ``exit_code``; the HTTP layer maps ``http_status``.
"""

from __future__ import annotations

from typing import Any

# Stable exit codes (SPEC §11). Never renumber them.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_DAEMON_NOT_RUNNING = 5


class SymbiError(Exception):
    """Root of every error a user can cause or act on."""

    exit_code = EXIT_FAILURE
    http_status = 500
    code = "error"

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        self.message = message
        self.field = field
        self.details = details
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.field:
            return f"{self.field}: {self.message}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``{error, code, details}``."""
        details = self.details
        if details is None and self.field:
            details = {"field": self.field}
        return {"error": str(self), "code": self.code, "details": details}


class InvalidInput(SymbiError):
    """A value given by the user is wrong: names the field and what is wrong."""

    exit_code = EXIT_USAGE
    http_status = 400
    code = "invalid_input"


class CronError(InvalidInput):
    """A cron expression is malformed or can never fire."""

    code = "invalid_cron"


class ConfigError(SymbiError):
    """config.toml or an environment override is wrong (names the key)."""

    exit_code = EXIT_USAGE
    http_status = 500
    code = "invalid_config"


class NotFound(SymbiError):
    """A job, run or agent that does not exist."""

    exit_code = EXIT_NOT_FOUND
    http_status = 404
    code = "not_found"


class Conflict(SymbiError):
    """A name clash, an ambiguous id prefix, or a change the current state forbids."""

    exit_code = EXIT_CONFLICT
    http_status = 409
    code = "conflict"


class InvalidState(Conflict):
    """The object is in a state that does not allow this change (e.g. resuming an active job)."""

    code = "invalid_state"


class DaemonNotRunning(SymbiError):
    """A command needs the supervisor and none runs."""

    exit_code = EXIT_DAEMON_NOT_RUNNING
    http_status = 503
    code = "daemon_not_running"


class StoreError(SymbiError):
    """The store cannot be read or written (read-only file, full disk, corrupt database)."""

    exit_code = EXIT_FAILURE
    http_status = 503
    code = "store_unavailable"


class StoreLost(StoreError):
    """The store the daemon opened was deleted or replaced under it: the daemon stops (and is restarted)."""

    code = "store_lost"


class PermissionDenied(SymbiError):
    """The actor may not do this (e.g. approving a run without being an approver)."""

    exit_code = EXIT_CONFLICT
    http_status = 403
    code = "forbidden"
