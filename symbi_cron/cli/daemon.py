"""Placeholder: this command is being built (see the open issues)."""

import click

from ..errors import SymbiError

@click.command("daemon", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def daemon(args):
    """(not built yet)"""
    raise SymbiError("symbi daemon is not built yet")

