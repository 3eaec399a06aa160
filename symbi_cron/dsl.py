"""The ``.symbi`` DSL: ``agent NAME { ... }`` and ``schedule { ... }`` blocks -> AgentSpec / JobSpec.

Three stages, each linear in the input: a lexer (one compiled pattern of simple, possessive alternatives, so
no input can make it backtrack), a recursive-descent parser into position-carrying nodes, and a checker that
maps the nodes onto the pydantic models and reports every problem at the line and column of the offending key
or value.

The accepted keys are derived from the models (``accepted_keys()``), never from a hand list: a field added to
``JobSpec`` becomes a schedule key at once (and ``tests/test_dsl_docs.py`` then asks for its documentation).
``${VAR}`` references are text to this module: they are kept as written and resolved only when used.
"""

from __future__ import annotations

import difflib
import enum
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import InvalidInput
from .models import AgentSpec, JobSpec

#: Schedule keys whose DSL spelling differs from the JobSpec field (the guide's names).
SCHEDULE_RENAMES = {"agent": "agent_id", "cron": "cron_expr"}
_FIELD_TO_SCHEDULE_KEY = {v: k for k, v in SCHEDULE_RENAMES.items()}
#: More problems than this and the file is probably not .symbi at all: stop listing.
MAX_PROBLEMS = 100
#: Deeper nesting than this is refused (and keeps the recursive parser off Python's recursion limit).
MAX_DEPTH = 24


# ----------------------------------------------------------------------------------------------------
# Problems and the error type


@dataclass
class Problem:
    """One thing wrong in a file, at a line and column (both 1-based)."""

    file: str
    line: int
    column: int
    message: str
    expected: str | None = None
    found: str | None = None
    source_line: str = ""
    hint: str | None = None

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def caret(self) -> str:
        # Reuse the source's tabs so the caret lines up in a terminal.
        prefix = "".join(c if c == "\t" else " " for c in self.source_line[: max(self.column - 1, 0)])
        return prefix + "^"

    def render(self) -> str:
        """Compiler style: ``F:L:C: error: message``, the source line, a caret."""
        text = f"{self.location()}: error: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        if self.source_line or self.line:
            text += f"\n    {self.source_line}\n    {self.caret()}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
            "hint": self.hint,
            "source_line": self.source_line,
        }


class DslError(InvalidInput):
    """A ``.symbi`` file has problems. ``problems`` lists them all, in file order."""

    code = "invalid_dsl"

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("DslError needs at least one problem")
        self.problems = problems
        first = problems[0]
        message = f"{first.location()}: {first.message}"
        if first.hint:
            message += f" ({first.hint})"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more; `symbi cron validate --file {first.file}` lists them all)"
        super().__init__(message, details={"problems": [p.to_dict() for p in problems]})

    def render(self) -> str:
        """Every problem, compiler style, separated by blank lines."""
        return "\n".join(p.render() for p in self.problems)


class _Stop(Exception):
    """Too many problems: stop parsing."""


class _Syntax(Exception):
    """A syntax error inside an entry; the entry loop records it and recovers at the next line."""


# ----------------------------------------------------------------------------------------------------
# Lexer

# Token kinds.
IDENT, STRING, NUMBER, BOOL, PUNCT = "ident", "string", "number", "bool", "punct"
NL, EOF, ERROR = "nl", "eof", "error"
CHAR = "char"  # a character that starts no token

# Each alternative is simple and possessive, so the scan is linear whatever the input (no backtracking traps).
_TOKEN_RE = re.compile(
    r"""
     (?P<ws>[ \t\r\f\v\ufeff]++)
    |(?P<nl>\n)
    |(?P<comment>(?:\#|//)[^\n]*+)
    |(?P<triple>\"\"\"(?:[^"]++|"(?!""))*+\"\"\")
    |(?P<badtriple>\"\"\")
    |(?P<string>"(?:[^"\\\n]++|\\.)*+")
    |(?P<badstring>"[^\n]*+)
    |(?P<number>-?[0-9]++(?:\.[0-9]++)?+[A-Za-z0-9_]*+)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_.@\-]*+)
    |(?P<punct>[{}\[\]:,])
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "/": "/", "$": "$"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


class Tok:
    __slots__ = ("col", "kind", "line", "text", "value")

    def __init__(self, kind: str, value: Any, line: int, col: int, text: str) -> None:
        self.kind = kind
        self.value = value
        self.line = line
        self.col = col
        self.text = text

    def describe(self) -> str:
        """How an error message names this token ("found ...")."""
        if self.kind == NL:
            return "end of line"
        if self.kind == EOF:
            return "end of file"
        if self.kind == STRING:
            t = self.text if len(self.text) <= 40 else self.text[:37] + '..."'
            return f"string {t}"
        if self.kind == NUMBER:
            return f"number {self.text}"
        if self.kind == BOOL:
            return self.text
        if self.kind == IDENT:
            return f"`{self.text}`"
        return f"'{self.text}'"


def _unescape(body: str) -> tuple[str, str | None]:
    """The value of a "..." string body, or an error message for a bad escape."""
    if "\\" not in body:
        return body, None
    bad: list[str] = []

    def sub(m: re.Match[str]) -> str:
        e = m.group(1)
        if e in _ESCAPES:
            return _ESCAPES[e]
        if e.startswith("u") and len(e) == 5:
            return chr(int(e[1:], 16))
        bad.append(e)
        return e

    value = _ESCAPE_RE.sub(sub, body)
    if bad:
        return value, f"unknown escape \\{bad[0][:1]} (use \\\\ for a backslash)"
    return value, None


def _dedent_triple(body: str) -> str:
    """A \"\"\" string's text: the first line break and the closing line's indentation dropped, dedented."""
    import textwrap

    body = body.replace("\r\n", "\n")  # a file saved with CRLF line ends: the text's line breaks are still \n
    if body.startswith("\n"):
        body = body[1:]
    lines = body.split("\n")
    if len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    return textwrap.dedent("\n".join(lines))


def tokenize(text: str) -> list[Tok]:
    """Tokens of ``text`` (whitespace and comments dropped; lexical errors become ERROR tokens)."""
    toks: list[Tok] = []
    append = toks.append
    line = 1
    line_start = 0
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "ws" or kind == "comment":
            continue
        start = m.start()
        col = start - line_start + 1
        if kind == "nl":
            append(Tok(NL, None, line, col, "\n"))
            line += 1
            line_start = start + 1
        elif kind == "string":
            s = m.group()
            value, bad = _unescape(s[1:-1])
            if bad:
                append(Tok(ERROR, bad, line, col, s))
            else:
                append(Tok(STRING, value, line, col, s))
        elif kind == "ident":
            s = m.group()
            if s == "true" or s == "false":
                append(Tok(BOOL, s == "true", line, col, s))
            else:
                append(Tok(IDENT, s, line, col, s))
        elif kind == "punct":
            s = m.group()
            append(Tok(PUNCT, s, line, col, s))
        elif kind == "number":
            s = m.group()
            digits = s.lstrip("-")
            if len(digits) > 18:
                append(Tok(ERROR, "number too large (at most 18 digits)", line, col, s[:20]))
            elif digits.replace(".", "", 1).isdigit() and digits.isascii():
                append(Tok(NUMBER, float(s) if "." in s else int(s), line, col, s))
            else:
                append(Tok(ERROR, f'{s} is not a number (write text in quotes, e.g. "{s}")', line, col, s))
        elif kind == "triple":
            s = m.group()
            append(Tok(STRING, _dedent_triple(s[3:-3]), line, col, '"""..."""'))
            n = s.count("\n")
            if n:
                line += n
                line_start = start + s.rfind("\n") + 1
        elif kind == "badstring":
            append(Tok(ERROR, 'unterminated string (a closing " is missing on this line)', line, col, m.group()))
        elif kind == "badtriple":
            append(Tok(ERROR, 'unterminated """ string (no closing """ before the end of the file)', line, col, '"""'))
            # Everything after is inside the string: nothing more to lex.
            break
        else:  # other
            ch = m.group()
            if ch == "'":
                append(Tok(ERROR, 'strings use double quotes ("..."), not \'', line, col, ch))
            else:
                # Not an error yet: the parser says what it expected instead (e.g. ':' rather than '=').
                append(Tok(CHAR, ch, line, col, ch))
    eof_col = len(text) - line_start + 1
    append(Tok(EOF, None, line, max(eof_col, 1), ""))
    return toks


# ----------------------------------------------------------------------------------------------------
# Parser: tokens -> nodes that remember where they were written


class Node:
    """A value: kind is string, integer, float, boolean, list or map; ``value`` is a Python scalar, a list of
    nodes, or a list of entries."""

    __slots__ = ("col", "kind", "line", "text", "value")

    def __init__(self, kind: str, value: Any, line: int, col: int, text: str = "") -> None:
        self.kind = kind
        self.value = value
        self.line = line
        self.col = col
        self.text = text

    def to_python(self) -> Any:
        if self.kind == "list":
            return [n.to_python() for n in self.value]
        if self.kind == "map":
            return {e.key: e.node.to_python() for e in self.value}
        return self.value

    def describe(self) -> str:
        if self.kind == "string":
            t = self.text if len(self.text) <= 40 else self.text[:37] + '..."'
            return f"string {t}"
        if self.kind in ("integer", "float"):
            return f"number {self.text}"
        if self.kind == "boolean":
            return self.text
        return "a list" if self.kind == "list" else "a map"


class Entry:
    """``key: value`` (or ``key { ... }``) with the key's position."""

    __slots__ = ("col", "key", "line", "node")

    def __init__(self, key: str, line: int, col: int, node: Node) -> None:
        self.key = key
        self.line = line
        self.col = col
        self.node = node


@dataclass
class Block:
    """A top-level ``agent NAME { }`` or ``schedule { }`` block as written."""

    kind: str
    name: str | None
    line: int
    col: int
    name_line: int
    name_col: int
    entries: list[Entry]
    #: A syntax error inside: keys may be lost, so "missing key" checks are skipped for it.
    broken: bool = False


_VALUE_KIND = {STRING: "string", BOOL: "boolean"}


class _Parser:
    def __init__(self, text: str, file: str, problems: list[Problem]) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.file = file
        self.problems = problems

    # -- helpers ---------------------------------------------------------------------------------------------
    def problem(
        self,
        line: int,
        col: int,
        message: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problems.append(Problem(self.file, line, col, message, expected, found, hint=hint))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _Stop

    def error_at(self, tok: Tok, expected: str, context: str = "") -> None:
        """Record "expected X, found Y" at ``tok`` (or the lexer's own message for a bad token)."""
        if tok.kind == ERROR:
            self.problem(tok.line, tok.col, tok.value, found=tok.text)
            return
        found = tok.describe()
        msg = f"expected {expected}{context}, found {found}"
        hint = None
        if tok.kind == IDENT and "value" in expected:
            hint = f'strings need double quotes: "{tok.text}"'
        self.problem(tok.line, tok.col, msg, expected=expected, found=found, hint=hint)

    def peek(self) -> Tok:
        return self.toks[self.i]

    def advance(self) -> Tok:
        tok = self.toks[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def skip_newlines(self) -> None:
        toks = self.toks
        while toks[self.i].kind == NL:
            self.i += 1

    def is_punct(self, tok: Tok, ch: str) -> bool:
        return tok.kind == PUNCT and tok.value == ch

    def recover_entry(self, start: int) -> None:
        """Skip from ``start`` to the end of a broken entry: the next line break outside brackets, or the '}'
        closing the enclosing block (left for the caller)."""
        toks = self.toks
        stack: list[str] = []
        j = start
        while True:
            t = toks[j]
            if t.kind == EOF:
                break
            if t.kind == NL and not stack and j > start:
                break
            if t.kind == PUNCT:
                if t.value in "{[":
                    stack.append("}" if t.value == "{" else "]")
                elif t.value in "}]":
                    if t.value in stack:
                        while stack and stack.pop() != t.value:
                            pass
                    elif t.value == "}":
                        break  # the enclosing block's close
            j += 1
        self.i = max(j, self.i)

    # -- grammar ---------------------------------------------------------------------------------------------
    def document(self) -> list[Block]:
        blocks: list[Block] = []
        toks = self.toks
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok.kind == EOF:
                return blocks
            if tok.kind == IDENT and tok.value in ("agent", "schedule"):
                block = self.block()
                if block is not None:
                    blocks.append(block)
                continue
            hint = None
            if tok.kind == IDENT:
                close = difflib.get_close_matches(tok.value, ["agent", "schedule"], n=1, cutoff=0.6)
                if close:
                    hint = f"did you mean `{close[0]}`?"
            if tok.kind == ERROR:
                self.problem(tok.line, tok.col, tok.value, found=tok.text)
            else:
                found = tok.describe()
                self.problem(
                    tok.line,
                    tok.col,
                    f"expected `agent NAME {{` or `schedule {{`, found {found}",
                    expected="agent or schedule block",
                    found=found,
                    hint=hint,
                )
            # Skip to the next line that starts a block outside any brackets.
            depth = 0
            self.advance()
            while True:
                t = toks[self.i]
                if t.kind == EOF:
                    break
                if t.kind == PUNCT:
                    if t.value in "{[":
                        depth += 1
                    elif t.value in "}]":
                        depth = max(depth - 1, 0)
                if t.kind == IDENT and t.value in ("agent", "schedule") and depth == 0 and toks[self.i - 1].kind == NL:
                    break
                self.i += 1

    def block(self) -> Block | None:
        kw = self.advance()
        name: str | None = None
        name_line, name_col = kw.line, kw.col
        tok = self.peek()
        if kw.value == "agent":
            if tok.kind in (IDENT, STRING):
                self.advance()
                name, name_line, name_col = tok.value, tok.line, tok.col
            else:
                self.error_at(tok, "the agent's name", " after `agent`")
                self.recover_block()
                return None
        elif tok.kind in (IDENT, STRING):
            self.problem(
                tok.line,
                tok.col,
                "a schedule block takes no name after `schedule`",
                expected="'{'",
                found=tok.describe(),
                hint=f'write name: "{tok.value}" inside the block',
            )
            self.advance()
        self.skip_newlines()
        tok = self.peek()
        if not self.is_punct(tok, "{"):
            self.error_at(tok, "'{'", f" to open the {kw.value} block")
            self.recover_block()
            return None
        self.advance()
        before = len(self.problems)
        entries = self.entries(tok, depth=1)
        return Block(kw.value, name, kw.line, kw.col, name_line, name_col, entries, broken=len(self.problems) > before)

    def recover_block(self) -> None:
        """After a broken block header: skip past the block's braces (or to the next line)."""
        toks = self.toks
        depth = 0
        while True:
            t = toks[self.i]
            if t.kind == EOF:
                return
            if t.kind == PUNCT and t.value == "{":
                depth += 1
            elif t.kind == PUNCT and t.value == "}":
                depth -= 1
                if depth <= 0:
                    self.i += 1
                    return
            elif t.kind == NL and depth == 0:
                return
            self.i += 1

    def entries(self, open_tok: Tok, depth: int) -> list[Entry]:
        """Entries up to the '}' matching ``open_tok`` (consumed). Keys are names or strings."""
        out: list[Entry] = []
        toks = self.toks
        while True:
            tok = toks[self.i]
            while tok.kind == NL or (tok.kind == PUNCT and tok.value == ","):
                self.i += 1
                tok = toks[self.i]
            if tok.kind == PUNCT and tok.value == "}":
                self.i += 1
                return out
            if tok.kind == EOF:
                self.problem(
                    tok.line,
                    tok.col,
                    f"expected '}}' to close the block opened at line {open_tok.line}, found end of file",
                    expected="'}'",
                    found="end of file",
                )
                return out
            start = self.i
            try:
                if tok.kind not in (IDENT, STRING):
                    self.error_at(tok, "a key")
                    raise _Syntax
                self.i += 1
                nxt = toks[self.i]
                if nxt.kind == PUNCT and nxt.value == ":":
                    self.i += 1
                    value = self.value(depth, after=tok.text)
                elif nxt.kind == PUNCT and nxt.value == "{":
                    self.i += 1
                    value = self.map_node(nxt, depth + 1)
                else:
                    self.error_at(nxt, "':'", f" after the key {tok.text}")
                    raise _Syntax
                end = toks[self.i]
                if not (end.kind in (NL, EOF) or (end.kind == PUNCT and end.value in ",}")):
                    self.error_at(end, "a new line or ','", f" after the value of {tok.text}")
                    raise _Syntax
                out.append(Entry(tok.value, tok.line, tok.col, value))
            except _Syntax:
                self.recover_entry(start)

    def map_node(self, open_tok: Tok, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self.problem(open_tok.line, open_tok.col, f"nested more than {MAX_DEPTH} levels deep")
            raise _Syntax
        return Node("map", self.entries(open_tok, depth), open_tok.line, open_tok.col, "{")

    def value(self, depth: int, after: str) -> Node:
        tok = self.toks[self.i]
        kind = tok.kind
        if kind == STRING or kind == BOOL:
            self.i += 1
            return Node(_VALUE_KIND[kind], tok.value, tok.line, tok.col, tok.text)
        if kind == NUMBER:
            self.i += 1
            return Node("float" if isinstance(tok.value, float) else "integer", tok.value, tok.line, tok.col, tok.text)
        if kind == PUNCT and tok.value == "[":
            self.i += 1
            return self.list_node(tok, depth + 1)
        if kind == PUNCT and tok.value == "{":
            self.i += 1
            return self.map_node(tok, depth + 1)
        self.error_at(tok, "a value", f" after {after}:")
        raise _Syntax

    def list_node(self, open_tok: Tok, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self.problem(open_tok.line, open_tok.col, f"nested more than {MAX_DEPTH} levels deep")
            raise _Syntax
        items: list[Node] = []
        toks = self.toks
        while True:
            self.skip_newlines()
            tok = toks[self.i]
            if tok.kind == PUNCT and tok.value == "]":
                self.i += 1
                return Node("list", items, open_tok.line, open_tok.col, "[")
            items.append(self.value(depth, after="["))
            self.skip_newlines()
            tok = toks[self.i]
            if tok.kind == PUNCT and tok.value == ",":
                self.i += 1
            elif not (tok.kind == PUNCT and tok.value == "]"):
                self.error_at(tok, "',' or ']'", f" in the list opened at line {open_tok.line}")
                raise _Syntax


def parse_syntax(text: str, *, file: str = "<string>") -> list[Block]:
    """The blocks of ``text`` as written (no model checks); DslError on a syntax error."""
    problems: list[Problem] = []
    blocks = _parse_blocks(text, file, problems)
    if problems:
        raise_problems(problems, text)
    return blocks


def _parse_blocks(text: str, file: str, problems: list[Problem]) -> list[Block]:
    import gc

    # A big file makes millions of small acyclic objects; the cyclic collector would rescan them again and
    # again (time growing faster than the input). Reference counting frees them all the same.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        parser = _Parser(text, file, problems)
        try:
            return parser.document()
        except _Stop:
            return []
    finally:
        if was_enabled:
            gc.enable()


# ----------------------------------------------------------------------------------------------------
# Checker: blocks -> models, with every problem placed on its key or value


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
        from .timeutil import load_zone

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
    from . import timing

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


# ----------------------------------------------------------------------------------------------------
# Entry points


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


def raise_problems(problems: list[Problem], text: str) -> typing.NoReturn:
    """Raise DslError for ``problems`` (sorted, each with its source line taken from ``text``)."""
    if len(problems) >= MAX_PROBLEMS:
        last = problems[-1]
        problems.append(Problem(last.file, last.line, last.column, f"too many problems ({MAX_PROBLEMS}); stopped here"))
    problems.sort(key=lambda p: (p.line, p.column))
    lines = text.split("\n")
    for p in problems:
        if 1 <= p.line <= len(lines):
            p.source_line = lines[p.line - 1].rstrip("\r")
    raise DslError(problems)


def read_text(path: str | Path) -> str:
    """A file's text (``-`` is stdin) without a leading byte-order mark, or InvalidInput naming the file."""
    import sys

    name = "<stdin>" if str(path) == "-" else str(path)
    if not name:
        raise InvalidInput("no file name given (use - for stdin)", field="file")
    try:
        if name == "<stdin>":
            stdin = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
            data = stdin.read() if stdin is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        else:
            data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}", field="file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a file", field="file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror or exc}", field="file") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DslError([Problem(name, line, col, "the file is not valid UTF-8")]) from None
    # Editors on Windows start a UTF-8 file with a BOM; it is not part of the text (a crontab's first field).
    return text[1:] if text.startswith("\ufeff") else text


def parse_file(
    path: str | Path,
    *,
    known_agents: Iterable[str] | None = None,
    check_schedule: typing.Callable[[JobSpec], list[tuple[str | None, str, str | None]]] | None = None,
) -> Document:
    """:func:`parse` on a file's text; errors name the file as given."""
    return parse(read_text(path), file=str(path), known_agents=known_agents, check_schedule=check_schedule)
