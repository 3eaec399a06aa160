"""Fuzzing the .symbi parser: random and mutated files raise only DslError and never hang.

Speed is not asserted here (bench/dsl.py measures it); the per-test timeout only catches a hang.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbi_cron import dsl

GUIDE = sorted((Path(__file__).parent / "fixtures" / "guide").glob("*"))
SEEDS = [p.read_text(encoding="utf-8") for p in GUIDE]

# Characters that mean something to the lexer, plus some that do not.
ALPHABET = list("{}[]:,\"#/\\\n\t abcnrtu019-_.$'+=*@é\r")
ALPHABET += ['"""', "//", "agent ", "schedule ", "${X}", "true"]


def check(text: str, known=None) -> None:
    try:
        doc = dsl.parse(text, file="fuzz.symbi", known_agents=known)
    except dsl.DslError as err:
        assert err.problems
        for p in err.problems:
            assert p.line >= 1 and p.column >= 1
            p.render()
        err.render()
    else:
        assert isinstance(doc, dsl.Document)


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ALPHABET) | st.text(max_size=3), max_size=120).map("".join))
def test_random_text_raises_only_dsl_error(text):
    check(text)


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i, min(len(text), i + 12)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        piece = draw(st.sampled_from(ALPHABET) | st.text(max_size=4))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i] + piece + text[j:]
    return text


@pytest.mark.timeout(120)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.sampled_from([None, [], ["heartbeat_monitor", "backup-agent"]]))
def test_mutated_guide_files_raise_only_dsl_error(text, known):
    check(text, known)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{" * 100_000,
        "schedule {" * 20_000,
        '"' * 100_001,
        '"""' + "x" * 100_000,
        "schedule { custom: " + "{ a: " * 5_000 + "1" + " }" * 5_000 + " }",
        "#" * 100_000,
        "\\" * 100_000,
        "a" * 100_000,
        "9" * 100_000,
    ],
)
def test_pathological_inputs_finish(text):
    check(text)
