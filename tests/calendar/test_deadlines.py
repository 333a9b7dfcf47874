"""Priority classes and their deadlines, around 18:00/20:00, weekends, holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from snp.calendar import (
    DEFAULT_PRIORITY_POLICY,
    CptsCalendar,
    DeadlineRule,
    DefaultPriority,
    NaiveDatetimeError,
    OutOfHoursError,
    PriorityClass,
    PriorityPolicy,
    UnknownPriorityError,
    is_office_time,
)

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")
URGENT = DefaultPriority.URGENT_SAME_DAY
SAME_DAY = DefaultPriority.SAME_DAY
WITHIN_48H = DefaultPriority.WITHIN_48H
PARIS_CPTS = CptsCalendar(departement_code="75")


def paris(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def deadline_local(priority: str, received: datetime, cpts: CptsCalendar = PARIS_CPTS) -> datetime:
    result = cpts.deadline(priority, received.astimezone(UTC))
    assert result.tzinfo is UTC
    assert result > received
    return result.astimezone(cpts.tz)


# ---------------------------------------------------------------- urgent_same_day

# Tuesday 16 June 2026, an ordinary working day.


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (paris(2026, 6, 16, 8), paris(2026, 6, 16, 12)),
        (paris(2026, 6, 16, 10, 15), paris(2026, 6, 16, 14, 15)),
        (paris(2026, 6, 16, 15, 59), paris(2026, 6, 16, 19, 59)),
        (paris(2026, 6, 16, 16), paris(2026, 6, 16, 20)),
        (paris(2026, 6, 16, 17), paris(2026, 6, 16, 20)),  # capped by the closing
        (paris(2026, 6, 16, 19, 59), paris(2026, 6, 16, 20)),
        (paris(2026, 6, 20, 14), paris(2026, 6, 20, 18)),  # Saturday afternoon
        (paris(2026, 6, 21, 10), paris(2026, 6, 21, 14)),  # Sunday: rules are clock-based
    ],
)
def test_urgent_within_4h_and_before_20h(received: datetime, expected: datetime) -> None:
    assert deadline_local(URGENT, received) == expected


@pytest.mark.parametrize(
    "received",
    [paris(2026, 6, 16, 20), paris(2026, 6, 16, 21, 30), paris(2026, 6, 16, 23, 59)],
)
def test_urgent_after_closing_belongs_to_pdsa(received: datetime) -> None:
    with pytest.raises(OutOfHoursError, match=r"20:00 closing.*PDSA.*the 15"):
        PARIS_CPTS.deadline(URGENT, received.astimezone(UTC))


def test_urgent_before_opening_belongs_to_pdsa() -> None:
    with pytest.raises(OutOfHoursError, match=r"before 08:00.*PDSA"):
        PARIS_CPTS.deadline(URGENT, paris(2026, 6, 16, 7, 59).astimezone(UTC))


def test_out_of_hours_is_a_value_error() -> None:
    assert issubclass(OutOfHoursError, ValueError)


def test_urgent_in_reunion_uses_local_clock() -> None:
    reunion = CptsCalendar(departement_code="974")
    received = datetime(2026, 6, 16, 10, tzinfo=REUNION)  # 06:00 UTC
    assert reunion.deadline(URGENT, received.astimezone(UTC)) == datetime(
        2026, 6, 16, 10, tzinfo=UTC
    )
    # 17:00 in Réunion is 15:00 in Paris: still the Réunion closing applies.
    late = datetime(2026, 6, 16, 17, tzinfo=REUNION)
    assert reunion.deadline(URGENT, late) == datetime(2026, 6, 16, 20, tzinfo=REUNION)
    with pytest.raises(OutOfHoursError, match="Indian/Reunion"):
        reunion.deadline(URGENT, datetime(2026, 6, 16, 20, 30, tzinfo=REUNION))


# ----------------------------------------------------------------------- same_day


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (paris(2026, 6, 16, 0, 30), paris(2026, 6, 16, 20)),  # early: same day
        (paris(2026, 6, 16, 10), paris(2026, 6, 16, 20)),
        (paris(2026, 6, 16, 17, 59), paris(2026, 6, 16, 20)),
        (paris(2026, 6, 16, 18), paris(2026, 6, 17, 12)),  # 18:00 is the first rolled instant
        (paris(2026, 6, 16, 19, 30), paris(2026, 6, 17, 12)),
        (paris(2026, 6, 16, 23, 30), paris(2026, 6, 17, 12)),
        (paris(2026, 6, 19, 18, 30), paris(2026, 6, 20, 12)),  # Friday → Saturday
        (paris(2026, 6, 20, 11), paris(2026, 6, 20, 20)),  # Saturday morning
        (paris(2026, 6, 20, 14), paris(2026, 6, 20, 20)),  # Saturday afternoon: 20:00 stands
        (paris(2026, 6, 20, 19), paris(2026, 6, 22, 12)),  # Saturday evening → Monday
        (paris(2026, 6, 21, 10), paris(2026, 6, 21, 20)),  # Sunday morning
        (paris(2026, 6, 21, 19), paris(2026, 6, 22, 12)),  # Sunday evening → Monday
        (paris(2026, 7, 13, 19), paris(2026, 7, 15, 12)),  # 14 July skipped
    ],
)
def test_same_day(received: datetime, expected: datetime) -> None:
    assert deadline_local(SAME_DAY, received) == expected


def test_same_day_rollover_skips_local_holidays_only() -> None:
    # Thursday 2 April 2026, 19:00; Good Friday is a holiday in Alsace only.
    received = paris(2026, 4, 2, 19)
    assert deadline_local(SAME_DAY, received) == paris(2026, 4, 3, 12)
    alsace = CptsCalendar(departement_code="67")
    assert deadline_local(SAME_DAY, received, alsace) == paris(2026, 4, 4, 12)


@pytest.mark.parametrize(
    "received",
    [
        paris(2027, 5, 7, 19),  # Friday; Saturday 8 May is a holiday, then Sunday
        paris(2026, 4, 4, 19),  # Saturday; Sunday, then Easter Monday
        paris(2027, 12, 24, 18, 30),  # Friday; Christmas Saturday, then Sunday
    ],
)
def test_same_day_rollover_is_capped_at_48h(received: datetime) -> None:
    # The next office day at 12:00 would be more than 48 h away: SNP's horizon wins.
    assert deadline_local(SAME_DAY, received) == received + timedelta(hours=48)


# --------------------------------------------------------------------- within_48h


def test_within_48h_is_wall_clock() -> None:
    received = paris(2026, 6, 19, 21, 10)  # Friday evening: no office constraint
    assert deadline_local(WITHIN_48H, received) == paris(2026, 6, 21, 21, 10)


@pytest.mark.parametrize(
    ("received", "expected_local"),
    [
        # Saturday 10:00 CET before spring-forward: 48 real hours later it is 11:00 CEST.
        (paris(2026, 3, 28, 10), paris(2026, 3, 30, 11)),
        (paris(2027, 3, 27, 10), paris(2027, 3, 29, 11)),
        # Saturday 10:00 CEST before fall-back: 48 real hours later it is 09:00 CET.
        (paris(2026, 10, 24, 10), paris(2026, 10, 26, 9)),
        (paris(2027, 10, 30, 10), paris(2027, 11, 1, 9)),
    ],
)
def test_within_48h_counts_elapsed_time_across_dst(
    received: datetime, expected_local: datetime
) -> None:
    result = PARIS_CPTS.deadline(WITHIN_48H, received.astimezone(UTC))
    assert result - received == timedelta(hours=48)
    assert result == expected_local
    assert result.astimezone(PARIS).hour == expected_local.hour


def test_same_day_closing_keeps_local_clock_on_dst_day() -> None:
    # Spring-forward Sunday: 20:00 local is 18:00 UTC (not 19:00).
    result = PARIS_CPTS.deadline(SAME_DAY, paris(2026, 3, 29, 10).astimezone(UTC))
    assert result == datetime(2026, 3, 29, 18, tzinfo=UTC)


# ------------------------------------------------------------------ policy & errors


def test_unknown_priority_lists_valid_names() -> None:
    with pytest.raises(UnknownPriorityError) as caught:
        PARIS_CPTS.deadline("asap", datetime(2026, 6, 16, 8, tzinfo=UTC))
    message = str(caught.value)
    assert "'asap'" in message
    for name in ("urgent_same_day", "same_day", "within_48h"):
        assert name in message
    assert isinstance(caught.value, ValueError)


def test_naive_received_time_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        PARIS_CPTS.deadline(SAME_DAY, datetime(2026, 6, 16, 10))


def test_plain_strings_and_enum_are_equivalent() -> None:
    received = datetime(2026, 6, 16, 8, tzinfo=UTC)
    assert PARIS_CPTS.deadline("same_day", received) == PARIS_CPTS.deadline(SAME_DAY, received)
    assert DEFAULT_PRIORITY_POLICY.names == ("urgent_same_day", "same_day", "within_48h")


def test_custom_policy_from_json() -> None:
    cpts = CptsCalendar.model_validate(
        {
            "departement_code": "971",
            "priorities": {
                "classes": [
                    {
                        "name": "urgent_2h",
                        "label": "Urgent (2 h)",
                        "rule": {
                            "max_delay": "PT2H",
                            "closing_time": "19:00",
                            "office_days_only": True,
                        },
                    },
                    {"name": "within_24h", "rule": {"max_delay": 86400}},
                ]
            },
        }
    )
    guadeloupe = ZoneInfo("America/Guadeloupe")
    received = datetime(2026, 6, 16, 17, 30, tzinfo=guadeloupe)
    assert cpts.deadline("urgent_2h", received) == datetime(2026, 6, 16, 19, tzinfo=guadeloupe)
    assert cpts.deadline("within_24h", received) == received + timedelta(hours=24)
    # 27 May 2027 is a holiday in Guadeloupe: office_days_only refuses it.
    with pytest.raises(OutOfHoursError, match="day without office hours"):
        cpts.deadline("urgent_2h", datetime(2027, 5, 27, 10, tzinfo=guadeloupe))
    with pytest.raises(UnknownPriorityError, match="urgent_2h, within_24h"):
        cpts.deadline("same_day", received)


def test_policy_horizon_is_configurable() -> None:
    policy = PriorityPolicy(
        classes=(PriorityClass(name="week", rule=DeadlineRule(max_delay=timedelta(days=7))),),
        horizon=timedelta(hours=72),
    )
    received = datetime(2026, 6, 16, 8, tzinfo=UTC)
    assert policy.deadline("week", received, PARIS) == received + timedelta(hours=72)


@pytest.mark.parametrize(
    "rule",
    [
        {},
        {"max_delay": "PT0S"},
        {"max_delay": "-PT1H"},
        {"closing_time": "20:00", "rollover_after": "18:00"},
        {"closing_time": "20:00+02:00"},
        {"max_delay": "PT1H", "unknown": 1},
    ],
)
def test_invalid_rules_are_refused(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DeadlineRule.model_validate(rule)


def test_invalid_policies_are_refused() -> None:
    rule = DeadlineRule(max_delay=timedelta(hours=1))
    with pytest.raises(ValidationError, match="unique"):
        PriorityPolicy(
            classes=(PriorityClass(name="a", rule=rule), PriorityClass(name="a", rule=rule))
        )
    with pytest.raises(ValidationError):
        PriorityPolicy(classes=())
    with pytest.raises(ValidationError):
        PriorityClass(name="Not Snake", rule=rule)
    with pytest.raises(ValidationError, match="horizon"):
        PriorityPolicy(classes=(PriorityClass(name="a", rule=rule),), horizon=timedelta(0))


# --------------------------------------------------------------------- properties

DEPARTEMENTS = ["75", "67", "57", "2A", "971", "972", "973", "974", "976"]


@st.composite
def receptions(draw: st.DrawFn) -> tuple[CptsCalendar, datetime]:
    cpts = CptsCalendar(departement_code=draw(st.sampled_from(DEPARTEMENTS)))
    day = draw(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    minute = draw(st.integers(0, 24 * 60 - 1))
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=cpts.tz)
    return cpts, local.astimezone(UTC)


@st.composite
def office_receptions(draw: st.DrawFn) -> tuple[CptsCalendar, datetime]:
    # Built inside the office windows rather than filtered, so Hypothesis does not
    # discard two thirds of its draws (Sundays and holidays are still filtered).
    cpts = CptsCalendar(departement_code=draw(st.sampled_from(DEPARTEMENTS)))
    day = draw(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    windows = cpts.office_windows(day)
    assume(windows)
    start, end = draw(st.sampled_from(windows))
    seconds = draw(st.integers(0, int((end - start).total_seconds()) - 1))
    return cpts, start + timedelta(seconds=seconds)


@settings(max_examples=300, deadline=None)
@given(reception=office_receptions(), priority=st.sampled_from(list(DefaultPriority)))
def test_property_office_hours_deadline_within_48h(
    reception: tuple[CptsCalendar, datetime], priority: DefaultPriority
) -> None:
    cpts, received = reception
    assert is_office_time(received, cpts.tz, holidays_of=cpts.departement_code)
    result = cpts.deadline(priority, received)
    assert result.tzinfo is UTC
    assert received < result <= received + timedelta(hours=48)


@settings(max_examples=300, deadline=None)
@given(reception=receptions())
def test_property_classes_are_ordered(reception: tuple[CptsCalendar, datetime]) -> None:
    # A more urgent class never gets a later deadline; same_day and within_48h are
    # defined at any hour and stay within the horizon.
    cpts, received = reception
    same_day = cpts.deadline(SAME_DAY, received)
    within_48h = cpts.deadline(WITHIN_48H, received)
    assert received < same_day <= within_48h == received + timedelta(hours=48)
    try:
        urgent = cpts.deadline(URGENT, received)
    except OutOfHoursError:
        local = received.astimezone(cpts.tz).time()
        assert not time(8) <= local < time(20)
    else:
        assert received < urgent <= same_day
        assert urgent <= received + timedelta(hours=4)
