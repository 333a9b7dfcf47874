"""Edge cases of both modes and rejection of malformed input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from solver import InvalidInputError, Load, Modality, Origin, SlotIndex, SlotPool, plan, rank
from tests.solver.instances import NOW, simple_pool, simple_request


def _with(pool: SlotPool, **changes: object) -> SlotPool:
    fields = {f: getattr(pool, f) for f in pool.__slots__}
    return SlotPool(**{**fields, **changes})


def test_no_slots() -> None:
    pool = simple_pool(starts=[])
    ranking = rank(simple_request(1), pool, now=NOW)
    assert ranking.proposals == () and ranking.feasible == 0
    result = plan([simple_request(1)], pool, now=NOW)
    assert result.assignment == {1: None}
    assert result.decisions[1].reason_unserved == "the slot pool is empty"


def test_no_requests() -> None:
    result = plan([], simple_pool(starts=[NOW + 60]), now=NOW)
    assert result.assignment == {} and result.objective == 0 and result.proven_optimal


def test_everything_infeasible_with_reasons() -> None:
    pool = simple_pool(starts=[NOW + 3600, NOW + 7200])
    cases = {
        "no slot of this profession": simple_request(1, profession=9),
        "every slot with an accepted modality is beyond the search radius": simple_request(
            2, lat=45.0
        ),
        "every nearby slot starts outside [earliest, deadline]": simple_request(
            3, deadline=NOW + 60
        ),
        "no slot with a modality the request accepts": simple_request(
            4, modalities=frozenset({Modality.TELECONSULTATION})
        ),
        "the remaining slots belong to CPTS without a mutualisation agreement": simple_request(
            5, cpts=2, allowed_cpts=frozenset({2})
        ),
    }
    result = plan(list(cases.values()), pool, now=NOW)
    for reason, request in cases.items():
        assert result.assignment[request.request_id] is None
        assert result.decisions[request.request_id].reason_unserved == reason
    full = _with(pool, capacity=np.zeros(2, np.int64))
    assert plan([simple_request(6)], full, now=NOW).decisions[6].reason_unserved == (
        "no capacity left on the remaining slots"
    )
    reserved = simple_pool(starts=[NOW + 3600], sas_reserved=True)
    assert plan([simple_request(7)], reserved, now=NOW).decisions[7].reason_unserved == (
        "the remaining slots are reserved for SAS requests"
    )
    served = plan([simple_request(8, origin=Origin.SAS)], reserved, now=NOW)
    assert served.assignment[8] == 0


def test_capacity_exhausted_reason_and_priority() -> None:
    pool = simple_pool(starts=[NOW + 3600])
    urgent = simple_request(1, priority=0)
    relaxed = simple_request(2, priority=2)
    result = plan([relaxed, urgent], pool, now=NOW)
    assert result.assignment == {2: None, 1: 0}  # the more urgent request wins the slot
    assert "went to other requests" in (result.decisions[2].reason_unserved or "")


def test_ties_are_broken_deterministically() -> None:
    pool = simple_pool(starts=[NOW + 3600] * 4, professional=[5, 6, 7, 8])
    first = rank(simple_request(1), pool, now=NOW, k=4)
    assert [p.slot_id for p in first.proposals] == [0, 1, 2, 3]
    assert len({p.cost for p in first.proposals}) == 1
    plans = {
        tuple(plan([simple_request(i) for i in range(3)], pool, now=NOW).assignment.items())
        for _ in range(3)
    }
    assert len(plans) == 1


def test_one_professional_with_all_slots_fills_them_with_rising_fairness() -> None:
    pool = simple_pool(starts=[NOW + 3600 * h for h in range(1, 5)], professional=[3] * 4)
    result = plan([simple_request(i) for i in range(4)], pool, now=NOW)
    assert sorted(v for v in result.assignment.values() if v is not None) == [0, 1, 2, 3]
    fairness = sorted(d.terms["fairness_daily"] for d in result.decisions.values())
    step = 60
    assert fairness == [0, step, 2 * step, 3 * step]


def test_teleconsultation_only_ignores_distance() -> None:
    pool = simple_pool(starts=[NOW + 3600], modality=Modality.TELECONSULTATION, lat=43.3, lon=5.4)
    request = simple_request(1, modalities=frozenset({Modality.TELECONSULTATION}), radius_km=1.0)
    (p,) = rank(request, pool, now=NOW).proposals
    assert p.km is None and p.terms["distance"] == 0
    assert "teleconsultation" in p.explanation
    assert plan([request], pool, now=NOW).assignment == {1: 0}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lat": np.array([np.nan, 48.8])}, "slot 1 (position 1)"),
        ({"lon": np.array([2.1, 200.0])}, "out of range"),
        ({"capacity": np.array([1, -1])}, "negative capacity"),
        ({"end": np.array([NOW, NOW + 7200 + 900])}, "ends before"),
        ({"slot_id": np.array([4, 4])}, "duplicate slot_id 4"),
        ({"modality": np.array([0, 7])}, "unknown modality"),
        ({"profession": np.array([0])}, "shape"),
    ],
)
def test_bad_pool_is_rejected_naming_the_slot(changes: dict[str, object], message: str) -> None:
    pool = simple_pool(starts=[NOW + 3600, NOW + 7200])
    if "lat" in changes:
        changes["lat"] = np.array([48.8, np.nan])
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SlotIndex.build(_with(pool, **changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lat": float("nan")}, "request 1: coordinates are not finite"),
        ({"lon": 181.0}, "request 1: coordinates out of range"),
        ({"deadline": NOW - 1}, "request 1: deadline"),
        ({"radius_km": -2.0}, "request 1: radius_km"),
        ({"modalities": frozenset()}, "request 1: modalities"),
    ],
)
def test_bad_request_is_rejected_naming_it(changes: dict[str, object], message: str) -> None:
    pool = simple_pool(starts=[NOW + 3600])
    bad = dataclasses.replace(simple_request(1), **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=message):
        rank(bad, pool, now=NOW)
    with pytest.raises(InvalidInputError, match=message):
        plan([simple_request(2), bad], pool, now=NOW)


def test_duplicate_request_ids_and_negative_load_are_rejected() -> None:
    pool = simple_pool(starts=[NOW + 3600])
    with pytest.raises(InvalidInputError, match="duplicate request_id 1"):
        plan([simple_request(1), simple_request(1)], pool, now=NOW)
    with pytest.raises(InvalidInputError, match="negative"):
        plan([simple_request(1)], pool, now=NOW, load=Load(daily={(0, 0): -1}))
    assert issubclass(InvalidInputError, ValueError)
