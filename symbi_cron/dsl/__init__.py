"""The ``.symbi`` DSL: ``agent NAME { ... }`` and ``schedule { ... }`` blocks -> AgentSpec / JobSpec.

Three stages, each linear in the input, one module each:

* ``lexer``: text -> tokens (one compiled pattern of simple, possessive alternatives, so no input can make it
  backtrack);
* ``parser``: tokens -> position-carrying blocks, entries and nodes (recursive descent, recovering at the next
  line after a syntax error);
* ``checker``: blocks -> the pydantic models, every problem reported at the line and column of the offending
  key or value; :func:`parse` runs all three and the checks across blocks.

``problems`` holds :class:`Problem` and :class:`DslError`, which every stage reports through; ``files`` reads a
file's text; ``export`` writes jobs and agents back as ``.symbi`` text that parses to the same specs.

The accepted keys are derived from the models (``accepted_keys()``), never from a hand list: a field added to
``JobSpec`` becomes a schedule key at once (and ``tests/test_dsl_docs.py`` then asks for its documentation).
``${VAR}`` references are text to this package: they are kept as written and resolved only when used.
"""

from __future__ import annotations

from .checker import (
    SCHEDULE_RENAMES,
    AgentDecl,
    Document,
    ScheduleDecl,
    accepted_keys,
    parse,
    schedule_key,
    schedule_problem,
)
from .files import parse_file, read_text
from .lexer import BOOL, CHAR, EOF, ERROR, IDENT, NL, NUMBER, PUNCT, STRING, Tok, tokenize
from .parser import MAX_DEPTH, Block, Entry, Node, parse_syntax
from .problems import MAX_PROBLEMS, DslError, Problem, raise_problems

__all__ = [
    "BOOL",
    "CHAR",
    "EOF",
    "ERROR",
    "IDENT",
    "MAX_DEPTH",
    "MAX_PROBLEMS",
    "NL",
    "NUMBER",
    "PUNCT",
    "SCHEDULE_RENAMES",
    "STRING",
    "AgentDecl",
    "Block",
    "Document",
    "DslError",
    "Entry",
    "Node",
    "Problem",
    "ScheduleDecl",
    "Tok",
    "accepted_keys",
    "parse",
    "parse_file",
    "parse_syntax",
    "raise_problems",
    "read_text",
    "schedule_key",
    "schedule_problem",
    "tokenize",
]
