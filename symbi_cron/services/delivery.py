"""Delivery use cases: send a finished run's output through its job's channels and keep the receipts, or send a
sample run to test the channels (SPEC §8). The supervisor, the CLI and anything else reach delivery through here.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .. import retry
from ..errors import InvalidInput, SymbiError
from ..vocab import ChannelName
from .app import App

#: The waits between attempts to store a receipt the store refused: 0.2 s, doubling, at most 5 s.
RECEIPT_BACKOFF = retry.Backoff(0.2, cap=5.0)

if TYPE_CHECKING:
    from ..delivery.base import DeliveryContext, Receipt


#: Channels that answer at once, on this machine: the store connection is kept while they are sent.
LOCAL_CHANNELS = frozenset({ChannelName.stdout.value, ChannelName.log_file.value})


def delivery_context(app: App, *, stdout: TextIO | None, log: logging.Logger | None = None) -> DeliveryContext:
    """What channels may use: the settings, paths, clock and environment of ``app``; ``stdout`` is where the
    stdout channel writes (the daemon's log, or the terminal)."""
    from ..delivery.base import DeliveryContext

    return DeliveryContext(
        settings=app.settings,
        paths=app.paths,
        clock=app.clock,
        env=dict(app.env if app.env is not None else os.environ),
        log=log,
        stdout=stdout,
    )


def owe_deliveries(conn: Any, job: dict[str, Any], run: dict[str, Any], *, owner: str, now_ms: int) -> list[str]:
    """Inside the transaction that records a finished run: write the deliveries it owes to the outbox (one row per
    channel of the job), held by ``owner`` until each has its receipt. Nothing is owed when the job's
    ``delivery_on`` does not want this run (:func:`wants_delivery`). Returns the channels owed."""
    from ..store import outbox

    channels = [str(c) for c in (job.get("delivery") or [])]
    if not channels:
        return []
    if (job.get("delivery_on") or "always") != "always":
        from ..store.runs import previous_status

        if not wants_delivery(job, run["status"], previous_status(conn, job["id"], run)):
            return []
    outbox.enqueue(conn, run["id"], channels, owner=owner, now_ms=now_ms)
    return channels


def deliver_owed(
    app: App,
    run_id: str,
    *,
    owner: str,
    stdout: TextIO | None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send what ``run_id`` still owes (its outbox rows), one channel at a time: each receipt is stored, and the row
    settled, in one transaction right after its channel answers, so a crash loses at most the receipt being
    written (that channel is sent again by whoever takes the run's deliveries over: at least once). Never raises
    for a channel (a failed delivery is a failed receipt). Returns how many channels were sent."""
    from ..delivery.base import DeliveryPayload
    from ..delivery.router import deliver
    from ..store import jobs as job_rows
    from ..store import outbox
    from ..store import runs as run_rows

    with app.store.read() as conn:
        channels = outbox.owed(conn, run_id)
        if not channels:
            return 0
        run = run_rows.get(conn, run_id)
        job = job_rows.get(conn, run["job_id"]) if run is not None else None
    if run is None or job is None:
        return 0
    ctx = delivery_context(app, stdout=stdout, log=logging.getLogger("symbi.delivery"))
    payload = DeliveryPayload(job=job, run=run, output=run.get("output") or "")
    sent = 0
    for channel in channels:
        if channel not in LOCAL_CHANNELS:
            app.store.give_back()  # no connection held while a remote channel answers (a run owner on PostgreSQL)
        receipts = deliver(payload, [channel], ctx)
        sent += 1
        _keep_receipts(app, run_id, channel, receipts, sleep=sleep)
    return sent


def _keep_receipts(
    app: App, run_id: str, channel: str, receipts: list[Receipt], *, sleep: Callable[[float], None]
) -> None:
    """Store the channel's receipts and settle its outbox row in one transaction, retried until the store takes
    them: the channel answered, so its receipt must be kept (a full disk only delays it)."""
    from ..store import outbox
    from ..store.deliveries import save_receipts

    def attempt(t: retry.Try) -> None | retry.Again:
        try:
            with app.store.write() as tx:
                save_receipts(tx, run_id, receipts)
                outbox.settle(tx, run_id, channel)
        except SymbiError as exc:
            return retry.Again(str(exc), value=exc)
        return None

    def note(again: retry.Again, attempts: int, wait: float) -> None:
        logging.getLogger("symbi.delivery").error(
            "cannot store the %s receipt of run %s yet (retrying): %s", channel, run_id[:8], again.value
        )

    retry.run(attempt, retries=None, backoff=RECEIPT_BACKOFF, sleep=sleep, on_retry=note)


def test_delivery(
    app: App, ref: str, channels: list[str] | tuple[str, ...] = (), *, stdout: TextIO | None
) -> list[Receipt]:
    """Send a sample run of the job through ``channels`` (default: the job's own); nothing is stored."""
    from ..delivery.router import deliver
    from ..delivery.sample import check_channel_names, sample_payload
    from .jobs import get_job

    job = get_job(app, ref)
    names = (
        check_channel_names(channels) if channels else check_channel_names(job.get("delivery") or [], field="delivery")
    )
    if not names:
        raise InvalidInput("the job has no delivery channels; name some with --channel", field="delivery")
    return deliver(sample_payload(job, app.clock.now()), names, delivery_context(app, stdout=stdout))


test_delivery.__test__ = False  # type: ignore[attr-defined]  # a use case, not a pytest test


def wants_delivery(job: dict[str, Any], run_status: str, previous_status: str | None) -> bool:
    """Whether a finished run goes to its job's channels, by the job's ``delivery_on``: ``always``; ``failure``
    (failed, timed_out, interrupted: cron's MAILTO with chronic); ``change`` (the status differs from the
    previous run's; ``previous_status`` None, a first run, is a change). Pure: the run path asks it once."""
    from ..vocab import FAILURE_RUN_STATUSES

    when = job.get("delivery_on") or "always"
    if when == "failure":
        return run_status in FAILURE_RUN_STATUSES
    if when == "change":
        return previous_status is None or previous_status != run_status
    return True


def custom_channel_names(settings: Any) -> list[str]:
    """The ``custom:NAME`` channels this installation knows: ``[custom_channels]`` and the plug-ins installed in the
    entry point group ``symbi_cron.delivery``."""
    from importlib.metadata import entry_points

    from ..delivery.custom import ENTRY_POINT_GROUP

    return sorted({*settings.custom_channels, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
