"""camelCase aliases for the guide's family (``/api/v1/schedule``): the guide's JavaScript example sends
``agentId``, ``cronExpr``, ``sessionMode``, ``webhookUrl``. Each field of a body may be written in either case; a
caller that writes any field in camelCase gets its answer in camelCase, everyone else gets SPEC §4's snake_case.

The renaming follows the models: only field names are renamed, recursively through nested models (``policy``,
``heartbeat``, ``recent_runs``...), never the keys of free-form maps (``webhook_headers``, ``custom``), which are
the user's own.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from ..errors import InvalidInput


def camel(name: str) -> str:
    """``agent_id`` -> ``agentId``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (alone, optional or in a list); None for scalars and free-form maps."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _nested_model(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
        return None
    if origin in (list, tuple, typing.List):  # noqa: UP006
        args = get_args(annotation)
        return _nested_model(args[0]) if args else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _each(value: Any, fn: Any) -> Any:
    if isinstance(value, dict):
        return fn(value)
    if isinstance(value, list):
        return [fn(v) if isinstance(v, dict) else v for v in value]
    return value


def to_snake(model: type[BaseModel], data: Any, *, path: str = "") -> tuple[Any, bool]:
    """``data`` with camelCase field names of ``model`` renamed to snake_case; and whether any was camelCase.
    InvalidInput when a field is given under both names."""
    if not isinstance(data, dict):
        return data, False
    aliases = {camel(n): n for n in model.model_fields if camel(n) != n}
    out: dict[str, Any] = {}
    used = False
    for key, value in data.items():
        name = aliases.get(key, key)
        if name != key:
            used = True
        if name in out:
            raise InvalidInput(f"{camel(name)} and {name} are the same field: give it once", field=path + name)
        field = model.model_fields.get(name)
        nested = _nested_model(field.annotation) if field is not None else None
        if nested is not None:
            prefix = f"{path}{name}."
            if isinstance(value, dict):
                value, camel_used = to_snake(nested, value, path=prefix)
                used = used or camel_used
            elif isinstance(value, list):
                items = [to_snake(nested, v, path=prefix) for v in value]
                value = [v for v, _ in items]
                used = used or any(flag for _, flag in items)
        out[name] = value
    return out, used


def to_camel(model: type[BaseModel] | None, data: Any) -> Any:
    """An answer with its field names in camelCase (``model`` says which values are nested models; keys it does
    not know are renamed too, but their values are left alone)."""
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = model.model_fields.get(key) if model is not None else None
        nested = _nested_model(field.annotation) if field is not None else None
        if nested is not None:
            value = _each(value, lambda item, _nested=nested: to_camel(_nested, item))
        out[camel(key)] = value
    return out


def camel_field(field: str | None) -> str | None:
    """A dotted field path (``policy.max_runtime``) in camelCase (``policy.maxRuntime``)."""
    if field is None:
        return None
    return ".".join(camel(part) for part in field.split("."))
