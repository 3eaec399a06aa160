"""The API key: configured (``SYMBI_API_KEY`` / ``api.key``, ``${VAR}`` allowed) or generated into the ``api.key``
file (0600); the identities bound to keys; and why clients could not authenticate. Read by the HTTP server, the
CLI (``symbi api-key``) and the Python client alike: none of them needs the HTTP transport to find the key.
"""

from __future__ import annotations

import hmac
from typing import Any

from .errors import SymbiError


def api_key(app: Any, *, create: bool = True) -> str:
    """The API key: ``SYMBI_API_KEY`` / config ``api.key`` (``${VAR}`` allowed), else the ``api.key`` file,
    generated (0600) when missing and ``create``. Raises SymbiError when a configured reference is unset."""
    settings = app.settings
    configured = settings.api.key
    if configured:
        from .envref import has_env_ref

        value = settings.secret(configured, app.env).strip()
        if not value:
            what = configured if has_env_ref(configured) else "api.key"
            raise SymbiError(f"the API key is configured as {what} but that is empty or unset")
        return value
    path = app.paths.api_key_file
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise SymbiError(f"cannot read the API key file {path}: {exc.strerror}") from None
    if text:
        return text
    if not create:
        raise SymbiError(f"no API key yet: none configured and {path} does not exist")
    import secrets

    from .paths import write_private

    key = secrets.token_urlsafe(32)
    write_private(path, key + "\n")
    return key


def api_identities(app: Any, main_key: str) -> dict[str, str]:
    """Every key the API accepts, mapped to the identity it acts as: the main key (``api.identity``) and each of
    ``[api.keys]``. Raises SymbiError when a configured reference is unset or two identities share a key."""
    settings = app.settings
    out = {main_key: settings.api.identity}
    for identity, configured in settings.api.keys.items():
        value = (settings.secret(configured, app.env) or "").strip()
        if not value:
            raise SymbiError(f"api.keys.{identity} is {configured!r}, which is empty or unset")
        if value in out:
            raise SymbiError(f"api.keys.{identity} is the same key as {out[value]!r}'s: give each identity its own")
        out[value] = identity
    return out


def key_problem(app: Any, served: str) -> str | None:
    """Why clients cannot authenticate against a server using the key ``served`` (the key file was removed or
    replaced, the configured ``${VAR}`` is unset or changed), or None when they can."""
    try:
        found = api_key(app, create=False)
    except SymbiError as exc:
        return f"the API is served without its key: {exc}; clients cannot authenticate"
    if not hmac.compare_digest(found.encode("utf-8", "replace"), served.encode("utf-8", "replace")):
        where = "configured key" if app.settings.api.key else f"key file {app.paths.api_key_file}"
        return (
            f"the API is served with another key than the {where}: clients using it are refused"
            " (`symbi cron daemon reload` serves the new key)"
        )
    return None
