"""Placeholder: this command is being built (see the open issues)."""

import click

from ..errors import SymbiError

@click.command("validate", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def validate(args):
    """(not built yet)"""
    raise SymbiError("symbi validate is not built yet")


@click.command("import", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def import_cmd(args):
    """(not built yet)"""
    raise SymbiError("symbi import is not built yet")


@click.command("export", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def export_cmd(args):
    """(not built yet)"""
    raise SymbiError("symbi export is not built yet")

