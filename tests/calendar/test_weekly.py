"""Weekly recurring windows expanded into UTC intervals, across DST and holidays."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snp.calendar import (
    NaiveDatetimeError,
    UnknownDepartementError,
    weekly_occurrences,
)

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# (DST Sunday, UTC offset in hours before, after) — real Europe/Paris dates.
TRANSITIONS = [
    (date(2026, 3, 29), 1, 2),
    (date(2026, 10, 25), 2, 1),
    (date(2027, 3, 28), 1, 2),
    (date(2027, 10, 31), 2, 1),
]


@pytest.mark.parametrize(("sunday", "before", "after"), TRANSITIONS)
@pytest.mark.parametrize("weekday", [0, 2, 5, 6])
def test_weekly_0900_plage_stays_0900_local(
    sunday: date, before: int, after: int, weekday: int
) -> None:
    occurrences = weekly_occurrences(
        weekday,
        time(9),
        time(12),
        PARIS,
        datetime.combine(sunday - timedelta(days=14), time(0), tzinfo=UTC),
        datetime.combine(sunday + timedelta(days=14), time(0), tzinfo=UTC),
    )
    assert len(occurrences) == 4
    for start, end in occurrences:
        local_start, local_end = start.astimezone(PARIS), end.astimezone(PARIS)
        assert local_start.weekday() == weekday
        assert (local_start.hour, local_start.minute) == (9, 0)
        assert (local_end.hour, local_end.minute) == (12, 0)
        assert end - start == timedelta(hours=3)
        # The UTC time moves with the offset: 08:00/07:00 UTC in winter/summer.
        expected_offset = before if start.date() < sunday else after
        assert start.hour == 9 - expected_offset
        assert start.tzinfo is UTC


@pytest.mark.parametrize(("sunday", "_b", "_a"), TRANSITIONS)
def test_plage_on_the_dst_sunday_itself(sunday: date, _b: int, _a: int) -> None:
    ((start, end),) = weekly_occurrences(
        6,
        time(9),
        time(12),
        PARIS,
        datetime.combine(sunday, time(0), tzinfo=UTC),
        datetime.combine(sunday + timedelta(days=1), time(0), tzinfo=UTC),
    )
    assert start.astimezone(PARIS).time() == time(9)
    assert end - start == timedelta(hours=3)


@pytest.mark.parametrize("sunday", [date(2026, 3, 29), date(2027, 3, 28)])
def test_spring_forward_night_window(sunday: date) -> None:
    day_range = (
        datetime.combine(sunday - timedelta(days=1), time(0), tzinfo=UTC),
        datetime.combine(sunday + timedelta(days=1), time(0), tzinfo=UTC),
    )
    # 01:30–03:30 local lasts one real hour that night.
    ((start, end),) = weekly_occurrences(6, time(1, 30), time(3, 30), PARIS, *day_range)
    assert start == datetime.combine(sunday, time(0, 30), tzinfo=UTC)
    assert end == datetime.combine(sunday, time(1, 30), tzinfo=UTC)
    # 02:30–04:00: the nonexistent start shifts forward to the end of the gap, 03:00.
    ((start, end),) = weekly_occurrences(6, time(2, 30), time(4), PARIS, *day_range)
    assert start.astimezone(PARIS).time() == time(3)
    assert end - start == timedelta(hours=1)
    # 02:30–03:15 keeps the quarter of an hour the clock shows: 03:00–03:15.
    ((start, end),) = weekly_occurrences(6, time(2, 30), time(3, 15), PARIS, *day_range)
    assert start == datetime.combine(sunday, time(1), tzinfo=UTC)
    assert end - start == timedelta(minutes=15)
    # 02:00–02:45 lies wholly in the gap: the occurrence vanishes that week only.
    assert weekly_occurrences(6, time(2), time(2, 45), PARIS, *day_range) == []
    week_later = (day_range[0] + timedelta(days=7), day_range[1] + timedelta(days=7))
    assert len(weekly_occurrences(6, time(2), time(2, 45), PARIS, *week_later)) == 1


@pytest.mark.parametrize("sunday", [date(2026, 10, 25), date(2027, 10, 31)])
def test_fall_back_night_window(sunday: date) -> None:
    day_range = (
        datetime.combine(sunday - timedelta(days=1), time(0), tzinfo=UTC),
        datetime.combine(sunday + timedelta(days=1), time(0), tzinfo=UTC),
    )
    # 02:30 is ambiguous: the first occurrence (+02:00) is taken; 03:30 is +01:00.
    ((start, end),) = weekly_occurrences(6, time(2, 30), time(3, 30), PARIS, *day_range)
    assert start == datetime.combine(sunday, time(0, 30), tzinfo=UTC)
    assert end == datetime.combine(sunday, time(2, 30), tzinfo=UTC)
    assert end - start == timedelta(hours=2)  # the night is one hour longer


def test_overseas_zone_has_fixed_utc_times() -> None:
    occurrences = weekly_occurrences(
        1, time(9), time(12), REUNION, utc(2026, 1, 1), utc(2027, 1, 1)
    )
    assert len(occurrences) == 52
    assert {start.time() for start, _ in occurrences} == {time(5)}


def test_holidays_are_skipped_when_asked() -> None:
    # Tuesday 14 July 2026.
    window = (utc(2026, 7, 6), utc(2026, 7, 27))
    with_holiday = weekly_occurrences(1, time(9), time(12), PARIS, *window)
    assert [start.date() for start, _ in with_holiday] == [
        date(2026, 7, 7),
        date(2026, 7, 14),
        date(2026, 7, 21),
    ]
    skipped = weekly_occurrences(1, time(9), time(12), PARIS, *window, skip_holidays_of="75")
    assert [start.date() for start, _ in skipped] == [date(2026, 7, 7), date(2026, 7, 21)]


def test_alsace_saint_etienne_skipped_only_in_alsace() -> None:
    # Saturday 26 December 2026.
    window = (utc(2026, 12, 26), utc(2026, 12, 27))
    assert weekly_occurrences(5, time(9), time(12), PARIS, *window, skip_holidays_of="67") == []
    assert len(weekly_occurrences(5, time(9), time(12), PARIS, *window, skip_holidays_of="75")) == 1


def test_range_is_half_open_and_occurrences_are_whole() -> None:
    # Monday 2026-06-15 09:00–12:00 Paris = 07:00–10:00 UTC.
    in_progress = weekly_occurrences(
        0, time(9), time(12), PARIS, utc(2026, 6, 15, 8), utc(2026, 6, 15, 9)
    )
    assert in_progress == [(utc(2026, 6, 15, 7), utc(2026, 6, 15, 10))]
    assert (
        weekly_occurrences(0, time(9), time(12), PARIS, utc(2026, 6, 15, 10), utc(2026, 6, 16))
        == []
    )
    assert (
        weekly_occurrences(0, time(9), time(12), PARIS, utc(2026, 6, 14), utc(2026, 6, 15, 7)) == []
    )
    assert weekly_occurrences(0, time(9), time(12), PARIS, utc(2026, 6, 20), utc(2026, 6, 10)) == []


def test_local_dates_at_range_edges() -> None:
    # 22:30 UTC Sunday is already Monday 00:30 in Paris: a Monday 00:30–01:00 window counts.
    occurrences = weekly_occurrences(
        0, time(0, 30), time(1), PARIS, utc(2026, 6, 14, 22), utc(2026, 6, 14, 23)
    )
    assert occurrences == [(utc(2026, 6, 14, 22, 30), utc(2026, 6, 14, 23))]


@pytest.mark.parametrize(
    ("start", "end"), [(time(20), time(2)), (time(9), time(9)), (time(12), time(9))]
)
def test_window_must_stay_within_one_day(start: time, end: time) -> None:
    with pytest.raises(ValueError, match="split a window crossing midnight"):
        weekly_occurrences(0, start, end, PARIS, utc(2026, 1, 1), utc(2026, 2, 1))


@pytest.mark.parametrize("weekday", [-1, 7, True])
def test_weekday_is_checked(weekday: int) -> None:
    with pytest.raises(ValueError, match="weekday"):
        weekly_occurrences(weekday, time(9), time(12), PARIS, utc(2026, 1, 1), utc(2026, 2, 1))


def test_naive_bounds_and_bad_departement_are_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="from_utc"):
        weekly_occurrences(0, time(9), time(12), PARIS, datetime(2026, 1, 1), utc(2026, 2, 1))
    with pytest.raises(UnknownDepartementError):
        weekly_occurrences(
            0, time(9), time(12), PARIS, utc(2026, 1, 1), utc(2026, 2, 1), skip_holidays_of="20"
        )


@settings(max_examples=150, deadline=None)
@given(
    weekday=st.integers(0, 6),
    start_minute=st.integers(4 * 60, 22 * 60),  # outside the 02:00–03:00 DST hour
    length=st.integers(15, 120),
    first=st.dates(date(2026, 1, 1), date(2028, 12, 31)),
    weeks=st.integers(1, 10),
    zone=st.sampled_from(["Europe/Paris", "Indian/Reunion", "America/Guadeloupe"]),
)
def test_property_local_clock_is_preserved(
    weekday: int, start_minute: int, length: int, first: date, weeks: int, zone: str
) -> None:
    tz = ZoneInfo(zone)
    start_time = time(start_minute // 60, start_minute % 60)
    end_minute = min(start_minute + length, 23 * 60 + 59)
    end_time = time(end_minute // 60, end_minute % 60)
    from_utc = datetime.combine(first, time(0), tzinfo=UTC)
    to_utc = from_utc + timedelta(weeks=weeks)
    occurrences = weekly_occurrences(weekday, start_time, end_time, tz, from_utc, to_utc)
    assert weeks - 1 <= len(occurrences) <= weeks + 1
    for (start, end), (next_start, _) in itertools.pairwise(occurrences):
        # Consecutive weeks are 7 local days apart: 168 h ± the one-hour DST shift.
        assert abs(next_start - start - timedelta(days=7)) <= timedelta(hours=1)
        assert start < end
    for start, end in occurrences:
        assert start < to_utc
        assert end > from_utc
        local = start.astimezone(tz)
        assert local.weekday() == weekday
        assert local.time() == start_time
        assert end.astimezone(tz).time() == end_time
