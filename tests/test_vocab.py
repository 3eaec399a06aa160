"""One vocabulary (``symbi_cron/vocab.py``): run and job statuses, triggers, approval decisions and audit event types
are written by name across the package, never as a bare string where a status is compared or set; and a word of
the vocabulary behaves as the string the store holds."""

from __future__ import annotations

import ast
import json
import sqlite3
from pathlib import Path

from symbi_cron import vocab
from symbi_cron.vocab import ApprovalStatus, DaemonStatus, Event, JobStatus, OnFailure, RunStatus, Trigger

PACKAGE = Path(__file__).resolve().parents[1] / "symbi_cron"

STATUS_WORDS = {w.value for w in (*RunStatus, *JobStatus, *ApprovalStatus)}
TRIGGER_WORDS = {w.value for w in Trigger}
DAEMON_WORDS = {w.value for w in DaemonStatus}


def _is_named(node: ast.AST, name: str) -> bool:
    """``x["status"]``, ``x.status``, ``x.get("status", ...)``, a variable ``status`` or ``*_status``."""
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == name
    if isinstance(node, ast.Attribute):
        return node.attr == name
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == name
    if isinstance(node, ast.Name):
        return node.id == name or node.id.endswith(f"_{name}")
    return False


def _is_status(node: ast.AST) -> bool:
    if _is_named(node, "status"):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "status_of"


def _strings(node: ast.AST | None):
    """The string constants of an expression that is one, or a tuple/list/set of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        for element in node.elts:
            yield from _strings(element)


def bare_words(source: str) -> list[tuple[int, str]]:
    """Where a status or a trigger the vocabulary defines is written as a string: compared with a status or a
    trigger, passed as ``status=``/``trigger=``, set under the key ``"status"``/``"trigger"``, assigned to one, or
    asked of ``with_status``."""
    found: dict[tuple[int, int], str] = {}

    def mark(node: ast.AST | None, words: set[str]) -> None:
        for const in _strings(node):
            if const.value in words:
                found[(const.lineno, const.col_offset)] = const.value

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for test, words in (
                (_is_status, STATUS_WORDS),
                (lambda n: _is_named(n, "trigger"), TRIGGER_WORDS),
                (lambda n: isinstance(n, ast.Attribute) and n.attr == "state", DAEMON_WORDS),  # a DaemonState
            ):
                if any(test(side) for side in sides):
                    for side in sides:
                        mark(side, words)
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in ("status", "statuses"):
                    mark(keyword.value, STATUS_WORDS)
                elif keyword.arg == "trigger":
                    mark(keyword.value, TRIGGER_WORDS)
            func = node.func
            if isinstance(func, (ast.Attribute, ast.Name)) and getattr(func, "attr", getattr(func, "id", "")) in (
                "with_status"
            ):
                for arg in node.args[1:2]:
                    mark(arg, STATUS_WORDS)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "status":
                    mark(value, STATUS_WORDS)
                elif isinstance(key, ast.Constant) and key.value == "trigger":
                    mark(value, TRIGGER_WORDS)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                pairs = (
                    zip(target.elts, node.value.elts, strict=False)
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                    else [(target, node.value)]
                )
                for name, value in pairs:
                    if _is_status(name):
                        mark(value, STATUS_WORDS)
                    elif _is_named(name, "trigger"):
                        mark(value, TRIGGER_WORDS)
    return sorted((line, word) for (line, _col), word in found.items())


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "vocab.py":
            yield path, path.read_text(encoding="utf-8")


def test_statuses_and_triggers_are_written_by_name():
    bare = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {word!r}"
        for path, source in _modules()
        for line, word in bare_words(source)
    ]
    assert bare == [], "write these with symbi_cron.vocab (RunStatus.x, JobStatus.x, Trigger.x...):\n" + "\n".join(bare)


def test_the_detector_finds_a_bare_status_and_leaves_other_strings_alone():
    sample = (
        'if run["status"] == "running": pass\n'  # 1
        'if job.get("status") not in ("active", "paused"): pass\n'  # 2
        'rows.update(conn, rid, status="failed")\n'  # 3
        'detail = {"status": "denied", "by": user}\n'  # 4
        'status = "succeeded"\n'  # 5
        'if r["trigger"] == "retry": pass\n'  # 6
        'rows.with_status(conn, ("queued",))\n'  # 7
        'if run["status"] == RunStatus.running: pass\n'  # by name
        'if state.state == "running": pass\n'  # 9: a daemon's state (DaemonStatus)
        'click.echo("failed")\n'  # prose
        'if verdict == "retry": pass\n'  # a delivery's verdict, not a trigger
    )
    assert [line for line, _ in bare_words(sample)] == [1, 2, 2, 3, 4, 5, 6, 7, 9]


def test_audit_event_types_are_written_once():
    """Every event type is spelled in vocab.Event only: elsewhere it is ``Event.job_created``..."""
    types = set(vocab.EVENT_TYPES)
    spelled = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value}"
        for path, source in _modules()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value in types
    ]
    assert spelled == []
    assert len(types) == len(vocab.EVENT_TYPES) == len(Event)


def _event_names(node: ast.AST) -> list[ast.AST]:
    """The leaves of a ``type=`` argument (both arms of ``a if c else b``)."""
    if isinstance(node, ast.IfExp):
        return _event_names(node.body) + _event_names(node.orelse)
    return [node]


def test_every_event_appended_is_named_in_the_vocabulary():
    """A new event type cannot bypass ``vocab.Event``: what ``append_event`` is given as ``type=`` is an
    ``Event.x``, never a string or a module's own constant."""
    calls = 0
    elsewhere = []
    for path, source in _modules():
        for node in ast.walk(ast.parse(source)):
            if not (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "append_event"
            ):
                continue
            for keyword in node.keywords:
                if keyword.arg != "type":
                    continue
                calls += 1
                for leaf in _event_names(keyword.value):
                    named = isinstance(leaf, ast.Attribute) and getattr(leaf.value, "id", "") == "Event"
                    # a function passing its own parameter on (services/jobs._audit) is checked at its callers
                    if not named and not (isinstance(leaf, ast.Name) and leaf.id in ("type", "event_type", "kind")):
                        elsewhere.append(f"{path.relative_to(PACKAGE.parent)}:{leaf.lineno}: {ast.unparse(leaf)}")
    assert calls > 10
    assert elsewhere == [], "name the event in vocab.Event:\n" + "\n".join(elsewhere)


def test_a_word_is_the_string_the_store_holds():
    word = RunStatus.timed_out
    assert (
        word == "timed_out"
        and str(word) == "timed_out"
        and f"{word}" == "timed_out"
        and format(word, "") == "timed_out"
    )
    assert json.dumps({"status": word}) == '{"status": "timed_out"}'
    assert {"timed_out": 1}[word] == 1 and word in {"timed_out"} and "timed_out" in {word}
    # a member whose name is not its value hashes as its value too
    assert OnFailure.continue_ in {"continue"} and {OnFailure.continue_: 1}["continue"] == 1
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT ?, typeof(?)", (word, word)).fetchone() == ("timed_out", "text")
    assert RunStatus("timed_out") is word
    assert vocab.FAILURE_RUN_STATUSES <= vocab.FINAL_RUN_STATUSES
    assert set(vocab.OPEN_RUN_STATUSES) | vocab.FINAL_RUN_STATUSES == {s.value for s in RunStatus}
