"""Time zones per département and the instant/local-time helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from snp.calendar import (
    DEPARTEMENT_TIME_ZONES,
    NaiveDatetimeError,
    UnknownDepartementError,
    local_date,
    local_day_number,
    local_iso_week,
    local_to_utc,
    normalize_departement,
    to_utc,
    zone_for_departement,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("code", "zone"),
    [
        ("75", "Europe/Paris"),
        ("01", "Europe/Paris"),
        ("95", "Europe/Paris"),
        ("2A", "Europe/Paris"),
        ("2B", "Europe/Paris"),
        ("971", "America/Guadeloupe"),
        ("972", "America/Martinique"),
        ("973", "America/Cayenne"),
        ("974", "Indian/Reunion"),
        ("976", "Indian/Mayotte"),
    ],
)
def test_zone_for_departement(code: str, zone: str) -> None:
    assert zone_for_departement(code) == ZoneInfo(zone)


def test_codes_are_normalised() -> None:
    assert normalize_departement("1") == "01"
    assert normalize_departement(" 2a ") == "2A"
    assert zone_for_departement("2b") == PARIS


@pytest.mark.parametrize("code", ["20", "96", "00", "975x", "979", "988", "", "Paris"])
def test_unknown_departement_is_refused(code: str) -> None:
    with pytest.raises(UnknownDepartementError, match="département code"):
        zone_for_departement(code)


def test_corsica_20_hints_at_2a_2b() -> None:
    with pytest.raises(ValueError, match="2A or 2B"):
        zone_for_departement("20")


def test_mapping_protocol() -> None:
    assert len(DEPARTEMENT_TIME_ZONES) == 96 + 8
    assert "974" in DEPARTEMENT_TIME_ZONES
    assert "2a" in DEPARTEMENT_TIME_ZONES
    assert "20" not in DEPARTEMENT_TIME_ZONES
    assert DEPARTEMENT_TIME_ZONES.get("20") is None
    assert dict(DEPARTEMENT_TIME_ZONES)["976"] == ZoneInfo("Indian/Mayotte")
    # The error stays readable even though it is a KeyError.
    with pytest.raises(KeyError) as caught:
        DEPARTEMENT_TIME_ZONES["99"]
    assert str(caught.value).startswith("unknown département code '99'")


@pytest.mark.parametrize(
    ("code", "hours"),
    [("974", 4), ("976", 3), ("971", -4), ("972", -4), ("973", -3)],
)
def test_overseas_zones_have_no_dst(code: str, hours: int) -> None:
    tz = zone_for_departement(code)
    for month in (1, 4, 7, 10):
        offset = datetime(2026, month, 15, 12, tzinfo=tz).utcoffset()
        assert offset == timedelta(hours=hours)


def test_paris_offsets_follow_dst() -> None:
    assert datetime(2026, 1, 15, 12, tzinfo=PARIS).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 7, 15, 12, tzinfo=PARIS).utcoffset() == timedelta(hours=2)


def test_to_utc_converts_and_refuses_naive() -> None:
    local = datetime(2026, 7, 14, 9, 0, tzinfo=PARIS)
    assert to_utc(local) == datetime(2026, 7, 14, 7, 0, tzinfo=UTC)
    assert to_utc(local).tzinfo is UTC
    fixed = datetime(2026, 7, 14, 9, 0, tzinfo=timezone(timedelta(hours=4)))
    assert to_utc(fixed) == datetime(2026, 7, 14, 5, 0, tzinfo=UTC)
    with pytest.raises(NaiveDatetimeError, match="no time zone"):
        to_utc(datetime(2026, 7, 14, 9, 0))


# The real Europe/Paris transitions of 2026 and 2027.
SPRING_FORWARD = [date(2026, 3, 29), date(2027, 3, 28)]
FALL_BACK = [date(2026, 10, 25), date(2027, 10, 31)]


@pytest.mark.parametrize("day", SPRING_FORWARD)
def test_nonexistent_local_time_shifts_forward(day: date) -> None:
    # 02:30 does not exist: clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC).
    # Every time in the gap moves to the end of the gap.
    for minute in (0, 1, 30, 59):
        instant = local_to_utc(day, time(2, minute), PARIS)
        assert instant == datetime.combine(day, time(1, 0), tzinfo=UTC)
    back = local_to_utc(day, time(2, 30, 15, 500), PARIS).astimezone(PARIS)
    assert (back.hour, back.minute, back.second) == (3, 0, 0)
    assert back.utcoffset() == timedelta(hours=2)
    # Bounds of the gap.
    assert local_to_utc(day, time(1, 59), PARIS) == datetime.combine(day, time(0, 59), tzinfo=UTC)
    assert local_to_utc(day, time(3, 0), PARIS) == datetime.combine(day, time(1, 0), tzinfo=UTC)


@pytest.mark.parametrize("day", FALL_BACK)
def test_ambiguous_local_time_takes_first_occurrence(day: date) -> None:
    # 02:30 happens twice: first at +02:00 (00:30 UTC), then at +01:00 (01:30 UTC).
    instant = local_to_utc(day, time(2, 30), PARIS)
    assert instant == datetime.combine(day, time(0, 30), tzinfo=UTC)
    assert instant.astimezone(PARIS).utcoffset() == timedelta(hours=2)
    # A fold=1 on the input is ignored: one rule for every caller.
    assert local_to_utc(day, time(2, 30, fold=1), PARIS) == instant
    assert local_to_utc(day, time(3, 0), PARIS) == datetime.combine(day, time(2, 0), tzinfo=UTC)


def test_local_to_utc_refuses_aware_times_and_datetimes() -> None:
    with pytest.raises(ValueError, match="without zone"):
        local_to_utc(date(2026, 1, 5), time(9, tzinfo=UTC), PARIS)
    with pytest.raises(TypeError, match="not a datetime"):
        local_to_utc(datetime(2026, 1, 5, 9), time(9), PARIS)


def test_local_day_number_uses_local_calendar() -> None:
    # 23:30 UTC on 31 Dec 1969 is already 1 Jan 1970 in Paris: day 0, not -1.
    assert local_day_number(datetime(1969, 12, 31, 23, 30, tzinfo=UTC), PARIS) == 0
    assert local_day_number(datetime(1970, 1, 1, 12, tzinfo=UTC), PARIS) == 0
    # 22:30 UTC in summer is 00:30 the next day in Paris.
    late = datetime(2026, 6, 16, 22, 30, tzinfo=UTC)
    expected = (date(2026, 6, 17) - date(1970, 1, 1)).days
    assert local_day_number(late, PARIS) == expected
    assert local_day_number(late, ZoneInfo("America/Guadeloupe")) == expected - 1
    assert local_date(late, PARIS) == date(2026, 6, 17)


def test_local_day_number_counts_days_across_dst() -> None:
    # The DST day is 23 h long but still one day.
    before = datetime(2026, 3, 28, 11, tzinfo=UTC)
    after = datetime(2026, 3, 30, 10, tzinfo=UTC)
    assert local_day_number(after, PARIS) - local_day_number(before, PARIS) == 2


def test_local_iso_week_uses_iso_year() -> None:
    # 1 Jan 2027 (Friday) belongs to ISO week 53 of 2026.
    assert local_iso_week(datetime(2027, 1, 1, 12, tzinfo=UTC), PARIS) == 202653
    # 23:30 UTC on 31 Dec 2027 is 1 Jan 2028 (Saturday) in Paris: still ISO 2027-W52.
    assert local_iso_week(datetime(2027, 12, 31, 23, 30, tzinfo=UTC), PARIS) == 202752
    # Sunday 23:30 UTC is Monday in Paris: the next week.
    assert local_iso_week(datetime(2026, 6, 14, 22, 30, tzinfo=UTC), PARIS) == 202625
    assert local_iso_week(datetime(2026, 6, 14, 21, 30, tzinfo=UTC), PARIS) == 202624


def test_helpers_refuse_naive() -> None:
    with pytest.raises(NaiveDatetimeError):
        local_day_number(datetime(2026, 1, 1), PARIS)
    with pytest.raises(NaiveDatetimeError):
        local_iso_week(datetime(2026, 1, 1), PARIS)
