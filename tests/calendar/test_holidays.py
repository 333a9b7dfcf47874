"""French public holidays per département (metropolitan, Alsace-Moselle, overseas)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from snp.calendar import FrenchHolidays, UnknownDepartementError, is_public_holiday

METRO = ["75", "69", "13", "2A", "2B", "974", "971", "972", "973", "976", "57", "67", "68"]


@pytest.mark.parametrize("code", METRO)
@pytest.mark.parametrize(
    "day",
    [
        date(2026, 7, 14),  # Fête nationale
        date(2027, 7, 14),
        date(2026, 5, 8),  # Victoire 1945
        date(2027, 5, 8),
        date(2026, 5, 14),  # Ascension 2026
        date(2027, 5, 6),  # Ascension 2027
        date(2026, 5, 25),  # Lundi de Pentecôte 2026
        date(2027, 5, 17),  # Lundi de Pentecôte 2027
        date(2026, 12, 25),
        date(2027, 1, 1),
    ],
)
def test_national_holidays_everywhere(code: str, day: date) -> None:
    assert is_public_holiday(day, code)


@pytest.mark.parametrize("code", ["75", "974"])
@pytest.mark.parametrize("day", [date(2026, 7, 13), date(2027, 5, 7), date(2026, 6, 16)])
def test_ordinary_days(code: str, day: date) -> None:
    assert not is_public_holiday(day, code)


@pytest.mark.parametrize("code", ["57", "67", "68"])
@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 26),  # Saint-Étienne
        date(2027, 12, 26),
        date(2026, 4, 3),  # Vendredi saint 2026
        date(2027, 3, 26),  # Vendredi saint 2027
    ],
)
def test_alsace_moselle_extra_days(code: str, day: date) -> None:
    assert is_public_holiday(day, code)
    assert not is_public_holiday(day, "75")
    assert not is_public_holiday(day, "54")  # Meurthe-et-Moselle is not Moselle


@pytest.mark.parametrize(
    ("code", "day"),
    [
        ("974", date(2026, 12, 20)),  # La Réunion: abolition of slavery
        ("974", date(2027, 12, 20)),
        ("971", date(2027, 5, 27)),  # Guadeloupe
        ("972", date(2027, 5, 22)),  # Martinique
        ("973", date(2026, 6, 10)),  # Guyane
        ("976", date(2027, 4, 27)),  # Mayotte
    ],
)
def test_overseas_abolition_days(code: str, day: date) -> None:
    assert is_public_holiday(day, code)
    assert not is_public_holiday(day, "75")
    name = FrenchHolidays().holiday_name(day, code)
    assert name is not None
    assert "esclavage" in name.lower()


def test_overseas_days_do_not_leak_between_departements() -> None:
    assert not is_public_holiday(date(2027, 12, 20), "971")
    assert not is_public_holiday(date(2027, 5, 27), "972")
    assert not is_public_holiday(date(2027, 5, 22), "971")


def test_subdivisions() -> None:
    assert FrenchHolidays.subdivision_for("75") is None
    assert FrenchHolidays.subdivision_for("2A") is None
    assert FrenchHolidays.subdivision_for("57") == "57"
    assert FrenchHolidays.subdivision_for("67") == "6AE"
    assert FrenchHolidays.subdivision_for("68") == "6AE"
    assert FrenchHolidays.subdivision_for("974") == "974"
    assert FrenchHolidays.subdivision_for("977") == "BL"


def test_names_are_french() -> None:
    assert FrenchHolidays().holiday_name(date(2026, 7, 14), "75") == "Fête nationale"
    assert FrenchHolidays().holiday_name(date(2026, 7, 13), "75") is None


def test_datetime_is_refused() -> None:
    # A datetime would never match the date keys and silently read "not a holiday".
    with pytest.raises(TypeError, match="local date"):
        is_public_holiday(datetime(2026, 7, 14, 10), "75")


def test_unknown_departement() -> None:
    with pytest.raises(UnknownDepartementError):
        is_public_holiday(date(2026, 7, 14), "20")
