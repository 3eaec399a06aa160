"""The .symbi writer (`cron export --format symbi`, `cron edit`): whatever a job or an agent holds, the text parses
back to the same spec (property-based, on top of the fixed cases in tests/cli/test_edit_apply.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbi_cron import dsl
from symbi_cron.dsl.export import quote, symbi_text
from symbi_cron.errors import InvalidState
from symbi_cron.models import AgentSpec, JobSpec

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
scalars = st.one_of(
    text,
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 6)),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=text.filter(lambda s: s.strip() and s.isprintable()),
    input_text=st.none() | text,
    headers=st.dictionaries(
        st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}", fullmatch=True),
        text.filter(lambda s: s.isprintable()),
        max_size=3,
    ),
    custom=st.dictionaries(text, json_values, max_size=3),
    prompt=text.filter(lambda s: s.strip()),
)
def test_a_job_and_an_agent_read_back_as_written(name, input_text, headers, custom, prompt) -> None:
    job = JobSpec.model_validate(
        {
            "name": name,
            "agent_id": "a",
            "cron_expr": "0 9 * * 1-5",
            "timezone": "Europe/Madrid",
            "input": input_text,
            "webhook_headers": headers,
            "custom": custom,
            "max_retries": 2,
        }
    ).model_dump(mode="json")
    agent = AgentSpec.model_validate({"name": "a", "model": "m", "system_prompt": prompt}).model_dump(mode="json")
    doc = dsl.parse(symbi_text([agent], [job]))
    assert doc.schedules[0].spec.model_dump(mode="json") == job
    assert doc.agents[0].spec.model_dump(mode="json") == agent


def test_map_keys_the_lexer_reads_as_values_are_quoted() -> None:
    """Found by the property test above: a custom key ``true`` was written bare and read back as a boolean."""
    job = JobSpec.model_validate(
        {"name": "0", "agent_id": "a", "cron_expr": "0 9 * * 1-5", "custom": {"true": [], "false": 1, "ok": 2}}
    ).model_dump(mode="json")
    text = symbi_text([], [job])
    assert '"true": []' in text and '"false": 1' in text and " ok: 2" in text
    assert dsl.parse(text).schedules[0].spec.model_dump(mode="json") == job


def test_a_map_key_ending_in_a_newline_is_quoted() -> None:
    """Found by the property test above: the key ``"A\\n"`` passed the bare-name check (``$`` matches before a final
    newline) and was written across two lines."""
    job = JobSpec.model_validate(
        {"name": "0", "agent_id": "a", "cron_expr": "0 9 * * 1-5", "custom": {"A\n": [], "B": 1}}
    ).model_dump(mode="json")
    text = symbi_text([], [job])
    assert '"A\\n": []' in text and " B: 1" in text
    assert dsl.parse(text).schedules[0].spec.model_dump(mode="json") == job


@given(text)
def test_quote_reads_back(value: str) -> None:
    [tok] = [t for t in dsl.tokenize(quote(value)) if t.kind == dsl.STRING]
    assert tok.value == value


def test_multi_line_text_is_written_between_triple_quotes() -> None:
    agent = {"name": "a", "model": "m", "system_prompt": "One.\n  Two, indented.\nThree."}
    out = symbi_text([AgentSpec.model_validate(agent).model_dump(mode="json")], [])
    assert 'system_prompt: """\n    One.\n      Two, indented.\n    Three.\n    """' in out


def test_a_null_inside_custom_is_refused_rather_than_dropped() -> None:
    with pytest.raises(InvalidState, match="job 'j' cannot be written as .symbi"):
        symbi_text([], [{"name": "j", "agent_id": "a", "cron_expr": "@daily", "custom": {"x": None}}])
