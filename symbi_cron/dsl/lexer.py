"""The ``.symbi`` lexer: text -> tokens that know their line and column.

One compiled pattern of simple, possessive alternatives, so no input can make it backtrack: the scan is linear
whatever the input. Lexical errors (a bad escape, an unterminated string) become ERROR tokens for the parser to
report where they stand.
"""

from __future__ import annotations

import re
from typing import Any

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
