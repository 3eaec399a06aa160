"""The OpenAPI 3.1 document, generated from the route table and the pydantic models the handlers use."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

_REF = "#/components/schemas/{model}"


def _query_doc(route: Any, name: str) -> tuple[dict[str, Any], str]:
    """The schema and description of one query parameter of ``route``."""
    from ..vocab import JobStatus, RunStatus
    from .paging import MAX_PAGE

    if name == "status":
        if route.handler == "list_jobs":
            return {"type": "string", "enum": [s.value for s in JobStatus]}, "only jobs with this status"
        return {"type": "string", "enum": [s.value for s in RunStatus]}, "only runs with this status"
    if name == "limit":
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": route.page}
        return schema, f"the page size (default {route.page}, at most {MAX_PAGE})"
    if name == "cursor":
        schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}
        return schema, "continue after the previous page: its X-Next-Cursor, unchanged (empty: the first page)"
    return {
        "agent_id": ({"type": "string"}, "only jobs of this agent"),
        "agentId": ({"type": "string"}, "the same as agent_id (the guide's JavaScript name)"),
        "count": ({"type": "integer", "minimum": 1, "maximum": 1000}, "how many upcoming slots"),
        "history": ({"type": "integer", "minimum": 0, "maximum": MAX_PAGE}, "include this many recent runs"),
        "format": ({"type": "string", "enum": ["guide", "runtime"]}, "response shape"),
        "since": (
            {"type": "string", "format": "when"},
            "from this time: ISO 8601, YYYY-MM-DD, 7d, '2 weeks ago', yesterday (default 30 days ago)",
        ),
        "until": (
            {"type": "string", "format": "when"},
            "up to this time (same forms; a bare date includes that whole day)",
        ),
        "by": (
            {"type": "string", "pattern": "^(day|job|agent|model)(,(day|job|agent|model))*$"},
            "group by these keys, comma-separated (default day)",
        ),
        "job": ({"type": "string"}, "only this job (its name)"),
        "agent": ({"type": "string"}, "only this agent"),
        "model": ({"type": "string"}, "only this model"),
    }[name]


_PAGE_HEADERS = {
    "X-Next-Cursor": {
        "description": "the cursor of the next page; absent on the last page",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'the next page\'s URL as <...>; rel="next" (RFC 8288); absent on the last page',
        "schema": {"type": "string"},
    },
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
    from .route_table import ROUTES

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


def _camel_variant(schemas: dict[str, Any], name: str) -> str:
    """Add ``<name>Camel`` (the model with its field names in camelCase, nested models too) to ``schemas``."""
    from .casing import camel

    variant = name + "Camel"
    if variant in schemas:
        return variant
    schemas[variant] = {}  # reserved first: a model may refer to itself

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {camel(p): walk(sub) for p, sub in value.items()}
            elif key == "required" and isinstance(value, list):
                out[key] = [camel(p) for p in value]
            elif key == "$ref" and isinstance(value, str):
                target = value.rsplit("/", 1)[-1]
                if "properties" in schemas.get(target, {}):
                    target = _camel_variant(schemas, target)
                out[key] = _REF.format(model=target)
            else:
                out[key] = walk(value)
        return out

    schema = walk(schemas[name])
    schema["title"] = variant
    schema["description"] = (schema.get("description", "") + " (camelCase field names)").strip()
    schemas[variant] = schema
    return variant


def _either_case(schemas: dict[str, Any], model: Any) -> dict[str, Any]:
    """The model's schema or its camelCase variant (the guide's family takes and answers both)."""
    return {"anyOf": [_ref(model), {"$ref": _REF.format(model=_camel_variant(schemas, model.__name__))}]}


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


def server_url(bind: str, port: int) -> str:
    """The URL a client on this machine reaches the API at (a wildcard bind is reached on the loopback)."""
    from ..net import local_url

    return local_url(bind, port)


def _takes_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null" or "null" in (schema.get("type") or ()):
        return True
    return any(_takes_null(s) for s in schema.get("anyOf", ()) if isinstance(s, dict))


def _drop_null_defaults(node: Any) -> None:
    """``"default": null`` on a property that does not take null means "omit it to keep the value": say nothing
    rather than a default the schema itself refuses."""
    if isinstance(node, dict):
        if "default" in node and node["default"] is None and not _takes_null(node):
            del node["default"]
        for v in node.values():
            _drop_null_defaults(v)
    elif isinstance(node, list):
        for v in node:
            _drop_null_defaults(v)


def _policy_ids(schemas: dict[str, Any], policies: list[str] | None) -> None:
    """``policy_ids`` items: the names of the policies this daemon's config defines."""
    if policies is None:
        return
    for model in ("CreateScheduleRequest", "UpdateScheduleRequest"):
        prop = schemas.get(model, {}).get("properties", {}).get("policy_ids")
        if prop is None:
            continue
        if policies:
            prop["items"] = {"type": "string", "enum": sorted(policies)}
        else:
            prop["maxItems"] = 0
            prop["description"] = "none: this daemon's config defines no [policies]"


#: A subset of what services.jobs.email_address_ok takes (a document may be stricter than the server, never looser).
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = rf"^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@{_LABEL}(\.{_LABEL})*$"
_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_ENV_REF = rf"^[^{_CONTROL}]*\$\{{[A-Za-z_][A-Za-z0-9_]*\}}[^{_CONTROL}]*$"


def _has(channel: str) -> dict[str, Any]:
    return {"required": ["delivery"], "properties": {"delivery": {"type": "array", "contains": {"const": channel}}}}


def _delivery_rules(schemas: dict[str, Any], channels: list[str] | None) -> None:
    """What services.jobs.delivery_problems refuses, said in the request schemas: a webhook needs a webhook_url,
    email needs well-formed recipients, custom:NAME must name a channel this daemon knows (``channels``). A change
    (JobUpdate) that adds a channel must bring what it needs in the same change."""
    url = {"type": "string", "pattern": r"\S"}
    for model in ("JobSpec", "JobUpdate"):
        schema = schemas.get(model)
        if schema is None:
            continue
        props = schema["properties"]
        props["email_recipients"]["items"] = {
            "type": "string",
            "anyOf": [{"pattern": _EMAIL}, {"pattern": _ENV_REF}],
        }
        if channels is not None:
            items = props["delivery"]["items"]["anyOf"]
            custom = [f"custom:{name}" for name in sorted(channels)]
            items[1:] = [{"type": "string", "enum": custom}] if custom else []
        rules = [
            {"if": _has("webhook"), "then": {"required": ["webhook_url"], "properties": {"webhook_url": url}}},
            {
                "if": _has("email"),
                "then": {"required": ["email_recipients"], "properties": {"email_recipients": {"minItems": 1}}},
            },
        ]
        if model == "JobUpdate":  # clearing what a channel needs takes dropping the channel in the same change
            for field, channel, empty in (
                ("webhook_url", "webhook", {"anyOf": [{"type": "null"}, {"pattern": r"^\s*$"}]}),
                ("email_recipients", "email", {"maxItems": 0}),
            ):
                rules.append(
                    {
                        "if": {"required": [field], "properties": {field: empty}},
                        "then": {"required": ["delivery"], "not": _has(channel)},
                    }
                )
        schema.setdefault("allOf", []).extend(rules)


def openapi_document(
    bind: str = "127.0.0.1",
    port: int = 8080,
    *,
    policies: list[str] | None = None,
    channels: list[str] | None = None,
) -> dict[str, Any]:
    """The whole API as an OpenAPI 3.1 document; ``servers`` names where the daemon listens (``bind``, ``port``)
    and ``policies`` and ``channels`` the policy ids and custom channel names its config and plug-ins define."""
    from .. import __version__
    from .route_table import ROUTES

    models = _models()
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    schemas = defs.get("$defs", {})
    _drop_null_defaults(schemas)
    _policy_ids(schemas, policies)
    _delivery_rules(schemas, channels)
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
            schema, desc = _query_doc(r, q)
            op["parameters"].append(
                {"name": q, "in": "query", "required": False, "schema": schema, "description": desc}
            )
        if r.body is not None:
            op["requestBody"] = {"required": r.body_required, "content": _content(r.body)}
            if r.camel:
                op["requestBody"]["content"]["application/json"]["schema"] = _either_case(schemas, r.body)
        for status, model in r.responses:
            op["responses"][str(status)] = {
                "description": "ok" if status < 300 else "error",
                "content": _content(model),
            }
            if r.camel and status < 300:
                op["responses"][str(status)]["content"]["application/json"]["schema"] = _either_case(schemas, model)
                op["responses"][str(status)]["description"] = "ok (in camelCase when the request used camelCase)"
            if r.page is not None and status < 300:
                op["responses"][str(status)]["headers"] = _PAGE_HEADERS
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
        "servers": [{"url": server_url(bind, port), "description": f"this daemon (api.bind {bind}, api.port {port})"}],
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


def document_json() -> str:
    """The document as clients/typescript/openapi.json holds it (the TypeScript client's types come from it)."""
    import json

    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m symbi_cron.http.openapi [docs/api.md] | --json FILE
    import sys
    from pathlib import Path

    if sys.argv[1:2] == ["--json"]:
        out = Path(sys.argv[2] if len(sys.argv) > 2 else "clients/typescript/openapi.json")
        out.write_text(document_json(), encoding="utf-8")
        print(f"wrote {out}")
        raise SystemExit(0)
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/api.md")
    target.write_text(refresh_docs(target.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {target}")
