"""``symbi cron test-delivery JOB``: send a sample run through a job's delivery channels, print the
receipts."""

from __future__ import annotations

import sys

import click

from .common import emit_json, format_option, get_app, render_table
from .completers import complete_channel, complete_job
from .table import Fit


@click.command("test-delivery")
@click.argument("job", metavar="JOB", shell_complete=complete_job)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="CHANNEL",
    shell_complete=complete_channel,
    help="Send only through this channel (repeatable): stdout, log_file, webhook, slack, email or "
    "custom:NAME. "
    "Default: the job's own delivery list.",
)
@format_option()
def test_delivery(job: str, channels: tuple[str, ...], fmt: str) -> None:
    """Send a sample run of JOB through its delivery channels and print one receipt per channel.

    No agent runs and nothing is stored. Exits 1 when any channel failed. JOB is a job id, id prefix or
    name.
    """
    from ..services.delivery import test_delivery as send_sample

    # With --format json the stdout channel writes to stderr, so stdout stays one JSON document.
    receipts = send_sample(get_app(), job, channels, stdout=sys.stderr if fmt == "json" else sys.stdout)
    if fmt == "json":
        emit_json([r.to_dict() for r in receipts])
    else:
        render_table(
            [r.to_dict() for r in receipts],
            [
                ("CHANNEL", "channel"),
                ("RESULT", lambda r: "ok" if r["ok"] else "FAILED"),
                ("ATTEMPTS", "attempts"),
                ("DETAIL", "detail", Fit(shrink=20, early=True)),
            ],
        )
    failed = sum(1 for r in receipts if not r.ok)
    if failed:
        from ..errors import SymbiError

        raise SymbiError(f"{failed} of {len(receipts)} channel(s) failed")
