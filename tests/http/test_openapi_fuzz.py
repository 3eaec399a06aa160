"""schemathesis against the real server: every operation of the OpenAPI document, fed what the document allows
(and what it forbids), must be answered as the document says. A small budget here; more with SYMBI_FUZZ_EXAMPLES.

The document's semantic formats get strategies that produce only what they promise: ``cron`` (an expression our
engine accepts), ``iana-time-zone`` (a zone of this machine's tz database), ``date-time`` for ``at`` (an
instant in the future: the one rule a JSON schema cannot state, said in the field's description) and ``when`` (a
time as `symbi usage --since` reads it).
"""

from __future__ import annotations

import os
import zoneinfo
from datetime import datetime, timedelta, timezone

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = int(os.environ.get("SYMBI_FUZZ_EXAMPLES", "12"))


def _cron_field(lo: int, hi: int) -> st.SearchStrategy[str]:
    number = st.integers(lo, hi).map(str)
    span = st.tuples(st.integers(lo, hi), st.integers(lo, hi)).map(lambda t: f"{min(t)}-{max(t)}")
    step = st.tuples(st.sampled_from(["*", f"{lo}-{hi}"]), st.integers(1, hi - lo + 1)).map(lambda t: f"{t[0]}/{t[1]}")
    one = st.one_of(st.just("*"), number, span, step)
    return st.one_of(one, st.lists(st.one_of(number, span), min_size=2, max_size=3).map(",".join))


CRON = st.one_of(
    st.tuples(_cron_field(0, 59), _cron_field(0, 23), _cron_field(1, 28), _cron_field(1, 12), _cron_field(0, 6)).map(
        " ".join
    ),
    st.sampled_from(["@hourly", "@daily", "@weekly", "@monthly", "@yearly"]),
)
ZONES = st.sampled_from(sorted(zoneinfo.available_timezones() - {"Factory", "localtime"}))
FUTURE = st.integers(60, 10 * 365 * 86400).map(
    lambda s: (datetime.now(timezone.utc) + timedelta(seconds=s)).isoformat(timespec="seconds")
)

schemathesis.openapi.format("cron", CRON)
schemathesis.openapi.format("iana-time-zone", ZONES)
schemathesis.openapi.format("date-time", FUTURE)
#: ``when`` (GET /api/v1/usage's since and until): the forms `symbi usage --since` reads.
WHEN = st.one_of(
    st.integers(1, 400).map(lambda n: f"{n}d"),
    st.sampled_from(["yesterday", "today", "2 weeks ago", "1h"]),
    st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2100, 1, 1).date()).map(str),
)
schemathesis.openapi.format("when", WHEN)


def test_every_operation_answers_as_its_document_says(server, app, http):
    from hypothesis import given

    from symbi_cron.services import jobs

    jobs.create_job(app, {"name": "seed", "agent_id": "a", "cron_expr": "0 * * * *"})
    app.settings.custom_channels = {"pager": "/bin/true"}  # the document lists custom:pager, and only it
    schema = schemathesis.openapi.from_dict(http("GET", "/api/v1/openapi.json", auth=False).body)
    headers = {"Authorization": f"Bearer {server.key}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            # A cursor is an opaque token: only one the server handed out is valid, which no schema can say
            # (test_pagination.py covers cursors, forged ones included).
            if case.query:
                case.query.pop("cursor", None)
            case.call_and_validate(base_url=server.url, headers=headers)

        try:
            fuzz()
        except BaseException as exc:  # every operation is tried; all the mismatches are reported together
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failures[operation.label] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
