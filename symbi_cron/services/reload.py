"""What ``symbi cron daemon reload`` (SIGHUP) changes, setting by setting (docs/operations.md, "Reload").

The daemon re-reads config.toml; every setting is read where it is used (the tick loop, each run, each delivery,
each request and scrape), so the new value applies from then on. The exceptions, logged as "needs restart", are
what the daemon binds or opens once at start: the store (``store.url``) and the API's socket (``api.enabled``,
``api.bind``, ``api.port``). Each changed key is logged once with its old and new value; a secret's value is
never logged (a ``${VAR}`` reference is shown as written, a literal secret as ``********``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

#: Settings read once at start, with the reason.
NEEDS_RESTART: dict[str, str] = {
    "store.url": "the store is opened at start",
    "daemon.name": "the daemon's name is taken at start (its lease and the runs it starts carry it)",
    "api.enabled": "the API is started at start",
    "api.bind": "the API's socket is bound at start",
    "api.port": "the API's socket is bound at start",
}

#: Side effects of a reload beyond the new settings object, run with (old, new) settings (the daemon log's
#: rotation limits, for one). Registered by whoever owns the thing to update, in this process.
Applier = Callable[[Any, Any], None]


#: Tables compared as a whole (their entries are not settings of their own).
WHOLE_TABLES = frozenset({"custom_channels", "policies", "models.prices"})


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in WHOLE_TABLES:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def changes(old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) for each setting that differs, in the settings' order."""
    before = _flat(old.model_dump(mode="json"))
    after = _flat(new.model_dump(mode="json"))
    keys = list(after) + [k for k in before if k not in after]
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


def _shown(key: str, value: Any) -> str:
    from ..config import SECRET_KEYS
    from ..envref import has_env_ref

    if value is None:
        return "unset"
    if (key in SECRET_KEYS or key.startswith("api.keys.")) and not has_env_ref(value):
        return "********"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def reloaded(
    old: Any, new: Any, log: logging.Logger, appliers: list[Applier] = (), *, quiet: bool = False
) -> list[dict[str, Any]]:
    """Log, for each changed setting, "applied" or "needs restart" (and why); run the ``appliers``. Returns the
    changes as ``[{"key", "old", "new", "applied", "reason"?}]`` (values as logged). ``quiet``: an unchanged
    configuration is not logged (a reload caused by another process's change: the caller counts them)."""
    out = []
    for key, before, after in changes(old, new):
        item: dict[str, Any] = {"key": key, "old": _shown(key, before), "new": _shown(key, after)}
        why = NEEDS_RESTART.get(key)
        if why:
            item.update(applied=False, reason=why)
            log.warning(
                "reload: %s changed (%s -> %s): needs restart (%s: symbi cron daemon restart)",
                key,
                item["old"],
                item["new"],
                why,
            )
        else:
            item["applied"] = True
            log.info("reload: %s changed (%s -> %s): applied", key, item["old"], item["new"])
        out.append(item)
    for apply in appliers:
        try:
            apply(old, new)
        except Exception:  # one failing side effect must not keep the rest of the new settings from applying
            log.exception("reload: applying the new settings failed in %s", getattr(apply, "__name__", apply))
    restart = sum(1 for c in out if not c["applied"])
    if not out:
        if not quiet:
            log.info("reloaded the configuration: unchanged")
    else:
        log.info(
            "reloaded the configuration: %d setting%s changed%s",
            len(out),
            "" if len(out) == 1 else "s",
            f", {restart} of them only after a restart" if restart else ", all applied",
        )
    return out
