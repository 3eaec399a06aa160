"""Placeholder: this command is being built (see the open issues)."""

import click

from ..errors import SymbiError

@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_job(args):
    """(not built yet)"""
    raise SymbiError("symbi run is not built yet")

