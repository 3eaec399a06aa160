"""The ``symbi`` command. Commands parse options, call one service and render the result; nothing else.

Every :class:`~symbi_cron.errors.SymbiError` is caught here, once, printed as ``error: ...`` on stderr and mapped
to its exit code (SPEC §11). ``SYMBI_DEBUG=1`` shows the traceback of unexpected errors.
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from .lazy import LazyGroup

# Top-level commands and the `cron` group's commands, imported on use. A new command adds one line here.
ROOT_COMMANDS = {
    "cron": "symbi_cron.cli.cron:cron",
    "agent": "symbi_cron.cli.agent:agent",
    "config": "symbi_cron.cli.config_cmd:config",
    "run": "symbi_cron.cli.run_cmd:run_agent",
    "logs": "symbi_cron.cli.logs:logs",
    "completion": "symbi_cron.cli.completion:completion",
    "audit": "symbi_cron.cli.audit:audit",
    "api-key": "symbi_cron.cli.api_key:api_key",
    "store": "symbi_cron.cli.store_cmd:store",
    "doctor": "symbi_cron.cli.doctor:doctor",
    "man": "symbi_cron.cli.man_cmd:man",
    "ui": "symbi_cron.cli.ui:ui",
    "usage": "symbi_cron.cli.usage_cmd:usage",
}


def _reader_gone() -> None:
    """`symbi cron list | head -1`: the reader went away. Say nothing and exit 0, whatever the timing."""
    try:  # stdout's buffer would fail again at exit: point fd 1 at /dev/null (the Python docs' recipe)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(0)


class _RootGroup(LazyGroup):
    def invoke(self, ctx: click.Context):
        # click turns EPIPE into exit 1 inside its main(), before main() below could see it: catch it first.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _reader_gone()


@click.group(cls=_RootGroup, lazy_commands=ROOT_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="symbi", message="%(prog)s %(version)s")
def cli() -> None:
    """symbi: schedule AI agents with cron, reliably.

    Jobs live in a SQLite store (SYMBI_HOME overrides its place); `symbi cron daemon` runs them.
    Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found, 4 conflict or invalid state,
    5 daemon not running.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    from ..errors import SymbiError

    try:
        # Non-standalone mode returns ctx.exit()'s code instead of exiting: pass it on.
        rv = cli.main(args=argv, prog_name="symbi", standalone_mode=False)
    except SymbiError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # `symbi cron` alone: the help, as click shows it
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # A usage mistake is one `error: ...` line too (SPEC §11), naming where the help is.
        message = exc.format_message().rstrip(".")
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, click.UsageError) and ctx is not None:
            message += f" (see '{ctx.command_path} --help')"
        click.echo(f"error: {message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        _reader_gone()
    except Exception as exc:  # a bug: one line unless debugging
        if os.environ.get("SYMBI_DEBUG"):
            raise
        click.echo(f"error: internal error: {type(exc).__name__}: {exc} (set SYMBI_DEBUG=1 for details)", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
