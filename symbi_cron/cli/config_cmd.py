"""``symbi config show``: the effective configuration, secrets masked."""

from __future__ import annotations

import click

from .common import emit_json, format_option


@click.group()
def config() -> None:
    """Inspect the configuration (config.toml plus SYMBI_* environment overrides)."""


@config.command("show")
@format_option(("toml", "json"), default="toml")
def show(fmt: str) -> None:
    """Print the effective configuration with secrets masked."""
    from ..config import load_settings, masked_dict, unset_env_warnings
    from ..paths import resolve

    # The settings alone, no store: `config show` is where a store.url that cannot be used is explained.
    paths = resolve()
    settings = load_settings(paths.config_file)
    data = masked_dict(settings)
    for warning in unset_env_warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        emit_json({"config_file": str(paths.config_file), "data_dir": str(paths.data_dir), **data})
        return
    click.echo(f"# config file: {paths.config_file}{'' if paths.config_file.exists() else ' (not present: defaults)'}")
    click.echo(f"# data dir:    {paths.data_dir}")
    click.echo(f"# effective time zone: {settings.timezone_name}")
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
