"""``custom:NAME`` channels: a configured command, or a Python entry point.

``[custom_channels] NAME = "command args"`` runs the command (split like a shell, run without one, ``${ENV}``
expanded at send time) with the JSON payload on stdin, in its own process group, killed after
``custom_timeout_seconds``. Exit 0 is success; otherwise the receipt carries the exit status and stderr's
tail.

A name not in ``[custom_channels]`` is looked up in the entry-point group ``symbi_cron.delivery``. The entry
point loads a class or factory, which is called with no arguments and must give an object with ``send(payload,
ctx)``; an object that already has ``send`` (a module or instance) is used as is. ``send`` may return a
:class:`Receipt`, a bool, or None (success); an exception is a failed receipt.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from typing import Any

from .base import DeliveryContext, DeliveryPayload, Receipt, tail

ENTRY_POINT_GROUP = "symbi_cron.delivery"
STDERR_TAIL = 500


class CommandChannel:
    """A ``[custom_channels]`` command."""

    def __init__(self, name: str, command: str) -> None:
        self.name = name
        self.command = command

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        try:
            argv = shlex.split(ctx.secret(self.command) or "")
        except ValueError as exc:
            return ctx.receipt(self.name, False, f"custom_channels: cannot parse the command ({exc})")
        if not argv:
            return ctx.receipt(self.name, False, "custom_channels: the command is empty")
        env = dict(ctx.env)
        env.update(
            {
                "SYMBI_DELIVERY_CHANNEL": self.name,
                "SYMBI_JOB_ID": str(payload.job.get("id") or ""),
                "SYMBI_JOB_NAME": payload.job_name,
                "SYMBI_RUN_ID": payload.run_id,
                "SYMBI_RUN_STATUS": payload.status,
            }
        )
        timeout = ctx.delivery.custom_timeout_seconds
        # stderr goes to a file, not a pipe: a child the command leaves running in the background (`notify &`,
        # a setsid daemon) would hold a pipe open, and reading it to the end would wait for that child (past the
        # timeout, forever for a daemon) instead of for the command.
        with tempfile.TemporaryFile() as errfile:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=errfile,
                    env=env,
                    cwd=str(ctx.paths.data_dir) if ctx.paths.data_dir.is_dir() else None,
                    start_new_session=True,  # its own process group, so a timeout kills its children too
                )
            except FileNotFoundError:
                return ctx.receipt(self.name, False, f"command not found: {argv[0]}")
            except PermissionError:
                return ctx.receipt(self.name, False, f"command not executable: {argv[0]}")
            except OSError as exc:
                return ctx.receipt(self.name, False, f"cannot start {argv[0]}: {exc.strerror or exc}")
            try:
                proc.communicate(payload.to_json().encode("utf-8"), timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                return ctx.receipt(self.name, False, f"{argv[0]}: timed out after {timeout:g}s (killed)")
            errfile.seek(max(0, errfile.seek(0, os.SEEK_END) - STDERR_TAIL * 8))  # only its tail is quoted
            text = errfile.read().decode("utf-8", "replace")
        if proc.returncode != 0:
            how = f"exit {proc.returncode}" if proc.returncode > 0 else f"killed by signal {-proc.returncode}"
            return ctx.receipt(
                self.name,
                False,
                f"{argv[0]}: {how}" + (f": {tail(text, STDERR_TAIL)}" if text.strip() else ""),
            )
        return ctx.receipt(self.name, True, f"{argv[0]}: exit 0")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        proc.kill()


class EntryPointChannel:
    """Wraps a plug-in channel: fixes its receipt's name and stamps, turns its other answers into receipts."""

    def __init__(self, name: str, impl: Any) -> None:
        self.name = name
        self.impl = impl

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        result = self.impl.send(payload, ctx)
        if isinstance(result, Receipt):
            return ctx.receipt(self.name, result.ok, result.detail, max(1, result.attempts))
        if result is None or result is True:
            return ctx.receipt(self.name, True, None)
        if result is False:
            return ctx.receipt(self.name, False, "the plug-in reported a failure")
        return ctx.receipt(self.name, bool(getattr(result, "ok", False)), str(getattr(result, "detail", result)))


def find_entry_point(name: str) -> Any | None:
    """The entry point ``name`` in the group ``symbi_cron.delivery``, or None (the metadata scan happens
    here)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep
    return None


def load_entry_point_channel(channel_name: str, ep_name: str) -> EntryPointChannel:
    """Load and build the plug-in channel; raises LookupError if there is none, other errors as they come."""
    ep = find_entry_point(ep_name)
    if ep is None:
        raise LookupError(ep_name)
    obj = ep.load()
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "send")):
        obj = obj()
    if not callable(getattr(obj, "send", None)):
        raise TypeError(f"entry point {ep.value} does not give a channel (no send method)")
    return EntryPointChannel(channel_name, obj)
