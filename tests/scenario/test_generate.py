from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from snp.geo import haversine_km
from snp.professionals import luhn_valid
from snp.scenario import (
    GENERAL_PRACTICE,
    HORIZON,
    MEDECIN,
    PRIORITY_CLASSES,
    SIZES,
    Scenario,
    ScenarioSize,
    generate,
    resolve_size,
)
from solver.types import Modality, Origin

PARIS = ZoneInfo("Europe/Paris")
PROFESSIONS = {10, 21, 40, 50, 60, 70}


@pytest.fixture(scope="module")
def small() -> Scenario:
    return generate("S", seed=1)


@pytest.fixture(scope="module")
def medium() -> Scenario:
    return generate("M", seed=2)


def assert_same(a: Scenario, b: Scenario) -> None:
    left, right = a.arrays(), b.arrays()
    assert left.keys() == right.keys()
    for name in left:
        np.testing.assert_array_equal(left[name], right[name], err_msg=name)


def test_same_seed_same_arrays() -> None:
    assert_same(generate("S", seed=7), generate("S", seed=7))


def test_different_seed_different_arrays(small: Scenario) -> None:
    other = generate("S", seed=2)
    assert not np.array_equal(small.slots.start, other.slots.start)
    assert not np.array_equal(small.requests.lat, other.requests.lat)
    assert not np.array_equal(small.professionals.rpps, other.professionals.rpps)
    # the territory's CPTS do not depend on the seed
    np.testing.assert_array_equal(small.commune_cpts, other.commune_cpts)


def test_arrays_cover_every_field(small: Scenario) -> None:
    arrays = small.arrays()
    assert "slots.start" in arrays and "requests.medecin_traitant" in arrays
    assert "professionals.rpps" in arrays and "cpts.name" in arrays


@pytest.mark.parametrize("name", ["S", "M"])
def test_sizes_hit_their_targets_exactly(name: str, small: Scenario, medium: Scenario) -> None:
    scenario = {"S": small, "M": medium}[name]
    target = SIZES[name]
    assert len(scenario.slots) == target.n_slots
    assert len(scenario.requests) == target.n_requests
    assert scenario.size.departements == ("78",)
    assert len(scenario.communes.codes) == 259
    assert set(scenario.professionals.profession.tolist()) == PROFESSIONS


def test_size_names() -> None:
    assert resolve_size("m") == SIZES["M"]
    assert SIZES["L"].n_slots == 200_000 and SIZES["XL"].n_requests == 100_000
    xl = resolve_size("XL")
    assert len(xl.departements) == 96 and "2A" in xl.departements and "971" not in xl.departements
    with pytest.raises(ValueError, match="XXL"):
        resolve_size("XXL")


def test_custom_size_and_territory() -> None:
    tiny = generate(ScenarioSize("tiny", 30, 300, ("92",)), seed=3)
    assert len(tiny.slots) == 300 and len(tiny.requests) == 30
    assert {c[:2] for c in tiny.professionals.commune.tolist()} == {"92"}
    paris = generate("S", departements=["75"])
    assert set(paris.requests.commune.tolist()) == {"75056"}


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="DROM"):
        generate("S", departements=["971"])
    with pytest.raises(ValueError, match="'99'"):
        generate("S", departements=["99"])
    with pytest.raises(ValueError, match="timezone-aware"):
        generate("S", now=datetime(2026, 3, 10, 8))


def test_medium_density_is_plausible(medium: Scenario) -> None:
    part = medium.participation
    assert all(0.29 <= part[code] <= 0.5 for code in PROFESSIONS), part
    doctors = int((medium.professionals.profession == MEDECIN).sum())
    # 85 GPs per 100,000 inhabitants, 45 % of them take part
    assert doctors == pytest.approx(85 * 14.85086 * 0.45, rel=0.01)
    per_pro = np.bincount(medium.slots.professional, minlength=len(medium.professionals))
    assert per_pro.min() >= 1
    assert 10 < per_pro[medium.professionals.profession == MEDECIN].mean() < 30


def test_small_keeps_agendas_plausible_with_fewer_participants(small: Scenario) -> None:
    per_pro = np.bincount(small.slots.professional, minlength=len(small.professionals))
    doctors = small.professionals.profession == MEDECIN
    assert per_pro[doctors].mean() >= 6
    assert small.participation[MEDECIN] < 0.2


def test_six_cpts_over_the_yvelines(medium: Scenario) -> None:
    cpts = medium.cpts
    assert len(cpts.cpts_id) == 6
    assert cpts.cpts_id.tolist() == [1, 2, 3, 4, 5, 6]
    assert int(cpts.population.sum()) == 1_485_086
    assert cpts.population.min() > 100_000
    assert set(medium.commune_cpts.tolist()) == set(cpts.cpts_id.tolist())
    assert all(name.startswith("CPTS ") for name in cpts.name.tolist())
    versailles = medium.commune_cpts[medium.communes.index_of("78646")]
    assert cpts.name[versailles - 1] == "CPTS Versailles"


def test_professionals(medium: Scenario) -> None:
    pros = medium.professionals
    np.testing.assert_array_equal(pros.professional_id, np.arange(len(pros)))
    assert len(set(pros.rpps.tolist())) == len(pros)
    assert all(len(r) == 11 and r.isdigit() and luhn_valid(r) for r in pros.rpps.tolist())
    np.testing.assert_array_equal(pros.is_gp, pros.profession == MEDECIN)
    assert set(pros.specialty[pros.profession == MEDECIN].tolist()) == {GENERAL_PRACTICE}
    rows = np.array([medium.communes.index_of(c) for c in pros.commune.tolist()])
    np.testing.assert_array_equal(pros.cpts, medium.commune_cpts[rows])
    away = haversine_km(medium.communes.lat[rows], medium.communes.lon[rows], pros.lat, pros.lon)
    assert away.max() <= 6.01
    assert np.median(away) < 2.5
    assert 0.15 < pros.accepts_surnumeraire.mean() < 0.45


def test_professionals_follow_population(medium: Scenario) -> None:
    pros = medium.professionals
    in_versailles = int((pros.commune == "78646").sum())
    expected = len(pros) * 84_095 / 1_485_086
    assert in_versailles == pytest.approx(expected, rel=0.35)


def test_slots_in_office_hours_within_48h(medium: Scenario) -> None:
    slots, now = medium.slots, medium.now
    assert slots.start.min() >= now.timestamp()
    assert slots.end.max() <= (now + HORIZON).timestamp()
    assert set(((slots.end - slots.start) // 60).tolist()) <= {15, 20, 30}
    for start, end in zip(slots.start[::97].tolist(), slots.end[::97].tolist(), strict=True):
        local_start = datetime.fromtimestamp(start, PARIS)
        local_end = datetime.fromtimestamp(end, PARIS)
        assert local_start.weekday() < 6
        assert local_start.hour >= 8
        closing = 12 if local_start.weekday() == 5 else 20
        assert (local_end.hour, local_end.minute) <= (closing, 0)
        assert local_end.date() == local_start.date()


def test_slots_never_overlap_for_one_professional(medium: Scenario) -> None:
    s = medium.slots
    order = np.lexsort((s.start, s.professional))
    pro, start, end = s.professional[order], s.start[order], s.end[order]
    same = pro[1:] == pro[:-1]
    assert (start[1:][same] >= end[:-1][same]).all()


def test_slot_attributes(medium: Scenario) -> None:
    s, pros = medium.slots, medium.professionals
    np.testing.assert_array_equal(s.slot_id, np.arange(len(s)))
    assert (np.diff(s.start) >= 0).all()
    np.testing.assert_array_equal(s.profession, pros.profession[s.professional])
    np.testing.assert_array_equal(s.cpts, pros.cpts[s.professional])
    assert (s.capacity == 1).all()
    assert not s.surnumeraire[~pros.accepts_surnumeraire[s.professional]].any()
    assert 0 < s.surnumeraire.mean() < 0.2
    modality = np.bincount(s.modality, minlength=3) / len(s)
    assert modality[Modality.IN_PERSON] > 0.6
    assert 0.05 < modality[Modality.HOME_VISIT] < 0.3
    assert 0.02 < modality[Modality.TELECONSULTATION] < 0.15
    tele = s.modality == Modality.TELECONSULTATION
    assert set(s.profession[tele].tolist()) <= {MEDECIN, 50}
    home = s.modality == Modality.HOME_VISIT
    assert ((s.end - s.start)[home] == 1800).all()
    doctors = s.profession == MEDECIN
    assert 0.15 < s.sas_reserved[doctors].mean() < 0.35
    assert s.sas_reserved[~doctors].mean() < 0.1


def test_requests(medium: Scenario) -> None:
    r = medium.requests
    np.testing.assert_array_equal(r.request_id, np.arange(len(r)))
    assert set(r.priority_class.tolist()) == set(PRIORITY_CLASSES)
    mix = np.bincount(r.priority, minlength=3) / len(r)
    np.testing.assert_allclose(mix, [0.15, 0.45, 0.40], atol=0.04)
    assert (r.modalities > 0).all() and (r.modalities < 8).all()
    assert (r.deadline > r.earliest).all()
    assert r.earliest.min() >= medium.now.timestamp()
    assert r.earliest.max() <= medium.now.timestamp() + 6 * 3600
    sas = r.origin == Origin.SAS
    assert sas.mean() == pytest.approx(0.30, abs=0.04)
    assert set(r.profession[sas].tolist()) == {MEDECIN}
    assert (r.profession == MEDECIN).mean() == pytest.approx(0.62, abs=0.04)
    assert set(r.radius_km.tolist()) == {10.0, 25.0}
    assert set(r.commune.tolist()) <= set(medium.communes.codes.tolist())
    rows = np.array([medium.communes.index_of(c) for c in r.commune.tolist()])
    np.testing.assert_array_equal(r.cpts, medium.commune_cpts[rows])


def test_medecin_traitant_is_a_nearby_participating_gp(medium: Scenario) -> None:
    r, pros = medium.requests, medium.professionals
    has = r.medecin_traitant >= 0
    assert 0.2 < has.mean() < 0.45
    assert (r.profession[has] == MEDECIN).all()
    gp = r.medecin_traitant[has]
    assert pros.is_gp[gp].all()
    distance = haversine_km(r.lat[has], r.lon[has], pros.lat[gp], pros.lon[gp])
    assert np.median(distance) < 5


def test_requests_follow_population(medium: Scenario) -> None:
    share = (medium.requests.commune == "78646").mean()
    assert share == pytest.approx(84_095 / 1_485_086, abs=0.02)


def test_a_public_holiday_has_no_slot() -> None:
    # Thursday 7 May 2026, 14:00 Paris; Friday 8 May is a public holiday (Victoire 1945)
    scenario = generate("S", now=datetime(2026, 5, 7, 12, 0, tzinfo=UTC))
    days = {datetime.fromtimestamp(t, PARIS).date().isoformat() for t in scenario.slots.start}
    assert days == {"2026-05-07", "2026-05-09"}
    saturday = [datetime.fromtimestamp(t, PARIS) for t in scenario.slots.end]
    assert max(t.hour * 60 + t.minute for t in saturday if t.day == 9) <= 12 * 60


def test_no_office_hours_ahead_is_a_clear_error() -> None:
    # Saturday 4 April 2026 13:00 Paris: Sunday, then Easter Monday, until Monday 13:00
    with pytest.raises(ValueError, match="no office hours"):
        generate("S", now=datetime(2026, 4, 4, 11, 0, tzinfo=UTC))


def test_tight_horizon_still_hits_the_target() -> None:
    # Friday 17:00 Paris: 3 hours on Friday and a Saturday morning
    scenario = generate("S", now=datetime(2026, 3, 13, 16, 0, tzinfo=UTC))
    assert len(scenario.slots) == 2_000
    s = scenario.slots
    order = np.lexsort((s.start, s.professional))
    same = s.professional[order][1:] == s.professional[order][:-1]
    assert (s.start[order][1:][same] >= s.end[order][:-1][same]).all()
