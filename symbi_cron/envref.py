"""``${VAR}`` references: expanding them at the point of use, and spotting secrets written literally instead.

No pydantic here: the crontab importer and read paths use it without paying for the models.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, env: Mapping[str, str] | None = None, *, strict: bool = False) -> str:
    """Replace ``${VAR}`` references with their values (missing -> empty, or an error when ``strict``)."""
    env = os.environ if env is None else env

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            if strict:
                raise ConfigError(f"environment variable {name} is not set", field=f"${{{name}}}")
            return ""
        return env[name]

    return _REF_RE.sub(sub, value)


def env_refs(value: str) -> list[str]:
    """The variable names ``value`` refers to with ``${VAR}``, in order."""
    return _REF_RE.findall(value)


def unset_refs(value: Any, env: Mapping[str, str] | None = None) -> list[str]:
    """The variables ``value`` refers to with ``${VAR}`` that ``env`` (default: this process's) does not set."""
    if not isinstance(value, str):
        return []
    env = os.environ if env is None else env
    return [name for name in env_refs(value) if name not in env]


def unset_ref_warnings(values: Mapping[str, Any], where: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Warnings for ``${VAR}`` references to variables not set here (the value would be sent without them)."""
    out = []
    for name, value in values.items():
        for var in unset_refs(value, env):
            out.append(
                f"{where} {name} refers to ${{{var}}}, which is not set here: the daemon needs it in its environment"
                " (without it the delivery fails, naming it)"
            )
    return out


def has_env_ref(value: Any) -> bool:
    return isinstance(value, str) and bool(_REF_RE.search(value))


#: Names whose values are secrets when written literally (env variables, HTTP headers).
_SECRET_NAME_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIAL|AUTH|COOKIE|JWT)", re.IGNORECASE)


def looks_like_secret(name: str) -> bool:
    """Whether a variable or header called ``name`` usually holds a secret."""
    return bool(_SECRET_NAME_RE.search(name))


def literal_secret_warnings(values: Mapping[str, Any], where: str) -> list[str]:
    """Warnings for secret-looking entries written literally instead of as ``${VAR}`` (they would be stored)."""
    out = []
    for name, value in values.items():
        if isinstance(value, str) and value and looks_like_secret(name) and not has_env_ref(value):
            out.append(
                f"{where} {name} looks like a secret and is stored as written; export it and write"
                f' {name}: "${{{_env_name(name)}}}" to keep it out of the store'
            )
    return out


def _env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()
