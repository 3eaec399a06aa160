"""``symbi man [TOPIC]``: the manual pages the package carries (installed by pip to share/man/man1 as well, and
inside the zipapp), shown with man(1), or as plain text where man is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import click

#: Where the pages live in the package (a man1 directory, so its parent works on MANPATH).
MAN_ROOT = Path(__file__).resolve().parent.parent / "man"


def pages() -> dict[str, Path]:
    """Page name (``symbi``, ``symbi-cron``, ...) -> file."""
    return {p.stem: p for p in sorted((MAN_ROOT / "man1").glob("*.1"))}


def page_for(topic: tuple[str, ...]) -> Path:
    """The page of a topic: none -> symbi(1); ``cron``, ``symbi-cron``, ``cron add`` -> symbi-cron(1)."""
    from ..errors import NotFound

    known = pages()
    words = [w for w in topic if w and w != "symbi"]
    name = "symbi" if not words else words[0].removeprefix("symbi-").removesuffix(".1")
    name = "symbi" if name == "symbi" else f"symbi-{name}"
    if name not in known:
        topics = ", ".join(["symbi"] + [p.removeprefix("symbi-") for p in known if p != "symbi"])
        raise NotFound(f"no manual page for {' '.join(topic)!r} (topics: {topics})")
    return known[name]


@click.command("man")
@click.argument("topic", nargs=-1)
@click.option("--where", is_flag=True, help="Print the directory to put on MANPATH (then `man symbi` works), and exit.")
def man(topic: tuple[str, ...], where: bool) -> None:
    """Show a manual page: `symbi man` (symbi(1)), `symbi man cron` (symbi-cron(1)), `symbi man logs`, ...

    The pages come with the program (the zipapp carries them too). `pip install` also puts them in
    <prefix>/share/man/man1, where `man symbi` finds them when <prefix>/bin is on PATH; elsewhere
    `export MANPATH="$(symbi man --where):"` makes `man symbi` work.
    """
    if where:
        click.echo(str(MAN_ROOT))
        return
    path = page_for(topic)
    if shutil.which("man"):
        # man pages the text when stdout is a terminal and prints it plain when it is not.
        raise click.exceptions.Exit(subprocess.call(["man", "-l", str(path)]))
    text = roff_to_text(path.read_text(encoding="utf-8"))
    if sys.stdout.isatty():
        click.echo_via_pager(text)
    else:
        click.echo(text, nl=False)


_FONT = re.compile(r"\\f[BIRP]|\\f\(..")


def _inline(text: str) -> str:
    text = _FONT.sub("", text)
    text = text.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\(em", "--")
    return text.replace('\\"', '"')


def _args(rest: str) -> list[str]:
    return [a[1:-1] if len(a) > 1 and a[0] == a[-1] == '"' else a for a in re.findall(r'"[^"]*"|\S+', rest)]


def roff_to_text(source: str) -> str:
    """The page as plain text, for a machine without man: the macros our generator writes (scripts/gen_docs.py)
    become headings, indented paragraphs and verbatim blocks."""
    out: list[str] = []
    indent = "       "
    verbatim = False
    for raw in source.splitlines():
        if raw.startswith(('.\\"', "'\\\"")):
            continue
        if not raw.startswith("."):
            line = _inline(raw)
            if verbatim or not line:
                out.append(indent + line if line else "")
            else:
                out.append(textwrap.fill(line, width=79, initial_indent=indent, subsequent_indent=indent))
            continue
        macro, _, rest = raw[1:].partition(" ")
        args = _args(rest)
        if macro == "TH":
            title = _inline(f"{args[0]}({args[1]})" if len(args) > 1 else (args[0] if args else ""))
            out.append(f"{title}\n")
        elif macro == "SH":
            out.append("\n" + _inline(" ".join(args)))
            indent = "       "
        elif macro == "SS":
            out.append("\n   " + _inline(" ".join(args)))
        elif macro in ("PP", "P", "LP", "sp"):
            out.append("")
        elif macro == "TP":
            out.append("")
        elif macro in ("B", "I"):
            out.append(indent + _inline(" ".join(args)))
        elif macro in ("BR", "BI", "IR", "RB", "IB", "RI"):
            out.append(indent + _inline("".join(args)))
        elif macro == "nf":
            verbatim = True
        elif macro == "fi":
            verbatim = False
        elif macro in ("RS",):
            indent += "    "
        elif macro in ("RE",):
            indent = indent[:-4] if len(indent) > 7 else indent
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
