"""Placeholder: this command is being built (see the open issues)."""

import click

from ..errors import SymbiError

@click.command("test-delivery", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def test_delivery(args):
    """(not built yet)"""
    raise SymbiError("symbi test-delivery is not built yet")

