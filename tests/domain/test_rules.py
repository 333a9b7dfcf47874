"""Domain rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from snp.care_requests import CareRequest, PatientLocation
from snp.errors import DomainError
from snp.modalities import Origin
from snp.orientation import OrientationStatus, check_transition, frees_capacity
from snp.patients import PatientContact, contact_digest
from snp.professionals import Professional, luhn_valid, normalise_rpps, rpps_warnings
from snp.professions import Profession, parse_profession
from snp.sites import Site
from snp.slots import Slot

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["1234567890", "123456789012", "1000000000A", ""])
def test_rpps_must_have_eleven_digits(bad: str) -> None:
    with pytest.raises(DomainError, match=r"rpps.*11 digits"):
        normalise_rpps(bad)


def test_rpps_accepts_the_idnps_form_prefixed_by_8() -> None:
    assert normalise_rpps("810000000008") == "10000000008"


def test_luhn_failure_warns_but_does_not_reject() -> None:
    assert luhn_valid("10000000009")
    assert rpps_warnings("10000000009") == []
    assert not luhn_valid("10000000001")
    assert "Luhn" in rpps_warnings("10000000001")[0]
    assert Professional("10000000001", "Durand", "Léa", Profession.MEDECIN, "c1").rpps


def test_unknown_profession_lists_the_valid_ones() -> None:
    assert parse_profession("60") is Profession.INFIRMIER
    assert parse_profession("masseur-kinesitherapeute") is Profession.MASSEUR_KINESITHERAPEUTE
    with pytest.raises(DomainError, match=r"profession.*'veterinaire'.*10 \(medecin\)"):
        parse_profession("veterinaire")


def test_slot_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(DomainError, match="end: the slot ends"):
        Slot("10000000008", Profession.MEDECIN, NOW, NOW - timedelta(minutes=1))


def test_slot_with_negative_capacity_is_refused() -> None:
    with pytest.raises(DomainError, match="capacity"):
        Slot("10000000008", Profession.MEDECIN, NOW, NOW + timedelta(minutes=20), capacity=-1)


def test_naive_times_are_refused() -> None:
    with pytest.raises(DomainError, match="no time zone"):
        Slot("10000000008", Profession.MEDECIN, datetime(2026, 1, 1), NOW)


def test_site_coordinates_are_checked() -> None:
    with pytest.raises(DomainError, match="WGS84"):
        Site("Cabinet", "1 rue", "78646", float("nan"), 2.0)


def _request(**overrides: object) -> CareRequest:
    fields: dict[str, object] = {
        "cpts_code": "c1",
        "origin": Origin.CPTS,
        "profession": Profession.MEDECIN,
        "priority": "same_day",
        "received_at": NOW,
        "deadline": NOW + timedelta(hours=8),
        "location": PatientLocation(insee_code="78646"),
    }
    fields.update(overrides)
    return CareRequest(**fields)  # type: ignore[arg-type]


def test_deadline_before_the_request_is_refused() -> None:
    with pytest.raises(DomainError, match=r"deadline: .* is not after the request time"):
        _request(deadline=NOW - timedelta(hours=1))


def test_request_needs_a_location() -> None:
    with pytest.raises(DomainError, match="location"):
        PatientLocation()
    with pytest.raises(DomainError, match="both lat and lon"):
        PatientLocation(lat=48.8)


def test_earliest_after_deadline_is_refused() -> None:
    with pytest.raises(DomainError, match="earliest"):
        _request(earliest=NOW + timedelta(hours=9))
    assert _request(earliest=NOW + timedelta(hours=2)).starts_from == NOW + timedelta(hours=2)


def test_orientation_lifecycle() -> None:
    check_transition(OrientationStatus.HELD, OrientationStatus.BOOKED)
    check_transition(OrientationStatus.BOOKED, OrientationStatus.HONOURED)
    check_transition(OrientationStatus.NO_SHOW, OrientationStatus.HONOURED)
    with pytest.raises(DomainError, match="cancelled cannot become booked"):
        check_transition(OrientationStatus.CANCELLED, OrientationStatus.BOOKED)
    with pytest.raises(DomainError, match="expired cannot become booked"):
        check_transition(OrientationStatus.EXPIRED, OrientationStatus.BOOKED)
    assert frees_capacity(OrientationStatus.BOOKED, OrientationStatus.CANCELLED)
    assert frees_capacity(OrientationStatus.HELD, OrientationStatus.EXPIRED)
    assert not frees_capacity(OrientationStatus.BOOKED, OrientationStatus.HONOURED)


def test_patient_contact_never_prints_identity() -> None:
    contact = PatientContact("Jeanne Dupont", "06 12 34 56 78", 1950)
    assert "Dupont" not in repr(contact)
    digest = contact_digest(b"k", contact)
    assert digest != contact_digest(b"other", contact)
    assert "Dupont" not in digest
