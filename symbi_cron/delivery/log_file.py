"""The ``log_file`` channel: appends a header and the output to the job's own file, ``logs/jobs/<job>.log``.

The file is created 0600. Each delivery is one ``write`` under an exclusive ``flock``, so runs of the same job
finishing together never interleave their blocks.
"""

from __future__ import annotations

from ..vocab import ChannelName
from .base import DeliveryContext, DeliveryPayload, Receipt


def entry(payload: DeliveryPayload, ctx: DeliveryContext) -> str:
    """One block: ``=== <time> run <id> <status> (<trigger>, <duration>, exit N) ===`` then the output."""
    run = payload.to_dict()["run"]
    bits = [b for b in (run.get("trigger"), payload.duration_text()) if b]
    if run.get("exit_code") is not None:
        bits.append(f"exit {run['exit_code']}")
    extra = f" ({', '.join(str(b) for b in bits)})" if bits else ""
    head = f"=== {ctx.now().isoformat(timespec='seconds')} run {payload.run_id} {payload.status}{extra} ===\n"
    lines = [head]
    if run.get("error_message"):
        lines.append(f"error: {run['error_message']}\n")
    output = payload.output or ""
    if output:
        lines.append(output if output.endswith("\n") else output + "\n")
    return "".join(lines)


class LogFileChannel:
    name = ChannelName.log_file

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        from ..paths import open_private

        path = ctx.paths.job_log(payload.job_name)
        data = entry(payload, ctx).encode("utf-8", "replace")
        try:
            with open_private(path, "ab") as fh:
                try:
                    import fcntl

                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                except (ImportError, OSError):  # no flock here (Windows, some network file systems)
                    pass
                fh.write(data)
                fh.flush()
        except OSError as exc:
            return ctx.receipt(self.name, False, f"cannot write {path}: {exc.strerror or exc}")
        return ctx.receipt(self.name, True, f"appended to {path}")
