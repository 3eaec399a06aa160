"""``symbi api-key``: print the HTTP API key, for scripts (``export SYMBI_API_KEY=$(symbi api-key)``)."""

from __future__ import annotations

import click


@click.command("api-key")
@click.option("--path", "show_path", is_flag=True, help="Print where the key file is instead of the key.")
def api_key(show_path: bool) -> None:
    """Print the key the HTTP API expects in `Authorization: Bearer KEY`.

    The key is SYMBI_API_KEY or config `api.key` when set; otherwise the one in the `api.key` file, which is
    generated (0600) on first use.
    """
    from ..apikey import api_key as get_key
    from .common import get_app

    app = get_app()
    if show_path:
        click.echo(str(app.paths.api_key_file))
        return
    click.echo(get_key(app))
