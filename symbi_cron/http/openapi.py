"""The OpenAPI 3.1 document, generated from the route table and the pydantic models the handlers use."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

_REF = "#/components/schemas/{model}"

_QUERY_DOCS: dict[str, tuple[dict[str, Any], str]] = {
    "status": ({"type": "string"}, "filter by status (job status on lists, run status on history)"),
    "agent_id": ({"type": "string"}, "filter by agent"),
    "limit": ({"type": "integer", "minimum": 1, "maximum": 10000}, "at most this many runs, newest first"),
    "count": ({"type": "integer", "minimum": 1, "maximum": 1000}, "how many upcoming slots"),
    "history": ({"type": "integer", "minimum": 0, "maximum": 10000}, "include this many recent runs"),
    "format": ({"type": "string", "enum": ["guide", "runtime"]}, "response shape"),
}
_ERRORS = {
    400: "invalid input (the field is named in details)",
    401: "missing or wrong API key",
    404: "no such job",
    405: "method not allowed (see the Allow header)",
    409: "a name clash or a change the job's state forbids",
    413: "body over api.max_body_bytes",
    415: "body is not application/json",
}


def _models() -> list[type[BaseModel]]:
    from . import schemas
    from .routes import ROUTES

    found: dict[str, type[BaseModel]] = {"ErrorBody": schemas.ErrorBody}
    for r in ROUTES:
        if r.body is not None:
            found[r.body.__name__] = r.body
        for _, model in r.responses:
            for m in model if isinstance(model, (list, tuple)) else [model]:
                if isinstance(m, type) and issubclass(m, BaseModel):
                    found[m.__name__] = m
    return list(found.values())


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": _REF.format(model=model.__name__)}


def _content(model: Any) -> dict[str, Any]:
    if model == "text":
        return {"text/plain": {"schema": {"type": "string"}}}
    if model == "object":
        return {"application/json": {"schema": {"type": "object"}}}
    if isinstance(model, list):
        return {"application/json": {"schema": {"type": "array", "items": _ref(model[0])}}}
    if isinstance(model, tuple):  # one of several shapes (chosen by a query parameter)
        return {"application/json": {"schema": {"oneOf": [_ref(m) for m in model]}}}
    return {"application/json": {"schema": _ref(model)}}


def openapi_document() -> dict[str, Any]:
    """The whole API as an OpenAPI 3.1 document."""
    from .. import __version__
    from .routes import ROUTES

    models = _models()
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    schemas = defs.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": r.handler,
            "tags": [r.tag],
            "parameters": [],
            "responses": {},
        }
        for name in re.findall(r"\{(\w+)\}", r.template):
            op["parameters"].append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "job id, unique id prefix, or name",
                }
            )
        for q in r.query:
            schema, desc = _QUERY_DOCS[q]
            op["parameters"].append(
                {"name": q, "in": "query", "required": False, "schema": schema, "description": desc}
            )
        if r.body is not None:
            op["requestBody"] = {"required": r.body_required, "content": _content(r.body)}
        for status, model in r.responses:
            op["responses"][str(status)] = {
                "description": "ok" if status < 300 else "error",
                "content": _content(model),
            }
        codes = [400]
        if r.auth:
            codes.append(401)
        if "{id}" in r.template:
            codes += [404, 409]
        if r.body is not None:
            codes += [409, 413, 415]
        for c in codes:
            op["responses"].setdefault(str(c), {"description": _ERRORS[c], "content": _content(_error_model())})
        if not r.auth:
            op["security"] = []
        paths.setdefault(r.template, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "symbi-cron API",
            "version": __version__,
            "description": "Schedules AI agents with cron. Two families: /api/v1/schedule (the Symbiont guide's)"
            " and /api/v1/schedules (the Symbiont runtime's, spoken by symbiont-sdk).",
        },
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the key from `symbi api-key` (or SYMBI_API_KEY)",
                }
            },
        },
    }


def _error_model() -> type[BaseModel]:
    from .schemas import ErrorBody

    return ErrorBody


def endpoint_table() -> str:
    """A Markdown table of every endpoint (docs/api.md is generated from it)."""
    doc = openapi_document()
    lines = ["| method | path | auth | what | answers |", "|---|---|---|---|---|"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            auth = "no" if op.get("security") == [] else "Bearer"
            codes = ", ".join(sorted(op["responses"]))
            lines.append(f"| {method.upper()} | `{path}` | {auth} | {op['summary']} | {codes} |")
    return "\n".join(lines)


BEGIN, END = (
    "<!-- endpoints:begin (generated by python -m symbi_cron.http.openapi) -->",
    "<!-- endpoints:end -->",
)


def refresh_docs(text: str) -> str:
    """``text`` (docs/api.md) with the block between the endpoint markers regenerated."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{endpoint_table()}\n{END}{tail}"


if __name__ == "__main__":  # python -m symbi_cron.http.openapi [docs/api.md]
    import sys
    from pathlib import Path

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/api.md")
    target.write_text(refresh_docs(target.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {target}")
