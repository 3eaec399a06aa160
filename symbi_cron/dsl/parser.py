"""The ``.symbi`` parser: tokens -> blocks of entries whose nodes remember where they were written.

Recursive descent, linear in the input. A syntax error is recorded and the parser recovers at the next line (or
block), so one pass reports every problem in the file. No model checks here: that is the checker's job.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .lexer import BOOL, EOF, ERROR, IDENT, NL, NUMBER, PUNCT, STRING, Tok, tokenize
from .problems import MAX_PROBLEMS, Problem, _Stop, raise_problems

#: Deeper nesting than this is refused (and keeps the recursive parser off Python's recursion limit).
MAX_DEPTH = 24


class _Syntax(Exception):
    """A syntax error inside an entry; the entry loop records it and recovers at the next line."""


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
