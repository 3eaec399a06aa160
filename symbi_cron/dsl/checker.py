"""The ``.symbi`` checker: blocks -> AgentSpec / JobSpec, with every problem placed on its key or value.

The accepted keys are derived from the models (:func:`accepted_keys`), never from a hand list. :func:`parse` is
the whole pipeline (lexer, parser, this checker) plus the checks across blocks: names used twice, schedules
naming unknown agents, and the scheduler's own checks (``check_schedule``).
"""

from __future__ import annotations

import difflib
import enum
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ..errors import InvalidInput
from ..models import AgentSpec, JobSpec
from .parser import Block, Entry, Node, _parse_blocks
from .problems import MAX_PROBLEMS, Problem, _Stop, raise_problems

#: Schedule keys whose DSL spelling differs from the JobSpec field (the guide's names).
SCHEDULE_RENAMES = {"agent": "agent_id", "cron": "cron_expr"}
_FIELD_TO_SCHEDULE_KEY = {v: k for k, v in SCHEDULE_RENAMES.items()}


@dataclass
class _Shape:
    """What a model field accepts, derived from its annotation."""

    kinds: frozenset[str]  # node kinds accepted; empty = anything
    model: type[BaseModel] | None = None  # a nested block
    item: _Shape | None = None  # list items / map values
    choices: tuple[str, ...] = ()  # enum values


_ANY = _Shape(frozenset())
_KIND_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "float": "a number",
    "boolean": "true or false",
    "list": "a list [...]",
    "map": "a map { ... }",
}


def _shape(annotation: Any) -> _Shape:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _shape(inner[0])
        return _ANY
    if origin in (list, tuple, set, frozenset):
        return _Shape(frozenset({"list"}), item=_shape(args[0]) if args else _ANY)
    if origin is dict:
        return _Shape(frozenset({"map"}), item=_shape(args[1]) if len(args) == 2 else _ANY)
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _Shape(frozenset({"map"}), model=annotation)
        if issubclass(annotation, enum.Enum):
            return _Shape(frozenset({"string"}), choices=tuple(str(e.value) for e in annotation))
        if annotation is bool:
            return _Shape(frozenset({"boolean"}))
        if annotation is int:
            return _Shape(frozenset({"integer"}))
        if annotation is float:
            return _Shape(frozenset({"integer", "float"}))
        if annotation is str or annotation is datetime:
            return _Shape(frozenset({"string"}))
    return _ANY


def _before_validated(model: type[BaseModel]) -> set[str]:
    """Fields with a mode="before" validator: they also accept text (e.g. max_runtime: "30m")."""
    names: set[str] = set()
    decorators = model.__pydantic_decorators__.field_validators
    for dec in decorators.values():
        if getattr(dec.info, "mode", "") == "before":
            names.update(dec.info.fields)
    return names


def _field_shapes(model: type[BaseModel]) -> dict[str, _Shape]:
    before = _before_validated(model)
    shapes = {}
    for name, info in model.model_fields.items():
        shape = _shape(info.annotation)
        if name in before and shape.kinds and "string" not in shape.kinds:
            shape = _Shape(shape.kinds | {"string"}, shape.model, shape.item, shape.choices)
        shapes[name] = shape
    return shapes


def _block_keys(kind: str) -> dict[str, str]:
    """DSL key -> model field for a top-level block kind."""
    if kind == "schedule":
        return {_FIELD_TO_SCHEDULE_KEY.get(f, f): f for f in JobSpec.model_fields}
    return {f: f for f in AgentSpec.model_fields if f != "name"}


def accepted_keys() -> dict[str, list[str]]:
    """Every key the parser accepts, by where it may be written (``schedule``, ``schedule.policy``, ...).

    Derived from the models, so documentation tests can hold the reference to it.
    """
    out: dict[str, list[str]] = {}

    def walk(prefix: str, keys: dict[str, str], model: type[BaseModel]) -> None:
        out[prefix] = list(keys)
        shapes = _field_shapes(model)
        for key, fname in keys.items():
            shape = shapes[fname]
            if shape.model is not None:
                walk(f"{prefix}.{key}", {f: f for f in shape.model.model_fields}, shape.model)
            elif shape.item is not None and shape.item.model is not None:
                # A map of blocks (agent tools): NAME stands for the user's own key.
                item = shape.item.model
                walk(f"{prefix}.{key}.NAME", {f: f for f in item.model_fields}, item)

    walk("schedule", _block_keys("schedule"), JobSpec)
    walk("agent", _block_keys("agent"), AgentSpec)
    return out


def _suggest(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


class _Checker:
    """Checks one block's entries against a model; records problems; returns the data and value positions."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        #: Keys suggested for misspelt ones: not reported again as missing.
        self.suggested: set[str] = set()

    def problem(self, line: int, col: int, message: str, **kw: Any) -> None:
        self.problems.append(Problem(self.file, line, col, message, **kw))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _Stop

    def entries(
        self,
        entries: list[Entry],
        keys: dict[str, str],
        model: type[BaseModel],
        where: str,
        path: tuple[str, ...],
        positions: dict[tuple[str, ...], tuple[int, int]],
        bad: set[tuple[str, ...]],
    ) -> dict[str, Any]:
        """``entries`` as a dict of model fields; problems for unknown, duplicate and mistyped keys."""
        shapes = _field_shapes(model)
        data: dict[str, Any] = {}
        seen: dict[str, Entry] = {}
        for e in entries:
            fname = keys.get(e.key)
            if fname is None:
                close = difflib.get_close_matches(e.key, list(keys), n=1, cutoff=0.6)
                self.suggested.update(keys[c] for c in close)
                self.problem(
                    e.line,
                    e.col,
                    f"unknown key `{e.key}` in {where}",
                    expected="a known key",
                    found=e.key,
                    hint=f"did you mean `{close[0]}`?" if close else None,
                )
                continue
            if e.key in seen:
                self.problem(
                    e.line,
                    e.col,
                    f"duplicate key `{e.key}` in {where} (first given at line {seen[e.key].line})",
                    found=e.key,
                )
                continue
            seen[e.key] = e
            fpath = path + (fname,)
            positions[fpath] = (e.node.line, e.node.col)
            positions.setdefault(("key",) + fpath, (e.line, e.col))
            value = self.value(e.node, shapes[fname], e.key, f"{where} > {e.key}", fpath, positions, bad)
            if value is _BAD:
                bad.add(fpath)
            else:
                data[fname] = value
        return data

    def value(
        self,
        node: Node,
        shape: _Shape,
        key: str,
        where: str,
        path: tuple[str, ...],
        positions: dict[tuple[str, ...], tuple[int, int]],
        bad: set[tuple[str, ...]],
    ) -> Any:
        if shape.kinds and node.kind not in shape.kinds:
            expected = " or ".join(_KIND_WORDS[k] for k in sorted(shape.kinds))
            found = node.describe()
            hint = None
            digits = str(node.value).strip().lstrip("-")
            if node.kind == "string" and "integer" in shape.kinds and digits.isdigit():
                hint = f"write {node.value.strip()} without quotes"
            elif node.kind == "string" and "boolean" in shape.kinds and node.value in ("true", "false"):
                hint = f"write {node.value} without quotes"
            self.problem(
                node.line,
                node.col,
                f"wrong type for `{key}`: expected {expected}, found {found}",
                expected=expected,
                found=found,
                hint=hint,
            )
            return _BAD
        if shape.choices and node.value not in shape.choices:
            self.problem(
                node.line,
                node.col,
                f"`{key}` must be one of {', '.join(shape.choices)}; found {node.describe()}",
                expected=" | ".join(shape.choices),
                found=node.describe(),
                hint=_suggest(str(node.value), shape.choices),
            )
            return _BAD
        if shape.model is not None and node.kind == "map":
            fields = {f: f for f in shape.model.model_fields}
            return self.entries(node.value, fields, shape.model, where, path, positions, bad)
        if node.kind == "list" and shape.item is not None:
            out = []
            for idx, item in enumerate(node.value):
                v = self.value(item, shape.item, f"{key}[{idx}]", where, path + (str(idx),), positions, bad)
                if v is _BAD:
                    return _BAD
                positions[path + (str(idx),)] = (item.line, item.col)
                out.append(v)
            return out
        if node.kind == "map" and shape.item is not None:
            out_map: dict[str, Any] = {}
            seen: dict[str, Entry] = {}
            for e in node.value:
                if e.key in seen:
                    self.problem(
                        e.line,
                        e.col,
                        f'duplicate key "{e.key}" in `{key}` (first given at line {seen[e.key].line})',
                        found=e.key,
                    )
                    return _BAD
                seen[e.key] = e
                v = self.value(e.node, shape.item, f"{key}.{e.key}", where, path + (e.key,), positions, bad)
                if v is _BAD:
                    return _BAD
                positions[path + (e.key,)] = (e.node.line, e.node.col)
                out_map[e.key] = v
            return out_map
        return node.to_python()


_BAD = object()


@dataclass
class AgentDecl:
    """An ``agent NAME { }`` block: the validated spec and where it was written."""

    spec: AgentSpec
    file: str
    line: int
    column: int


@dataclass
class ScheduleDecl:
    """A ``schedule { }`` block: the validated spec and where it was written."""

    spec: JobSpec
    file: str
    line: int
    column: int
    #: model field -> (line, column) of its value, for errors found later (e.g. by the store).
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Document:
    """A checked ``.symbi`` file: its agents and schedules in file order."""

    file: str
    agents: list[AgentDecl] = field(default_factory=list)
    schedules: list[ScheduleDecl] = field(default_factory=list)

    def agent(self, name: str) -> AgentDecl | None:
        return next((a for a in self.agents if a.spec.name == name), None)

    def schedule(self, name: str) -> ScheduleDecl | None:
        return next((s for s in self.schedules if s.spec.name == name), None)

    def schedule_names(self) -> list[str]:
        return [s.spec.name for s in self.schedules]

    def summary(self) -> str:
        a, s = len(self.agents), len(self.schedules)
        return f"{a} agent{'' if a == 1 else 's'}, {s} schedule{'' if s == 1 else 's'}"


def schedule_problem(
    problems: list[Problem], decl: ScheduleDecl, field_name: str | None, message: str, near: str | None = None
) -> None:
    """A problem with a schedule's field found after parsing (by the scheduler): at that field's value, as
    ``bad value for `key`: ...``; at ``near``'s value (or the block) when the field is not written."""
    top = (field_name or "").split(".")[0]
    if top and top in decl.positions:
        line, col = decl.positions[top]
        problems.append(Problem(decl.file, line, col, f"bad value for `{schedule_key(top)}`: {message}"))
        return
    line, col = decl.positions.get(near or "", (decl.line, decl.column))
    problems.append(Problem(decl.file, line, col, message))


def schedule_key(field_name: str) -> str:
    """The DSL key for a JobSpec field (``cron_expr`` -> ``cron``)."""
    return _FIELD_TO_SCHEDULE_KEY.get(field_name, field_name)


def _dsl_path(kind: str, path: tuple[str, ...]) -> str:
    """A model field path spelled as the DSL key (``cron_expr`` -> ``cron``)."""
    if kind == "schedule" and path:
        path = (_FIELD_TO_SCHEDULE_KEY.get(path[0], path[0]),) + tuple(path[1:])
    return ".".join(path)


def _pydantic_problems(
    checker: _Checker,
    exc: Any,
    block: Block,
    kind: str,
    positions: dict[tuple[str, ...], tuple[int, int]],
    bad: set[tuple[str, ...]],
) -> None:
    for err in exc.errors():
        loc = tuple(str(p) for p in err.get("loc", ()))
        if any(loc[: len(b)] == b for b in bad):
            continue  # already reported (its value was dropped before validation)
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        typ = err.get("type")
        # The nearest written position: the value, else its key, else the block header.
        pos = None
        for n in range(len(loc), 0, -1):
            pos = positions.get(loc[:n]) or positions.get(("key",) + loc[:n])
            if pos:
                break
        if kind == "agent" and loc == ("name",):
            pos = (block.name_line, block.name_col)
            checker.problem(pos[0], pos[1], f"bad agent name {block.name!r}: {msg}")
            continue
        line, col = pos or (block.line, block.col)
        key = _dsl_path(kind, loc)
        # A syntax error or a misspelt key in the block is the problem to fix, not what then seems missing.
        if typ == "missing" and (block.broken or loc[-1:] and loc[-1] in checker.suggested):
            continue
        if not key and (block.broken or checker.suggested):
            continue
        if typ == "missing":
            checker.problem(line, col, f"missing required key `{key}` in {kind} block", expected=key)
        elif key:
            checker.problem(line, col, f"bad value for `{key}`: {msg}")
        else:
            if kind == "schedule":
                msg = msg.replace("cron_expr", "cron")
            checker.problem(line, col, f"{kind} block: {msg}")


def _check_schedule(
    checker: _Checker, block: Block
) -> tuple[ScheduleDecl | None, dict[str, Any], dict[str, tuple[int, int]]]:
    """The block as a ScheduleDecl (None when it has problems), plus what was readable of it (for the
    cross-block checks, which run even on a broken block)."""
    from pydantic import ValidationError

    keys = _block_keys("schedule")
    checker.suggested = set()
    positions: dict[tuple[str, ...], tuple[int, int]] = {}
    bad: set[tuple[str, ...]] = set()
    before = len(checker.problems)
    data = checker.entries(block.entries, keys, JobSpec, "schedule block", (), positions, bad)
    seen = {k: data[k] for k in ("name", "agent_id") if isinstance(data.get(k), str)}
    label = f"schedule {data['name']!r}" if isinstance(data.get("name"), str) else "schedule block"
    for req in ("name", "agent_id"):
        if req not in data and (req,) not in bad and req not in checker.suggested and not block.broken:
            k = _FIELD_TO_SCHEDULE_KEY.get(req, req)
            checker.problem(block.line, block.col, f"missing required key `{k}` in {label}", expected=k)
    has_cron, has_at = "cron_expr" in data or ("cron_expr",) in bad, "at" in data or ("at",) in bad
    if not has_cron and not has_at and not block.broken and not {"cron_expr", "at"} & checker.suggested:
        checker.problem(block.line, block.col, f"{label} needs `cron` or `at`", expected="cron or at")
    elif has_cron and has_at:
        line, col = positions.get(("key", "at"), (block.line, block.col))
        checker.problem(line, col, f"{label} has both `cron` and `at`; give one of them", expected="cron or at")
        bad.add(("at",))
        data.pop("at", None)
    if "cron_expr" in data:
        _check_cron(checker, data["cron_expr"], positions[("cron_expr",)], bad)
    if data.get("timezone") is not None:
        from ..timeutil import load_zone

        try:
            load_zone(data["timezone"])
        except InvalidInput as exc:
            line, col = positions[("timezone",)]
            checker.problem(
                line,
                col,
                f"bad value for `timezone`: {exc.message}",
                found=data["timezone"],
                hint=_zone_hint(data["timezone"]),
            )
            bad.add(("timezone",))
    # Drop what was already reported and stand in for what is missing (reported above), so pydantic checks
    # the rest and every problem shows in one pass.
    for b in bad:
        if len(b) == 1:
            data.pop(b[0], None)
    data.setdefault("name", "x")
    data.setdefault("agent_id", "x")
    if "cron_expr" not in data and "at" not in data:
        data["cron_expr"] = "* * * * *"
    flat = {p[0]: v for p, v in positions.items() if len(p) == 1}
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        _pydantic_problems(checker, exc, block, "schedule", positions, bad)
        return None, seen, flat
    if len(checker.problems) > before:
        return None, seen, flat
    return ScheduleDecl(spec, checker.file, block.line, block.col, flat), seen, flat


def _check_cron(checker: _Checker, expr: str, pos: tuple[int, int], bad: set[tuple[str, ...]]) -> None:
    from .. import timing

    try:
        timing.parse(expr)
    except InvalidInput as exc:
        checker.problem(pos[0], pos[1], f"bad cron expression {expr!r}: {exc.message}", found=expr)
        bad.add(("cron_expr",))
    except Exception as exc:  # the cron engine must not turn a user's typo into a traceback  # noqa: BLE001
        checker.problem(pos[0], pos[1], f"bad cron expression {expr!r}: {exc}", found=expr)
        bad.add(("cron_expr",))


def _zone_hint(name: str) -> str | None:
    try:
        import zoneinfo

        return _suggest(name, zoneinfo.available_timezones())
    except Exception:  # noqa: BLE001
        return None


def _check_agent(checker: _Checker, block: Block) -> AgentDecl | None:
    from pydantic import ValidationError

    keys = _block_keys("agent")
    checker.suggested = set()
    positions: dict[tuple[str, ...], tuple[int, int]] = {}
    bad: set[tuple[str, ...]] = set()
    before = len(checker.problems)
    data = checker.entries(block.entries, keys, AgentSpec, f"agent {block.name}", (), positions, bad)
    data["name"] = block.name
    if bad:
        for b in bad:
            if len(b) == 1:
                data.pop(b[0], None)
    if bad and "command" not in data and "model" not in data:
        data["command"] = "x"  # its problem is reported already; check the rest
    try:
        spec = AgentSpec.model_validate(data)
    except ValidationError as exc:
        _pydantic_problems(checker, exc, block, "agent", positions, bad)
        return None
    if len(checker.problems) > before:
        return None
    return AgentDecl(spec, checker.file, block.line, block.col)


def parse(
    text: str,
    *,
    file: str = "<string>",
    known_agents: Iterable[str] | None = None,
    check_schedule: typing.Callable[[JobSpec], list[tuple[str | None, str, str | None]]] | None = None,
) -> Document:
    """Parse and check a ``.symbi`` text; every problem found in one pass is raised together as a DslError.

    ``known_agents``, when given, are the agents registered in the store: a schedule naming an agent that is
    neither defined in the file nor among them is a problem. Without it the agent names are not checked (the
    agents may be registered later). ``check_schedule``, when given, is asked about each valid schedule for the
    problems only the scheduler can see (``(field, message, near)``: an ``at`` in the past, a channel it cannot
    use); each is reported at that field's value, or at ``near``'s when the field is not written.
    """
    problems: list[Problem] = []
    blocks = _parse_blocks(text, file, problems)
    doc = Document(file)
    checker = _Checker(file, problems)
    try:
        seen_agents: dict[str, Block] = {}
        seen_schedules: dict[str, int] = {}
        schedule_agents: list[tuple[dict[str, Any], dict[str, tuple[int, int]], Block]] = []
        for block in blocks:
            if block.kind == "agent":
                assert block.name is not None
                if block.name in seen_agents:
                    checker.problem(
                        block.name_line,
                        block.name_col,
                        f"agent {block.name} is defined twice (first at line {seen_agents[block.name].line})",
                    )
                    continue
                seen_agents[block.name] = block
                a = _check_agent(checker, block)
                if a is not None:
                    doc.agents.append(a)
            else:
                s, seen, pos = _check_schedule(checker, block)
                schedule_agents.append((seen, pos, block))
                name = seen.get("name")
                if name is not None and name in seen_schedules:
                    line, col = pos.get("name", (block.line, block.col))
                    checker.problem(
                        line, col, f"schedule name {name!r} is used twice (first at line {seen_schedules[name]})"
                    )
                    continue
                if name is not None:
                    seen_schedules[name] = block.line
                if s is not None:
                    later = check_schedule(s.spec) if check_schedule is not None else []
                    for field_name, message, near in later:
                        schedule_problem(checker.problems, s, field_name, message, near)
                        if len(checker.problems) >= MAX_PROBLEMS:
                            raise _Stop
                    if not later:
                        doc.schedules.append(s)
        if known_agents is not None:
            names = set(seen_agents) | set(known_agents)
            for seen, pos, block in schedule_agents:
                agent_id = seen.get("agent_id")
                if agent_id is not None and agent_id not in names:
                    line, col = pos.get("agent_id", (block.line, block.col))
                    label = f"schedule {seen['name']!r}" if "name" in seen else "this schedule"
                    checker.problem(
                        line,
                        col,
                        f"{label} names agent {agent_id!r}, which is neither defined in this file nor registered",
                        found=agent_id,
                        hint=_suggest(agent_id, names) or "define it with `agent NAME { }` or `symbi agent add`",
                    )
    except _Stop:
        pass
    if problems:
        raise_problems(problems, text)
    return doc
