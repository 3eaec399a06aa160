"""Placeholder: this command is being built (see the open issues)."""

import click

from ..errors import SymbiError

@click.command("approve", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def approve(args):
    """(not built yet)"""
    raise SymbiError("symbi approve is not built yet")


@click.command("deny", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def deny(args):
    """(not built yet)"""
    raise SymbiError("symbi deny is not built yet")


@click.command("pending", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def pending(args):
    """(not built yet)"""
    raise SymbiError("symbi pending is not built yet")

