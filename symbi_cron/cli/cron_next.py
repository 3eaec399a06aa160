"""Placeholder: this command is being built (see the open issues)."""

import click

from ..errors import SymbiError

@click.command("next", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def next_cmd(args):
    """(not built yet)"""
    raise SymbiError("symbi next is not built yet")

