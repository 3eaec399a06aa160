"""The cron engine (SPEC §3): syntax, day rules, extensions, errors, describe(). DST: test_timing_dst.py."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from symbi_cron.errors import CronError, InvalidInput
from symbi_cron.timing import CronExpr, describe, next_times, parse

UTC = timezone.utc
JAN_1_2026 = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def fires(expr: str, count: int, after: datetime = JAN_1_2026) -> list[str]:
    """The next fire times in UTC as compact strings."""
    return [t.strftime("%Y-%m-%d %H:%M") for t in next_times(expr, UTC, after, count)]


def days(expr: str, count: int, after: datetime = JAN_1_2026) -> list[str]:
    return [t.strftime("%Y-%m-%d %a") for t in next_times(expr, UTC, after, count)]


# -- syntax --------------------------------------------------------------------------------------------------


def test_step_seven_wraps_at_the_hour() -> None:
    got = [t[-2:] for t in fires("*/7 * * * *", 10, datetime(2026, 1, 1, 0, 0, tzinfo=UTC))]
    assert got == ["07", "14", "21", "28", "35", "42", "49", "56", "00", "07"]
    assert fires("*/7 * * * *", 2, datetime(2026, 1, 1, 0, 56, tzinfo=UTC)) == [
        "2026-01-01 01:00",
        "2026-01-01 01:07",
    ]


@pytest.mark.parametrize(
    ("expr", "expected_minutes"),
    [
        pytest.param("5-10/2 * * * *", ["05", "07", "09", "05"], id="range_with_step"),
        pytest.param("10/5 * * * *", ["10", "15", "20", "25"], id="start_with_step_runs_to_max"),
        pytest.param("50/5 * * * *", ["50", "55", "50", "55"], id="start_with_step_wraps_hour"),
        pytest.param("1,2,59 * * * *", ["01", "02", "59", "01"], id="list"),
        pytest.param("0-4,30 * * * *", ["01", "02", "03", "04"], id="range_and_value"),
    ],
)
def test_minute_syntax(expr: str, expected_minutes: list[str]) -> None:
    assert [t[-2:] for t in fires(expr, 4)] == expected_minutes


def test_strictly_after_and_seconds_ignored() -> None:
    at = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert next_times("0 9 * * *", UTC, at, 1)[0] == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    just_before = datetime(2026, 1, 1, 8, 59, 59, 999999, tzinfo=UTC)
    assert next_times("0 9 * * *", UTC, just_before, 1)[0] == at
    assert next_times("* * * * *", UTC, datetime(2026, 1, 1, 8, 59, 30, tzinfo=UTC), 1)[0] == at


@pytest.mark.parametrize("dow", ["0", "7", "sun", "SUN", "Sun"])
def test_sunday_as_0_and_7_and_name(dow: str) -> None:
    assert days(f"0 0 * * {dow}", 2) == ["2026-01-04 Sun", "2026-01-11 Sun"]


def test_range_ending_in_7_includes_sunday() -> None:
    assert days("0 0 * * 5-7", 4) == ["2026-01-02 Fri", "2026-01-03 Sat", "2026-01-04 Sun", "2026-01-09 Fri"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param("0 0 1 jan *", ["2026-01-01 Thu", "2027-01-01 Fri"], id="month_name"),
        pytest.param("0 0 1 JAN-mar *", ["2026-01-01 Thu", "2026-02-01 Sun"], id="month_name_range_mixed_case"),
        pytest.param("0 0 * * MON-FRI", ["2026-01-01 Thu", "2026-01-02 Fri"], id="day_name_range"),
        pytest.param("0 0 * * sat,Sun", ["2026-01-03 Sat", "2026-01-04 Sun"], id="day_name_list"),
        pytest.param("0 0 * * mon", ["2026-01-05 Mon", "2026-01-12 Mon"], id="day_name"),
    ],
)
def test_names(expr: str, expected: list[str]) -> None:
    # From just before midnight so that a match on Jan 1 counts.
    assert days(expr, 2, datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@hourly", ["2026-01-01 01:00", "2026-01-01 02:00"]),
        ("@daily", ["2026-01-02 00:00", "2026-01-03 00:00"]),
        ("@midnight", ["2026-01-02 00:00", "2026-01-03 00:00"]),
        ("@weekly", ["2026-01-04 00:00", "2026-01-11 00:00"]),
        ("@monthly", ["2026-02-01 00:00", "2026-03-01 00:00"]),
        ("@yearly", ["2027-01-01 00:00", "2028-01-01 00:00"]),
        ("@annually", ["2027-01-01 00:00", "2028-01-01 00:00"]),
        ("@DAILY", ["2026-01-02 00:00", "2026-01-03 00:00"]),
    ],
)
def test_macros(macro: str, expected: list[str]) -> None:
    assert fires(macro, 2) == expected
    assert parse(macro).expr == macro


# -- day rules -----------------------------------------------------------------------------------------------


def test_or_rule_when_both_day_fields_are_restricted() -> None:
    # The 13th OR any Friday (not "Friday the 13th").
    assert days("0 0 13 * 5", 4) == ["2026-01-02 Fri", "2026-01-09 Fri", "2026-01-13 Tue", "2026-01-16 Fri"]


def test_or_rule_first_seven_days_or_monday() -> None:
    # The classic surprise: "1-7 * 1" is the first week OR every Monday, not the first Monday.
    assert days("0 0 1-7 * 1", 9) == [
        "2026-01-02 Fri",
        "2026-01-03 Sat",
        "2026-01-04 Sun",
        "2026-01-05 Mon",
        "2026-01-06 Tue",
        "2026-01-07 Wed",
        "2026-01-12 Mon",
        "2026-01-19 Mon",
        "2026-01-26 Mon",
    ]


def test_and_rule_when_a_day_field_starts_with_star() -> None:
    # Debian: a day field starting with `*` (here */10 = days 1, 11, 21, 31) means both must match.
    assert days("0 0 */10 * 1", 4) == ["2026-05-11 Mon", "2026-06-01 Mon", "2026-08-31 Mon", "2026-09-21 Mon"]


def test_star_day_of_week_and_day_of_month_combine_as_and() -> None:
    assert days("0 0 1 * *", 2) == ["2026-02-01 Sun", "2026-03-01 Sun"]
    assert days("0 0 * * 2", 2) == ["2026-01-06 Tue", "2026-01-13 Tue"]


def test_question_mark_is_a_star_in_day_fields() -> None:
    assert fires("0 0 ? * 1", 2) == fires("0 0 * * 1", 2)
    assert fires("0 0 1 * ?", 2) == fires("0 0 1 * *", 2)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(datetime(2026, 1, 1, tzinfo=UTC), "2028-02-29", id="from_2026"),
        pytest.param(datetime(2028, 2, 29, tzinfo=UTC), "2032-02-29", id="from_a_leap_day"),
        pytest.param(datetime(2097, 1, 1, tzinfo=UTC), "2104-02-29", id="2100_is_not_leap"),
    ],
)
def test_leap_day(after: datetime, expected: str) -> None:
    assert next_times("0 0 29 2 *", UTC, after, 1)[0].date().isoformat() == expected


# -- extensions ----------------------------------------------------------------------------------------------


def test_last_day_of_month() -> None:
    assert days("0 0 L * *", 4) == ["2026-01-31 Sat", "2026-02-28 Sat", "2026-03-31 Tue", "2026-04-30 Thu"]
    assert days("0 0 L 2 *", 3) == ["2026-02-28 Sat", "2027-02-28 Sun", "2028-02-29 Tue"]


def test_last_day_minus_offset() -> None:
    assert days("0 0 L-3 * *", 2) == ["2026-01-28 Wed", "2026-02-25 Wed"]


def test_last_friday() -> None:
    assert days("0 0 * * 5L", 3) == ["2026-01-30 Fri", "2026-02-27 Fri", "2026-03-27 Fri"]
    assert days("0 0 * * friL", 1) == ["2026-01-30 Fri"]


def test_nearest_weekday() -> None:
    # 2026-03-15 is a Sunday -> Monday 16th; 2026-02-15 Sunday -> 16th; 2026-08-15 Saturday -> Friday 14th.
    got = days("0 0 15W * *", 12)
    assert got[1] == "2026-02-16 Mon" and got[2] == "2026-03-16 Mon" and got[7] == "2026-08-14 Fri"
    assert all(not d.endswith(("Sat", "Sun")) for d in got)


def test_nearest_weekday_never_leaves_the_month() -> None:
    assert date(2026, 8, 1).weekday() == 5 and date(2026, 5, 31).weekday() == 6  # Saturday, Sunday
    assert days("0 0 1W 8 *", 1) == ["2026-08-03 Mon"]  # not Friday July 31
    assert days("0 0 31W 5 *", 1) == ["2026-05-29 Fri"]  # not Monday June 1


def test_nearest_weekday_skips_months_without_that_day() -> None:
    assert [d[:7] for d in days("0 0 31W * *", 3)] == ["2026-01", "2026-03", "2026-05"]


def test_last_weekday() -> None:
    # Jan 31 2026 is a Saturday -> 30th; May 31 2026 is a Sunday -> 29th.
    got = days("0 0 LW * *", 5)
    assert got == ["2026-01-30 Fri", "2026-02-27 Fri", "2026-03-31 Tue", "2026-04-30 Thu", "2026-05-29 Fri"]


def test_third_friday() -> None:
    assert days("0 0 * * 5#3", 3) == ["2026-01-16 Fri", "2026-02-20 Fri", "2026-03-20 Fri"]
    assert days("0 0 * * FRI#3", 1) == ["2026-01-16 Fri"]


def test_fifth_friday_skips_months_without_one() -> None:
    assert days("0 0 * * 5#5", 4) == ["2026-01-30 Fri", "2026-05-29 Fri", "2026-07-31 Fri", "2026-10-30 Fri"]


def test_rare_expression_terminates_quickly() -> None:
    # February 29 that is also a Sunday (`*/7` starts with `*`, so both day fields must match): every 28 years
    # or so, and 40 across 2100, which is not a leap year.
    assert days("0 0 29 2 */7", 4) == ["2032-02-29 Sun", "2060-02-29 Sun", "2088-02-29 Sun", "2128-02-29 Sun"]


# -- errors --------------------------------------------------------------------------------------------------

INVALID = [
    ("minute_out_of_range", "60 * * * *", "minute", "60 is out of range 0-59"),
    ("hour_out_of_range", "0 24 * * *", "hour", "24 is out of range 0-23"),
    ("day_of_month_zero", "0 0 0 * *", "day of month", "0 is out of range 1-31"),
    ("day_of_month_32", "0 0 32 * *", "day of month", "32 is out of range 1-31"),
    ("month_13", "0 0 1 13 *", "month", "13 is out of range 1-12"),
    ("day_of_week_8", "0 0 * * 8", "day of week", "8 is out of range 0-7"),
    ("unknown_day_name", "0 0 * * fry", "day of week", 'unknown name "fry"'),
    ("unknown_month_name", "0 0 1 foo *", "month", 'unknown name "foo"'),
    ("name_in_minute", "mon * * * *", "minute", '"mon" is not a number'),
    ("step_zero", "*/0 * * * *", "minute", "step 0 must be at least 1"),
    ("step_too_big", "*/61 * * * *", "minute", "step 61 is larger than the range 0-59"),
    ("step_not_a_number", "*/x * * * *", "minute", "is not a number after /"),
    ("reversed_range", "5-1 * * * *", "minute", "range 5-1 is reversed"),
    ("reversed_day_range", "0 0 * * fri-mon", "day of week", "range 5-1 is reversed"),
    ("garbage", "abc * * * *", "minute", '"abc" is not a number'),
    ("negative", "-5 * * * *", "minute", "is not a number"),
    ("empty_list_item", "1,,2 * * * *", "minute", "empty item"),
    ("unicode_digit", "\u00b2 * * * *", "minute", "is not a number"),
    ("nth_zero", "0 0 * * 5#0", "day of week", "#0: the occurrence must be 1-5"),
    ("nth_six", "0 0 * * 5#6", "day of week", "#6: the occurrence must be 1-5"),
    ("hash_in_day_of_month", "0 0 5#3 * *", "day of month", "not valid here"),
    ("L_alone_in_day_of_week", "0 0 * * L", "day of week", '"L" alone is not valid here'),
    ("W_out_of_range", "0 0 32W * *", "day of month", "32W: the day must be 1-31"),
    ("question_mark_in_hour", "0 ? * * *", "hour", '"?" is only valid'),
    (
        "four_fields",
        "* * * *",
        "cron expression",
        "expected 5 fields (minute hour day-of-month month day-of-week), found 4",
    ),
    ("six_fields", "0 * * * * *", "cron expression", "found 6 (a seconds field is not supported)"),
    ("empty", "   ", "cron expression", "is empty"),
    ("reboot", "@reboot", "cron expression", "@reboot is not supported"),
    ("unknown_macro", "@fortnightly", "cron expression", 'unknown macro "@fortnightly"'),
    ("never_feb_30", "0 0 30 2 *", "day of month", "30 never occurs in Feb: the expression can never fire"),
    ("never_apr_31", "0 0 31 4 *", "day of month", "31 never occurs in Apr"),
    (
        "never_31_in_30_day_months",
        "0 0 31 4,6,9,11 *",
        "day of month",
        "31 never occurs in Apr, Jun, Sep, Nov",
    ),
    ("never_5th_friday_in_short_feb_and", "0 0 */31 2 5#5", "day of week", "never falls on 5#5"),
]


@pytest.mark.parametrize(("expr", "field", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_expression(expr: str, field: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse(expr)
    assert info.value.field == field
    assert message in info.value.message
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, InvalidInput) and info.value.exit_code == 2


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param("0 0 29 2 *", id="feb_29_leap_years"),
        pytest.param("0 0 31 1-12 *", id="31_with_some_long_months"),
        pytest.param("0 0 30 2 5", id="feb_30_or_friday"),
        pytest.param("0 0 * 2 5#5", id="fifth_friday_of_february_in_leap_years"),
        pytest.param("0 0 L-30 1 *", id="l_minus_30_in_january"),
    ],
)
def test_rare_but_valid(expr: str) -> None:
    assert len(next_times(expr, UTC, JAN_1_2026, 2)) == 2


def test_parse_is_cached_and_immutable_shape() -> None:
    assert parse("*/5 * * * *") is parse("*/5 * * * *")
    c = parse("*/5 * * * *")
    assert isinstance(c, CronExpr) and c.expr == "*/5 * * * *"
    assert parse("0 9 * * 1-5") == CronExpr("0  9 * * 1-5")


def test_naive_after_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse("* * * * *").next_after(datetime(2026, 1, 1), UTC)


def test_end_of_time_is_a_clear_error() -> None:
    with pytest.raises(CronError, match="year 10000"):
        next_times("0 0 1 1 *", UTC, datetime(9999, 6, 1, tzinfo=UTC), 1)


def test_next_times_accepts_a_zone_name() -> None:
    got = next_times("0 9 * * *", "Europe/Madrid", JAN_1_2026, 1)
    assert got == [datetime(2026, 1, 1, 8, 0, tzinfo=UTC)]


# -- describe ------------------------------------------------------------------------------------------------

DESCRIBE = [
    ("weekdays_at_nine", "0 9 * * 1-5", "At 09:00, Monday through Friday"),
    ("every_15_minutes", "*/15 * * * *", "Every 15 minutes"),
    ("every_minute", "* * * * *", "Every minute"),
    ("last_day", "0 0 L * *", "At 00:00 on the last day of the month"),
    ("hourly", "@hourly", "At the start of every hour"),
    ("daily", "@daily", "At 00:00"),
    ("weekly", "@weekly", "At 00:00 on Sunday"),
    ("monthly", "@monthly", "At 00:00 on day 1 of the month"),
    ("yearly", "@yearly", "At 00:00 on day 1 of the month in January"),
    ("two_times", "0 9,17 * * *", "At 09:00 and 17:00"),
    ("minutes_past_hour", "15,45 * * * *", "At minutes 15 and 45 past every hour"),
    ("every_two_hours", "0 */2 * * *", "Every 2 hours"),
    ("nearest_weekday", "0 0 15W * *", "At 00:00 on the weekday nearest day 15 of the month"),
    ("last_weekday", "30 18 LW * *", "At 18:30 on the last weekday of the month"),
    ("third_friday", "0 9 * * 5#3", "At 09:00 on the third Friday of the month"),
    ("last_friday", "0 9 * * 5L", "At 09:00 on the last Friday of the month"),
    ("or_rule", "0 0 1,15 * 1", "At 00:00 on days 1 and 15 of the month or on Monday"),
    ("day_list", "0 8 * * mon,wed,fri", "At 08:00 on Monday, Wednesday and Friday"),
    ("month_range", "0 12 * jan-mar *", "At 12:00, January through March"),
    ("business_hours", "*/5 9-17 * * mon-fri", "Every 5 minutes, 09:00 through 17:00, Monday through Friday"),
]


@pytest.mark.parametrize(("expr", "text"), [c[1:] for c in DESCRIBE], ids=[c[0] for c in DESCRIBE])
def test_describe(expr: str, text: str) -> None:
    assert describe(expr) == text
