"""Delivery use cases: send a finished run's output through its job's channels and keep the receipts, or send a
sample run to test the channels (SPEC §8). The supervisor, the CLI and anything else reach delivery through here.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import InvalidInput
from .app import App

if TYPE_CHECKING:
    from ..delivery.base import DeliveryContext, Receipt


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


def deliver_run(
    app: App, job: dict[str, Any], run: dict[str, Any], output: str, *, stdout: TextIO | None
) -> list[Receipt]:
    """Send a finished run through its job's channels and store one receipt per channel. Never raises for a
    channel (a failed delivery is a failed receipt). Nothing is sent when the job's ``delivery_on`` does not
    want this run (:func:`wants_delivery`)."""
    channels = list(job.get("delivery") or [])
    if not channels:
        return []
    if (job.get("delivery_on") or "always") != "always":
        from ..store.runs import previous_status

        with app.store.read() as conn:
            before = previous_status(conn, job["id"], run)
        if not wants_delivery(job, run["status"], before):
            return []
    from ..delivery.base import DeliveryPayload
    from ..delivery.receipts import save_receipts
    from ..delivery.router import deliver

    ctx = delivery_context(app, stdout=stdout, log=logging.getLogger("symbi.delivery"))
    receipts = deliver(DeliveryPayload(job=job, run=run, output=output), channels, ctx)
    with app.store.write() as tx:
        save_receipts(tx, run["id"], receipts)
    return receipts


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
