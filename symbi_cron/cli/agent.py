"""Placeholder: this command is being built (see the open issues)."""

import click

from ..errors import SymbiError

@click.command("agent", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def agent(args):
    """(not built yet)"""
    raise SymbiError("symbi agent is not built yet")

