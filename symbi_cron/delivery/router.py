"""Routing one run's output to its channels: one receipt per channel, never an exception.

Channel names: ``stdout``, ``log_file``, ``webhook``, ``slack``, ``email``; ``custom:NAME`` for a
``[custom_channels]`` command or, failing that, the entry point ``NAME`` of the group ``symbi_cron.delivery``
(entry points are scanned only when such a channel is named). A bare name that is not built in is looked up
as an entry point too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..vocab import BUILTIN_CHANNELS, ChannelName
from .base import Channel, DeliveryContext, DeliveryPayload, Receipt


def _builtin(name: str) -> Channel:
    # Each channel module is imported only when a job uses it (smtplib, urllib: start-up time).
    if name == ChannelName.stdout:
        from .stdout import StdoutChannel

        return StdoutChannel()
    if name == ChannelName.log_file:
        from .log_file import LogFileChannel

        return LogFileChannel()
    if name == ChannelName.webhook:
        from .webhook import WebhookChannel

        return WebhookChannel()
    if name == ChannelName.slack:
        from .slack import SlackChannel

        return SlackChannel()
    if name == ChannelName.email:
        from .email import EmailChannel

        return EmailChannel()
    raise KeyError(name)


BUILTIN_NAMES = BUILTIN_CHANNELS


class UnknownChannel(LookupError):
    """No channel by that name (built in, configured or installed)."""


def get_channel(name: str, ctx: DeliveryContext) -> Channel:
    """The channel called ``name``; raises :class:`UnknownChannel` naming what was looked for."""
    if name in BUILTIN_NAMES:
        return _builtin(name)
    from .custom import CommandChannel, load_entry_point_channel

    short = name[len("custom:") :] if name.startswith("custom:") else name
    if not short:
        raise UnknownChannel("empty custom channel name (write custom:NAME)")
    commands = getattr(ctx.settings, "custom_channels", None) or {}
    if short in commands:
        return CommandChannel(name, commands[short])
    try:
        return load_entry_point_channel(name, short)
    except LookupError:
        pass
    known = ", ".join(sorted(commands)) or "none"
    raise UnknownChannel(
        f"unknown channel {name!r}: no [custom_channels] entry {short!r} (configured: {known}) "
        f"and no entry point {short!r} in the group symbi_cron.delivery"
    )


def deliver(payload: DeliveryPayload, channels: list[str], ctx: DeliveryContext) -> list[Receipt]:
    """Send ``payload`` through each channel in order; one receipt each, in the same order.

    Never raises: an unknown channel, a broken plug-in or a channel's bug becomes a failed receipt, and every
    receipt's detail (and every log line) has the secrets in play masked.
    """
    from .redact import build_redactor

    try:
        redactor = build_redactor(payload.job, ctx.settings, ctx.env)
    except Exception:  # a redactor that cannot be built must not stop delivery; patterns still apply
        from .redact import Redactor

        redactor = Redactor()
    ctx = dataclasses.replace(ctx, redactor=redactor)
    receipts: list[Receipt] = []
    for name in dict.fromkeys(channels):  # each channel once, in the order given
        receipts.append(_send_one(name, payload, ctx))
    return receipts


def _send_one(name: str, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
    try:
        channel = get_channel(name, ctx)
    except UnknownChannel as exc:
        receipt = ctx.receipt(name, False, str(exc))
    except Exception as exc:  # a plug-in that fails to import or build
        receipt = ctx.receipt(name, False, f"cannot load channel: {type(exc).__name__}: {exc}")
    else:
        try:
            receipt = channel.send(payload, ctx)
            if not isinstance(receipt, Receipt):
                raise TypeError(f"send() returned {type(receipt).__name__}, not a Receipt")
            # Whatever the channel wrote, the stored receipt is named as the job named it and is redacted.
            receipt = dataclasses.replace(receipt, channel=name, detail=ctx.redact(receipt.detail))
        except Exception as exc:
            receipt = ctx.receipt(name, False, f"channel error: {type(exc).__name__}: {exc}")
    _log(receipt, payload, ctx)
    return receipt


def _log(receipt: Receipt, payload: DeliveryPayload, ctx: DeliveryContext) -> None:
    msg = (
        f"delivery {receipt.channel} for job {payload.job_name} run {payload.run_id}: "
        f"{'ok' if receipt.ok else 'FAILED'} after {receipt.attempts} attempt(s)"
        + (f": {receipt.detail}" if receipt.detail else "")
    )
    if receipt.ok:
        ctx.info(msg)
    else:
        ctx.warning(msg)


def summarize(receipts: list[Receipt]) -> dict[str, Any]:
    """Counts for a status line: ``{"ok": n, "failed": m}``."""
    ok = sum(1 for r in receipts if r.ok)
    return {"ok": ok, "failed": len(receipts) - ok}
