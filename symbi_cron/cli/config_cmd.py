"""``symbi config show``: the effective configuration, secrets masked."""

from __future__ import annotations

import click

from .common import emit_json, format_option, get_app


@click.group()
def config() -> None:
    """Inspect the configuration (config.toml plus SYMBI_* environment overrides)."""


@config.command("show")
@format_option(("toml", "json"), default="toml")
def show(fmt: str) -> None:
    """Print the effective configuration with secrets masked."""
    from ..config import masked_dict

    app = get_app()
    data = masked_dict(app.settings)
    if fmt == "json":
        emit_json({"config_file": str(app.paths.config_file), "data_dir": str(app.paths.data_dir), **data})
        return
    click.echo(
        f"# config file: {app.paths.config_file}{'' if app.paths.config_file.exists() else ' (not present: defaults)'}"
    )
    click.echo(f"# data dir:    {app.paths.data_dir}")
    click.echo(f"# effective time zone: {app.settings.timezone_name}")
    click.echo(_to_toml(data))


def _to_toml(data: dict, prefix: str = "") -> str:
    import json

    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is None:
            scalars.append(f"# {key} = (unset)")
        else:
            scalars.append(f"{_key(key)} = {json.dumps(value, ensure_ascii=False)}")
    out = "\n".join(scalars)
    for key, value in tables:
        name = f"{prefix}{_key(key)}"
        body = _to_toml(value, name + ".")
        out += f"\n\n[{name}]\n{body}" if body.strip() else f"\n\n[{name}]"
    return out.strip("\n")


def _key(key: str) -> str:
    import re

    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else '"' + key.replace('"', '\\"') + '"'
