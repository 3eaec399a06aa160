"""The ``stdout`` channel: a header line and the output, written to ``ctx.stdout``.

In daemon mode the supervisor points ``ctx.stdout`` at its log (daemon.log), or at stdout under systemd (the
journal): there each output line is quoted (``  | ...``, control characters escaped) so an agent's output can
never pass for one of the daemon's records. In the foreground of ``symbi cron run`` it is the terminal, as is.
"""

from __future__ import annotations

import sys

from ..vocab import ChannelName
from .base import DeliveryContext, DeliveryPayload, Receipt


def header(payload: DeliveryPayload, ctx: DeliveryContext) -> str:
    """``[2026-02-15T14:30:00+00:00] job NAME run ID succeeded (1.20s, schedule, exit 0)``."""
    run = payload.run
    bits = [b for b in (payload.duration_text(), payload.to_dict()["run"].get("trigger")) if b]
    if run.get("exit_code") is not None:
        bits.append(f"exit {run.get('exit_code')}")
    extra = f" ({', '.join(str(b) for b in bits)})" if bits else ""
    when = ctx.now().isoformat(timespec="seconds")
    return f"[{when}] job {payload.job_name} run {payload.run_id} {payload.status}{extra}"


class StdoutChannel:
    name = ChannelName.stdout

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        out = ctx.stdout if ctx.stdout is not None else sys.stdout
        text = header(payload, ctx) + "\n"
        output = payload.output or ""
        if output and getattr(out, "quote_output", False):
            from ..logsafe import quote_lines

            text += quote_lines(output)
        elif output:
            text += output if output.endswith("\n") else output + "\n"
        out.write(text)
        out.flush()
        return ctx.receipt(self.name, True, f"wrote {len(output):,} characters")
