"""Context directories and the summary hand-over (SPEC §7). The summary comes from the store
(``store.runs.previous_summary``).

- ``ephemeral_with_summary``: a fresh directory per run (or iteration), removed afterwards; the previous
  summary is handed over in ``SYMBI_PREVIOUS_SUMMARY``.
- ``shared_persistent``: one directory for the job's whole life (``contexts/<job>/shared``), kept; the previous
  summary is handed over too (the directory is the memory, the summary is a convenience).
- ``fully_ephemeral``: a fresh directory, removed afterwards, nothing handed over.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..paths import Paths, ensure_private_dir

EPHEMERAL_WITH_SUMMARY = "ephemeral_with_summary"
SHARED_PERSISTENT = "shared_persistent"
FULLY_EPHEMERAL = "fully_ephemeral"
MODES = (EPHEMERAL_WITH_SUMMARY, SHARED_PERSISTENT, FULLY_EPHEMERAL)


@dataclass
class Session:
    """One context directory and what is handed to the agent with it."""

    mode: str
    context_dir: Path
    ephemeral: bool
    previous_summary: str | None

    @cached_property
    def summary_file(self) -> Path:
        """Where the agent may write its summary (``SYMBI_SUMMARY_FILE``)."""
        return self.context_dir / ".symbi-summary"

    def prepare(self) -> Session:
        """Create the directory (0700) and clear a stale summary file; return self."""
        ensure_private_dir(self.context_dir)
        try:
            self.summary_file.unlink()
        except FileNotFoundError:
            pass
        return self

    def close(self) -> None:
        """Remove the directory when the mode is ephemeral (a shared one is kept)."""
        if self.ephemeral:
            try:
                os.rmdir(self.context_dir)  # the usual case: the agent left nothing (one system call)
            except OSError:
                shutil.rmtree(self.context_dir, ignore_errors=True)


def open_session(
    paths: Paths, job_id: str, run_id: str, mode: str, previous_summary: str | None, *, suffix: str | None = None
) -> Session:
    """The session for one run (``suffix`` names an iteration's own directory under the run's)."""
    if mode not in MODES:
        mode = EPHEMERAL_WITH_SUMMARY
    if mode == SHARED_PERSISTENT:
        return Session(mode, paths.context_dir(job_id), False, previous_summary).prepare()
    directory = paths.context_dir(job_id, run_id)
    if suffix:
        directory = directory / suffix
    handed = previous_summary if mode == EPHEMERAL_WITH_SUMMARY else None
    return Session(mode, directory, True, handed).prepare()


def cleanup_job(paths: Paths, job_id: str) -> None:
    """Remove every context directory of a job (after the job is removed)."""
    shutil.rmtree(paths.contexts_dir / job_id, ignore_errors=True)
