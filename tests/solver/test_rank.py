"""Online mode: feasibility, cost breakdown, exclusion counts, agreement with batch."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import RULES, Load, SlotIndex, Weights, plan, rank
from tests.solver.instances import (
    NOW,
    feasible,
    first_failed_rule,
    make_pool,
    make_requests,
    pair_cost,
    simple_pool,
    simple_request,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(seed=st.integers(0, 10**6), k=st.integers(1, 6))
def test_rank_lists_feasible_slots_cheapest_first(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    pool = make_pool(rng, 80, n_prof=6)
    index = SlotIndex.build(pool)
    weights = Weights()
    for request in make_requests(rng, 5):
        ranking = rank(request, index, now=NOW, k=k)
        expected = [j for j in range(len(pool)) if feasible(request, pool, j, NOW)]
        assert ranking.feasible == len(expected)
        assert sum(ranking.excluded.values()) + ranking.feasible == len(pool)
        counted = Counter(first_failed_rule(request, pool, j, NOW) for j in range(len(pool)))
        assert ranking.excluded == {rule: counted.get(rule, 0) for rule in RULES}
        assert list(ranking.excluded) == list(RULES)
        assert len(ranking.proposals) == min(k, len(expected))
        costs = [p.cost for p in ranking.proposals]
        assert costs == sorted(costs)
        all_costs = sorted(
            pair_cost(request, pool, j, NOW, weights)
            + (weights.surnumeraire if pool.capacity[j] == 0 else 0)
            for j in expected
        )
        assert costs == all_costs[: len(costs)]
        for p in ranking.proposals:
            assert feasible(request, pool, p.slot_index, NOW)
            assert sum(p.terms.values()) == p.cost
            assert int(pool.slot_id[p.slot_index]) == p.slot_id
            assert p.explanation.startswith(f"Slot {p.slot_id} ")


@FAST
@given(seed=st.integers(0, 10**6))
def test_online_top1_equals_batch_for_one_request(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = make_pool(rng, 40)
    profs = {int(p) for p in pool.professional}
    load = Load(
        daily={(p, d): int(rng.integers(0, 5)) for p in profs for d in (0, 1)},
        weekly_sas={(p, 0): int(rng.integers(15, 25)) for p in profs},
    )
    index = SlotIndex.build(pool)
    request = make_requests(rng, 1)[0]
    ranking = rank(request, index, now=NOW, k=50, load=load)
    result = plan([request], index, now=NOW, load=load)
    chosen = result.assignment[request.request_id]
    if not ranking.proposals:
        assert chosen is None
        return
    best = ranking.proposals[0].cost
    assert result.objective == best
    assert chosen in {p.slot_id for p in ranking.proposals if p.cost == best}
    assert result.decisions[request.request_id].terms == next(
        p.terms for p in ranking.proposals if p.slot_id == chosen
    )


def test_load_spreads_patients_through_the_fairness_term() -> None:
    pool = simple_pool(starts=[NOW + 3600, NOW + 3600], professional=[1, 2])
    request = simple_request(1)
    free = rank(request, pool, now=NOW, k=2)
    assert free.proposals[0].cost == free.proposals[1].cost
    busy = rank(request, pool, now=NOW, k=2, load=Load(daily={(1, 0): 3}))
    assert busy.proposals[0].professional == 2
    assert busy.proposals[1].terms["fairness_daily"] == 3 * Weights().fairness_daily_step


def test_medecin_traitant_and_own_cpts_are_preferred() -> None:
    pool = simple_pool(starts=[NOW + 3600] * 3, professional=[1, 2, 3])
    pool = type(pool)(
        **{**{f: getattr(pool, f) for f in pool.__slots__}, "cpts": np.array([0, 5, 0])}
    )
    request = simple_request(1, medecin_traitant=2, allowed_cpts=frozenset({0, 5}))
    ranking = rank(request, pool, now=NOW, k=3)
    w = Weights()
    by_prof = {p.professional: p for p in ranking.proposals}
    assert by_prof[2].terms["not_medecin_traitant"] == 0
    assert by_prof[2].terms["other_cpts"] == w.other_cpts
    assert by_prof[1].terms["not_medecin_traitant"] == w.not_medecin_traitant
    assert ranking.proposals[0].professional == 2  # 300 bonus beats the 100 CPTS bonus
    assert "médecin traitant" in by_prof[2].explanation


def test_urgent_priority_prefers_early_slots_harder() -> None:
    pool = simple_pool(starts=[NOW + 3600, NOW + 5 * 3600])
    urgent = rank(simple_request(1, priority=0, deadline=NOW + 6 * 3600), pool, now=NOW, k=2)
    assert urgent.proposals[0].slot_id == 0
    d_urgent = {p.slot_id: p.terms["deadline"] for p in urgent.proposals}
    relaxed = rank(simple_request(1, priority=2, deadline=NOW + 6 * 3600), pool, now=NOW, k=2)
    d_relaxed = {p.slot_id: p.terms["deadline"] for p in relaxed.proposals}
    assert d_urgent[1] > d_relaxed[1] > 0


def test_surnumeraire_costs_extra_and_is_flagged() -> None:
    pool = simple_pool(starts=[NOW + 3600], capacity=0, surnumeraire=1)
    ranking = rank(simple_request(1), pool, now=NOW)
    (p,) = ranking.proposals
    assert p.uses_surnumeraire and p.terms["surnumeraire"] == Weights().surnumeraire
    assert "surnuméraire" in p.explanation
