"""Jobs and agents written as a ``.symbi`` file (``symbi cron export --format symbi``, ``symbi cron edit``).

The text parses back (``dsl.parse``) to the same specs, so export then ``cron apply`` changes nothing. Only what
differs from the models' defaults is written, except ``timezone`` and ``max_retries``: those were filled in from
the configuration when the job was created, and writing them keeps the job as it is whatever the configuration
says later. Strings use the DSL's escapes; a multi-line string (a system prompt) is written between triple quotes
when that reads back to the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..vocab import JobStatus
from .checker import SCHEDULE_RENAMES

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@\-]*\Z")
_FIELD_TO_KEY = {v: k for k, v in SCHEDULE_RENAMES.items()}
#: Written even when equal to the default: filled in from the configuration when the job was created.
_ALWAYS = ("timezone", "max_retries")
#: Durations, written as people write them ("30m", "1h30m"); the models read both forms.
_DURATIONS = ("max_runtime", "timeout")
#: What the scheduler keeps: never part of a file.
_STATE = ("id", "status", "next_run", "last_run", "run_count", "failure_count", "created_at", "updated_at")
_INDENT = "  "


def _defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    from ..models import AgentSpec, JobSpec

    job = JobSpec(name="x", agent_id="x", cron_expr="* * * * *").model_dump(mode="json")
    agent = AgentSpec(name="x", command="x").model_dump(mode="json")
    return job, agent


def quote(text: str) -> str:
    """A ``"..."`` string of the DSL holding exactly ``text``."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) == 127 or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _triple(text: str, indent: str) -> str | None:
    """``text`` between triple quotes, when that reads back to exactly ``text`` (else None)."""
    from .lexer import STRING, tokenize

    if '"""' in text or "\r" in text or text.endswith("\n") or text != text.strip("\n"):
        return None
    inner = indent + _INDENT
    body = "\n".join(inner + line if line else "" for line in text.split("\n"))
    candidate = f'"""\n{body}\n{inner}"""'
    toks = tokenize(candidate)
    if toks and toks[0].kind == STRING and toks[0].value == text:
        return candidate
    return None


#: Words the lexer reads as values, not names: a map key spelled so must be quoted.
_VALUE_WORDS = frozenset({"true", "false"})


def _key(name: str) -> str:
    return name if _IDENT.match(name) and name not in _VALUE_WORDS else quote(name)


def _scalar(value: Any, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "inf" in text or "nan" in text:
            text = f"{value:.12f}".rstrip("0")
        return text if "." in text else text + ".0"
    if isinstance(value, str):
        return (_triple(value, indent) if "\n" in value else None) or quote(value)
    raise ValueError(f"a {type(value).__name__} value ({value!r}) cannot be written in a .symbi file")


def _value(value: Any, indent: str) -> str:
    if value is None:
        raise ValueError("null has no .symbi spelling")
    if isinstance(value, list):
        items = [_value(v, indent + _INDENT) for v in value]
        one_line = "[" + ", ".join(items) + "]"
        if len(one_line) <= 80 and "\n" not in one_line:
            return one_line
        inner = indent + _INDENT
        return "[\n" + "".join(f"{inner}{item},\n" for item in items) + indent + "]"
    if isinstance(value, dict):
        pairs = list(value.items())
        if not pairs:
            return "{}"
        items = [f"{_key(k)}: {_value(v, indent + _INDENT)}" for k, v in pairs]
        one_line = "{ " + ", ".join(items) + " }"
        if len(one_line) <= 80 and "\n" not in one_line:
            return one_line
        inner = indent + _INDENT
        return "{\n" + "".join(f"{inner}{item}\n" for item in items) + indent + "}"
    return _scalar(value, indent)


def _entries(data: Mapping[str, Any], defaults: Mapping[str, Any], indent: str, keys: Iterable[str]) -> list[str]:
    """``key: value`` lines for what differs from ``defaults`` (nested blocks: only their keys that differ)."""
    out = []
    for field in keys:
        if field not in data:
            continue
        value = data[field]
        default = defaults.get(field)
        if value is None or (value == default and field not in _ALWAYS):
            continue
        key = _FIELD_TO_KEY.get(field, field)
        if isinstance(value, dict) and isinstance(default, dict) and default:  # heartbeat, policy: a block
            inner = _entries(value, default, indent + _INDENT, value.keys())
            if inner:
                out.append(f"{indent}{key} {{")
                out.extend(inner)
                out.append(f"{indent}}}")
            continue
        if field == "tools" and value:
            out.append(f"{indent}tools {{")
            for name, spec in value.items():
                out.append(f"{indent}{_INDENT}{_key(name)} {{")
                out.extend(_entries(spec, {"timeout": 60}, indent + _INDENT * 2, spec.keys()))
                out.append(f"{indent}{_INDENT}}}")
            out.append(f"{indent}}}")
            continue
        if field in _DURATIONS and isinstance(value, int) and not isinstance(value, bool):
            from ..models import format_duration

            out.append(f"{indent}{key}: {quote(format_duration(value) or str(value))}")
            continue
        out.append(f"{indent}{key}: {_value(value, indent)}")
    return out


def agent_block(agent: Mapping[str, Any]) -> str:
    """``agent NAME { ... }`` for a registered agent."""
    from ..models import AgentSpec

    _job_defaults, defaults = _defaults()
    keys = [k for k in AgentSpec.model_fields if k != "name"]
    body = _entries(agent, defaults, _INDENT, keys)
    return f"agent {_key(agent['name'])} {{\n" + "".join(line + "\n" for line in body) + "}\n"


def schedule_block(job: Mapping[str, Any]) -> str:
    """``schedule { ... }`` for a job (the scheduler's own fields left out)."""
    from ..vocab import JOB_FIELD_ORDER

    defaults, _agent_defaults = _defaults()
    first = ["name", "agent_id", "cron_expr", "at", "timezone"]
    keys = first + [k for k in JOB_FIELD_ORDER if k not in first and k not in _STATE]
    body = _entries(job, {**defaults, "name": None, "agent_id": None}, _INDENT, keys)
    return "schedule {\n" + "".join(line + "\n" for line in body) + "}\n"


def symbi_text(agents: Iterable[Mapping[str, Any]], jobs: Iterable[Mapping[str, Any]], *, header: str = "") -> str:
    """A ``.symbi`` file with ``agents`` then ``jobs`` (a job that is not active says so in a comment: the file
    does not change a job's status)."""
    parts = [header] if header else []
    for agent in agents:
        try:
            parts.append(agent_block(agent))
        except ValueError as exc:
            from ..errors import InvalidState

            raise InvalidState(f"agent {agent.get('name')!r} cannot be written as .symbi: {exc}") from None
    for job in jobs:
        try:
            block = schedule_block(job)
        except ValueError as exc:
            from ..errors import InvalidState

            raise InvalidState(f"job {job.get('name')!r} cannot be written as .symbi: {exc}") from None
        status = job.get("status")
        if status and status != JobStatus.active:
            block = f"# {job['name']} is {status} (apply keeps it so; see `symbi cron resume` / `reset`)\n" + block
        parts.append(block)
    return "\n".join(parts)
