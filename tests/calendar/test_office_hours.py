"""Office hours of a CPTS: per-weekday windows, holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from snp.calendar import (
    DEFAULT_OFFICE_HOURS,
    CptsCalendar,
    LocalWindow,
    OfficeHours,
    is_office_time,
    office_windows,
)

PARIS = ZoneInfo("Europe/Paris")


def paris(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (paris(2026, 6, 16, 10), True),  # Tuesday
        (paris(2026, 6, 16, 8), True),  # opening is inside
        (paris(2026, 6, 16, 7, 59), False),
        (paris(2026, 6, 16, 19, 59), True),
        (paris(2026, 6, 16, 20), False),  # closing is outside: [08:00, 20:00)
        (paris(2026, 6, 20, 11, 59), True),  # Saturday morning
        (paris(2026, 6, 20, 12), False),  # Saturday afternoon
        (paris(2026, 6, 21, 10), False),  # Sunday
        (paris(2026, 7, 14, 10), False),  # Fête nationale (a Tuesday)
    ],
)
def test_default_office_time(instant: datetime, expected: bool) -> None:
    assert is_office_time(instant, PARIS, holidays_of="75") is expected


def test_holidays_only_when_asked() -> None:
    assert is_office_time(paris(2026, 7, 14, 10), PARIS, holidays_of=None)
    # Good Friday is an office day in Paris, not in Strasbourg.
    assert is_office_time(paris(2026, 4, 3, 10), PARIS, holidays_of="75")
    assert not is_office_time(paris(2026, 4, 3, 10), PARIS, holidays_of="67")


def test_office_windows_follow_dst() -> None:
    # Friday before / Monday after the 2026 spring change: 07:00 UTC then 06:00 UTC.
    assert office_windows(date(2026, 3, 27), PARIS, holidays_of="75") == [
        (datetime(2026, 3, 27, 7, tzinfo=UTC), datetime(2026, 3, 27, 19, tzinfo=UTC))
    ]
    assert office_windows(date(2026, 3, 30), PARIS, holidays_of="75") == [
        (datetime(2026, 3, 30, 6, tzinfo=UTC), datetime(2026, 3, 30, 18, tzinfo=UTC))
    ]
    assert office_windows(date(2026, 3, 28), PARIS, holidays_of="75") == [
        (datetime(2026, 3, 28, 7, tzinfo=UTC), datetime(2026, 3, 28, 11, tzinfo=UTC))
    ]
    assert office_windows(date(2026, 3, 29), PARIS, holidays_of="75") == []
    assert office_windows(date(2026, 5, 14), PARIS, holidays_of="75") == []  # Ascension


def test_reunion_cpts() -> None:
    calendar = CptsCalendar(departement_code="974")
    assert calendar.tz == ZoneInfo("Indian/Reunion")
    # 08:00 local in Réunion is 04:00 UTC all year.
    assert calendar.office_windows(date(2026, 12, 21)) == [
        (datetime(2026, 12, 21, 4, tzinfo=UTC), datetime(2026, 12, 21, 16, tzinfo=UTC))
    ]
    assert calendar.office_windows(date(2026, 12, 20)) == []  # Sunday and a holiday
    assert calendar.is_public_holiday(date(2027, 12, 20))  # a Monday
    assert not calendar.is_office_time(datetime(2027, 12, 20, 6, tzinfo=UTC))
    assert calendar.is_office_time(datetime(2027, 12, 21, 6, tzinfo=UTC))


def test_custom_hours_with_lunch_break_from_json() -> None:
    hours = OfficeHours.model_validate(
        {
            "monday": [
                {"start": "14:00", "end": "19:00"},
                {"start": "08:30", "end": "12:30"},
            ],
            "saturday": [],
            "sunday": [{"start": "09:00", "end": "12:00"}],
            "closed_on_public_holidays": False,
        }
    )
    # Windows are kept sorted.
    assert [window.start for window in hours.monday] == [time(8, 30), time(14)]
    assert hours.tuesday == DEFAULT_OFFICE_HOURS.tuesday
    monday = paris(2026, 6, 15, 13)
    assert not hours.is_office_time(monday, PARIS, holidays_of="75")
    assert hours.is_office_time(paris(2026, 6, 15, 14), PARIS, holidays_of="75")
    assert hours.is_office_time(paris(2026, 6, 21, 10), PARIS, holidays_of="75")  # Sunday
    # Open on holidays by choice.
    assert hours.is_office_time(paris(2026, 7, 14, 10), PARIS, holidays_of="75")
    assert not hours.is_office_day(date(2026, 6, 20), holidays_of="75")  # Saturday closed


def test_next_office_day() -> None:
    hours = DEFAULT_OFFICE_HOURS
    assert hours.next_office_day(date(2026, 6, 19), holidays_of="75") == date(2026, 6, 20)
    assert hours.next_office_day(date(2026, 6, 20), holidays_of="75") == date(2026, 6, 22)
    # Saturday 4 April 2026, Easter Monday follows.
    assert hours.next_office_day(date(2026, 4, 4), holidays_of="75") == date(2026, 4, 7)
    closed = OfficeHours(
        monday=(), tuesday=(), wednesday=(), thursday=(), friday=(), saturday=(), sunday=()
    )
    assert closed.next_office_day(date(2026, 6, 19), holidays_of=None) is None


def test_invalid_windows_are_refused() -> None:
    with pytest.raises(ValidationError, match="crossing midnight"):
        LocalWindow(start=time(20), end=time(2))
    with pytest.raises(ValidationError, match="without zone"):
        LocalWindow(start=time(8, tzinfo=UTC), end=time(12))
    with pytest.raises(ValidationError, match="overlap"):
        OfficeHours(
            monday=(
                LocalWindow(start=time(8), end=time(13)),
                LocalWindow(start=time(12), end=time(18)),
            )
        )
    with pytest.raises(ValidationError):
        OfficeHours.model_validate({"mondays": []})  # typo: extra fields are refused


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_OFFICE_HOURS.sunday = (LocalWindow(start=time(8), end=time(12)),)  # type: ignore[misc]


def test_unknown_cpts_departement() -> None:
    with pytest.raises(ValidationError, match="2A or 2B"):
        CptsCalendar(departement_code="20")
    assert CptsCalendar(departement_code="2a").departement_code == "2A"
