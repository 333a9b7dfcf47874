from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from snp.calendar import local_day_number, local_iso_week
from snp.scenario import (
    SAME_DAY,
    URGENT_SAME_DAY,
    WITHIN_48H,
    Scenario,
    generate,
    local_day_and_week,
    office_blocks,
    simple_deadline,
    write_csv,
)
from solver.types import Modality, Origin, Request, SlotPool

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate("S", seed=5)


def paris(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=PARIS).timestamp())


def test_simple_deadline_rules() -> None:
    earliest = np.array(
        [
            paris(2026, 3, 10, 9, 0),  # urgent at 09:00: +4 h
            paris(2026, 3, 10, 17, 30),  # urgent at 17:30: capped at 20:00
            paris(2026, 3, 10, 17, 59),  # same day before 18:00: 20:00
            paris(2026, 3, 10, 18, 0),  # same day at 18:00: next day 12:00
            paris(2026, 3, 10, 9, 0),  # within 48 h
        ],
        dtype=np.int64,
    )
    priority = np.array([URGENT_SAME_DAY, URGENT_SAME_DAY, SAME_DAY, SAME_DAY, WITHIN_48H])
    assert simple_deadline(earliest, priority).tolist() == [
        paris(2026, 3, 10, 13, 0),
        paris(2026, 3, 10, 20, 0),
        paris(2026, 3, 10, 20, 0),
        paris(2026, 3, 11, 12, 0),
        paris(2026, 3, 12, 9, 0),
    ]


def test_simple_deadline_across_daylight_saving() -> None:
    # Saturday 28 March 2026 before the switch to summer time (Sunday 29, 02:00)
    earliest = np.array([paris(2026, 3, 28, 19, 0)], dtype=np.int64)
    deadline = simple_deadline(earliest, np.array([SAME_DAY]))
    assert datetime.fromtimestamp(int(deadline[0]), PARIS) == datetime(
        2026, 3, 29, 12, 0, tzinfo=PARIS
    )
    assert int(deadline[0]) - int(earliest[0]) == 16 * 3600  # one hour lost overnight


def test_office_blocks() -> None:
    blocks = office_blocks(datetime(2026, 3, 13, 16, 7, tzinfo=UTC))  # Friday 17:07 Paris
    local = [
        (datetime.fromtimestamp(s, PARIS), datetime.fromtimestamp(e, PARIS)) for s, e in blocks
    ]
    assert [(s.day, s.hour, s.minute, e.hour) for s, e in local] == [
        (13, 17, 15, 20),  # starts on the next quarter hour
        (14, 8, 0, 12),  # Saturday morning only; Sunday is PDSA
    ]
    with pytest.raises(ValueError, match="timezone-aware"):
        office_blocks(datetime(2026, 3, 13, 16, 0))


def test_day_and_week_match_the_calendar_module() -> None:
    instants = [
        datetime(2026, 3, 10, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 22, 59, tzinfo=UTC),  # 23:59 in Paris
        datetime(2026, 3, 10, 23, 0, tzinfo=UTC),  # midnight in Paris: next day
        datetime(2026, 12, 31, 23, 30, tzinfo=UTC),  # 2027-01-01 in Paris: ISO week 2026-W53
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # just after the DST switch
    ]
    epochs = np.array([int(t.timestamp()) for t in instants], dtype=np.int64)
    days, weeks = local_day_and_week(epochs)
    assert days.tolist() == [local_day_number(t, PARIS) for t in instants]
    assert weeks.tolist() == [local_iso_week(t, PARIS) for t in instants]
    assert weeks[3] == 202653


def test_to_solver_pool(scenario: Scenario) -> None:
    pool, requests = scenario.to_solver()
    assert isinstance(pool, SlotPool)
    assert len(pool) == len(scenario.slots)
    lengths = {len(getattr(pool, name)) for name in SlotPool.__slots__}
    assert lengths == {len(pool)}
    for name in SlotPool.__slots__:
        assert getattr(pool, name).dtype in (np.int64, np.float64, np.bool_), name
    pros = scenario.professionals
    np.testing.assert_array_equal(pool.lat, pros.lat[pool.professional])
    assert set(np.unique(pool.day).tolist()) == {20522, 20523}  # 10 and 11 March 2026
    assert set(pool.week.tolist()) == {202611}
    assert len(requests) == len(scenario.requests)


def test_to_solver_requests(scenario: Scenario) -> None:
    _, requests = scenario.to_solver()
    r = scenario.requests
    first = requests[0]
    assert isinstance(first, Request)
    assert first.request_id == 0
    assert first.cpts == int(r.cpts[0])
    assert first.allowed_cpts == frozenset({first.cpts})
    assert first.lat == pytest.approx(float(r.lat[0]))
    for request, mask in zip(requests, r.modalities.tolist(), strict=True):
        assert request.modalities
        assert all(mask & (1 << m) for m in request.modalities)
    sas = [q for q in requests if q.origin is Origin.SAS]
    assert len(sas) == int((r.origin == Origin.SAS).sum())
    with_mt = [q for q in requests if q.medecin_traitant is not None]
    assert len(with_mt) == int((r.medecin_traitant >= 0).sum())
    assert {q.priority for q in requests} == {0, 1, 2}
    assert all(isinstance(m, Modality) for q in requests for m in q.modalities)


def test_to_solver_mutualisation(scenario: Scenario) -> None:
    _, requests = scenario.to_solver(mutualisation={1: [2, 3]})
    of_first = [q for q in requests if q.cpts == 1]
    assert of_first and all(q.allowed_cpts == frozenset({1, 2, 3}) for q in of_first)
    assert all(q.allowed_cpts == frozenset({q.cpts}) for q in requests if q.cpts != 1)


def test_to_solver_later_drops_past_slots_and_expired_requests(scenario: Scenario) -> None:
    later = scenario.now + timedelta(hours=5)
    at = int(later.timestamp())
    pool, requests = scenario.to_solver(later)
    assert len(pool) == int((scenario.slots.start >= at).sum())
    assert (pool.start >= at).all()
    assert all(q.deadline > at for q in requests)
    assert len(requests) < len(scenario.requests)  # some urgent ones have expired
    _, arrived = scenario.to_solver(later, include_future_requests=False)
    assert all(q.earliest <= at for q in arrived)
    assert len(arrived) < len(requests)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_write_csv(scenario: Scenario, tmp_path: Path) -> None:
    written = write_csv(scenario, tmp_path / "out")
    assert sorted(written) == ["cpts.csv", "professionals.csv", "requests.csv", "slots.csv"]
    pros = read(written["professionals.csv"])
    slots = read(written["slots.csv"])
    requests = read(written["requests.csv"])
    cpts = read(written["cpts.csv"])
    assert len(pros) == len(scenario.professionals)
    assert len(slots) == 2_000 and len(requests) == 200 and len(cpts) == 6
    assert pros[0]["rpps"] == scenario.professionals.rpps[0]
    assert pros[0]["insee_code"].startswith("78")
    first = slots[0]
    start = datetime.fromisoformat(first["start"])
    assert start.tzinfo is not None
    assert int(start.timestamp()) == int(scenario.slots.start[0])
    assert first["modality"] in {"in_person", "home_visit", "teleconsultation"}
    assert first["sas_reserved"] in {"true", "false"}
    assert {q["priority_class"] for q in requests} == {"urgent_same_day", "same_day", "within_48h"}
    assert {q["origin"] for q in requests} == {"cpts", "sas"}
    mt = [q["medecin_traitant_id"] for q in requests]
    assert "" in mt and any(m.isdigit() for m in mt)
    assert all(
        set(q["modalities"].split(";")) <= {"in_person", "home_visit", "teleconsultation"}
        for q in requests
    )
