"""docs/dsl.md describes exactly the keys the parser accepts (derived from the models, not a hand list)."""

from __future__ import annotations

import re
from pathlib import Path

from symbi_cron import dsl

DOC = Path(__file__).resolve().parent.parent / "docs" / "dsl.md"


def documented_keys() -> set[str]:
    """The first cell of each reference-table row: `schedule.policy.max_runtime` and the like."""
    keys = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*`((?:schedule|agent)(?:\.[A-Za-z_]+)+)`\s*\|", line)
        if m:
            keys.add(m.group(1))
    return keys


def accepted() -> set[str]:
    return {f"{scope}.{key}" for scope, keys in dsl.accepted_keys().items() for key in keys}


def test_every_accepted_key_is_documented():
    missing = sorted(accepted() - documented_keys())
    assert not missing, f"docs/dsl.md does not describe: {missing}"


def test_every_documented_key_is_accepted():
    stale = sorted(documented_keys() - accepted())
    assert not stale, f"docs/dsl.md describes keys the parser refuses: {stale}"


def test_documented_examples_parse():
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n((?:#|agent|schedule).*?)```", text, re.S)
    assert len(blocks) == 3
    assert dsl.parse(blocks[0]).summary() == "1 agent, 1 schedule"
    assert dsl.parse(blocks[1]).agents[0].spec.tools["disk_usage"].timeout == 30
    assert dsl.parse(blocks[2]).agents[0].spec.mcp_servers["files"].timeout == 30
