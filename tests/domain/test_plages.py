"""Plages expand into slots at the local time the professional published."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from snp.errors import DomainError
from snp.plages import Plage, find_overlap, parse_weekday
from snp.professions import Profession

PARIS = ZoneInfo("Europe/Paris")


def _plage(**overrides: object) -> Plage:
    fields: dict[str, object] = {
        "professional_rpps": "10000000009",
        "profession": Profession.MEDECIN,
        "weekday": 6,  # Sunday: both 2026 DST changes fall on a Sunday
        "start": time(9, 0),
        "end": time(10, 0),
        "valid_from": date(2026, 1, 1),
        "slot_minutes": 20,
    }
    fields.update(overrides)
    return Plage(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("before", "after"),
    [(date(2026, 10, 18), date(2026, 10, 25)), (date(2027, 3, 21), date(2027, 3, 28))],
)
def test_weekly_plage_stays_at_nine_local_across_dst(before: date, after: date) -> None:
    plage = _plage()
    slots = plage.expand(
        PARIS, datetime.combine(before, time(0), UTC), datetime.combine(after, time(23), UTC)
    )
    assert len(slots) == 6  # three 20-minute slots on each Sunday
    local_starts = [s.start.astimezone(PARIS) for s in slots]
    assert {t.time() for t in local_starts} == {time(9, 0), time(9, 20), time(9, 40)}
    offsets = {s.start.astimezone(PARIS).utcoffset() for s in slots}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


def test_holidays_are_skipped_when_asked() -> None:
    plage = _plage(weekday=1)  # Tuesday 2026-07-14, Fête nationale
    window = (datetime(2026, 7, 13, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC))
    assert plage.expand(PARIS, *window, departement="78") == []
    assert len(plage.expand(PARIS, *window)) == 3


def test_validity_period_bounds_the_slots() -> None:
    plage = _plage(weekday=2, valid_from=date(2026, 12, 2), valid_until=date(2026, 12, 2))
    slots = plage.expand(
        PARIS, datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 12, 20, tzinfo=UTC)
    )
    assert {s.start.astimezone(PARIS).date() for s in slots} == {date(2026, 12, 2)}


def test_overlapping_plages_of_one_professional_are_found() -> None:
    a = _plage(start=time(9), end=time(11))
    b = _plage(start=time(10, 30), end=time(12))
    c = _plage(start=time(11), end=time(12))
    assert find_overlap([a, c]) is None
    assert find_overlap([a, c, b]) == (a, b)
    assert find_overlap([a, _plage(professional_rpps="10000000017", start=time(9, 30))]) is None


def test_bad_plages_say_what_to_fix() -> None:
    with pytest.raises(DomainError, match="end: the plage ends"):
        _plage(start=time(12), end=time(9))
    with pytest.raises(DomainError, match="in the past"):
        _plage(valid_until=date(2026, 2, 1)).check_not_in_past(date(2026, 11, 25))
    with pytest.raises(DomainError, match="weekday"):
        parse_weekday("someday")
    assert parse_weekday("mardi") == 1
