"""The model's vocabulary and shapes."""

import pytest

from symbi_cron.models import Job, format_duration, parse_duration
from symbi_cron.vocab import JOB_FIELD_ORDER


def test_job_field_order_matches_the_model():
    assert sorted(JOB_FIELD_ORDER) == sorted(Job.model_fields)
    assert len(JOB_FIELD_ORDER) == len(set(JOB_FIELD_ORDER))


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("5m", 300),
        ("30m", 1800),
        ("1h", 3600),
        ("1h30m", 5400),
        ("90s", 90),
        (45, 45),
        ("120", 120),
        ("2h 5m 3s", 7503),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 minutes", "0", 0, -3, "1d", True, "m", "5ms"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_duration():
    assert [format_duration(s) for s in (300, 5400, 59, 0)] == ["5m", "1h30m", "59s", "0s"]
