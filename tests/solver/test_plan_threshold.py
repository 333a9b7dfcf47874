"""The threshold certificate's pieces: boxes, range bounds, prices, per-component solves."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import SlotIndex, Weights, plan
from solver.batch import INF, Lanes, RangeMin, box_ranges, expand, prices, range_bounds
from solver.candidates import RequestArrays, iter_edges
from solver.cost import edge_cost
from solver.flow import solve_flow
from solver.parts import PartSolver
from solver.plan import max_edge_cost, unassigned_penalties
from tests.solver.instances import NOW, make_pool, make_requests

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _setup(
    seed: int, n_slots: int = 120, n_req: int = 40, weights: Weights | None = None
) -> tuple[np.random.Generator, SlotIndex, RequestArrays, Weights, np.ndarray]:
    rng = np.random.default_rng(seed)
    pool = make_pool(rng, n_slots, n_prof=6, spread_km=6)
    requests = make_requests(rng, n_req, spread_km=6)
    index = SlotIndex.build(pool)
    rq = RequestArrays.build(requests, NOW)
    weights = weights or Weights()
    sas = np.zeros(len(index.pw_keys), np.int64)
    return rng, index, rq, weights, sas


def _all_edges(
    index: SlotIndex, rq: RequestArrays, weights: Weights, sas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    parts = list(iter_edges(index, rq, np.arange(len(rq))))
    req = np.concatenate([e.request for e in parts]) if parts else np.zeros(0, np.int64)
    slot = np.concatenate([e.slot for e in parts]) if parts else np.zeros(0, np.int64)
    km = np.concatenate([e.km for e in parts]) if parts else np.zeros(0)
    return req, slot, edge_cost(index, rq, req, slot, km, NOW, weights, sas), km


def _pairs(req: np.ndarray, slot: np.ndarray) -> list[tuple[int, int]]:
    return sorted(zip(req.tolist(), slot.tolist(), strict=True))


@FAST
@given(seed=st.integers(0, 10**6), n=st.integers(1, 300))
def test_range_min_answers_every_range(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(-50, 1000, n)
    lo = rng.integers(0, n, 200)
    hi = np.minimum(lo + rng.integers(1, n + 1, 200), n)
    got = RangeMin(values).query(lo, hi)
    assert got.tolist() == [int(values[a:b].min()) for a, b in zip(lo, hi, strict=True)]


@FAST
@given(seed=st.integers(0, 10**6), pmw=st.sampled_from([0, 1, 3]), per_km=st.sampled_from([0, 20]))
def test_boxes_nest_and_hold_every_edge_under_the_threshold(seed: int, pmw: int, per_km: int) -> None:
    weights = Weights(per_minute_wait=pmw, per_km=per_km)
    rng, index, rq, weights, sas = _setup(seed, weights=weights)
    lanes = Lanes.build(index)
    everyone = np.arange(len(rq))
    req, slot, cost, _ = _all_edges(index, rq, weights, sas)
    floor = pmw * ((rq.t0 - NOW) // 60)
    mid = floor + rng.integers(0, 900, len(rq))
    top = mid + rng.integers(0, 900, len(rq))
    start = np.full(len(rq), -1)
    whole = expand(index, lanes, rq, box_ranges(index, lanes, rq, everyone, start, top, NOW,
                                                weights), NOW, weights, sas)
    first = expand(index, lanes, rq, box_ranges(index, lanes, rq, everyone, start, mid, NOW,
                                                weights), NOW, weights, sas)
    second = expand(index, lanes, rq, box_ranges(index, lanes, rq, everyone, mid, top, NOW,
                                                 weights), NOW, weights, sas)
    # growing a box from mid to top adds exactly what the box for top has beyond mid's
    assert _pairs(whole[0], whole[1]) == sorted(
        _pairs(first[0], first[1]) + _pairs(second[0], second[1]))
    # every feasible edge costing at most the threshold is in the box
    boxed = set(_pairs(whole[0], whole[1]))
    cheap = cost <= top[req]
    assert set(_pairs(req[cheap], slot[cheap])) <= boxed
    assert boxed <= set(_pairs(req, slot))  # and only feasible edges come out
    by_pair = dict(zip(_pairs(req, slot), cost[np.lexsort((slot, req))].tolist(), strict=True))
    assert all(by_pair[(int(i), int(j))] == int(c) for i, j, c in zip(*whole, strict=True))


@FAST
@given(seed=st.integers(0, 10**6))
def test_range_bounds_never_exceed_cost_plus_price(seed: int) -> None:
    rng, index, rq, weights, sas = _setup(seed)
    lanes = Lanes.build(index)
    everyone = np.arange(len(rq))
    ranges = box_ranges(index, lanes, rq, everyone, np.full(len(rq), -1),
                        np.full(len(rq), 10**6), NOW, weights)
    price = rng.integers(-100, 600, len(index.pool))
    wait = weights.per_minute_wait * ((lanes.start - NOW) // 60)
    table = RangeMin(np.where(index.units[lanes.slot] <= 0, INF, wait + price[lanes.slot]))
    bound = range_bounds(lanes, rq, ranges, table, weights)
    for k in range(len(ranges)):
        one = ranges.take(np.arange(len(ranges)) == k)
        _, s, c = expand(index, lanes, rq, one, NOW, weights, sas)
        assert (c + price[s] >= bound[k]).all()


@FAST
@given(seed=st.integers(0, 10**6), keep=st.floats(0.2, 1.0))
def test_prices_make_every_residual_reduced_cost_nonnegative(seed: int, keep: float) -> None:
    rng, index, rq, weights, sas = _setup(seed)
    req, slot, cost, _ = _all_edges(index, rq, weights, sas)
    some = rng.random(len(req)) < keep
    daily = np.zeros(len(index.pd_keys), np.int64)
    u = unassigned_penalties(index, rq, weights, daily, max_edge_cost(rq, weights, sas, NOW))
    sol = solve_flow(index, req[some], slot[some], cost[some], u, daily, weights)
    rho, p = prices(sol)
    d = -p.copy()
    d[: len(rq)] = -rho
    fwd = sol.flows < sol.capacities
    assert (sol.costs[fwd] + d[sol.tails[fwd]] - d[sol.heads[fwd]] >= 0).all()
    back = sol.flows > 0
    assert (-sol.costs[back] + d[sol.heads[back]] - d[sol.tails[back]] >= 0).all()


@FAST
@given(seed=st.integers(0, 10**6))
def test_component_solves_add_up_to_the_whole_flow(seed: int) -> None:
    rng, index, rq, weights, sas = _setup(seed, n_req=60)
    req, slot, cost, _ = _all_edges(index, rq, weights, sas)
    daily = np.zeros(len(index.pd_keys), np.int64)
    u = unassigned_penalties(index, rq, weights, daily, max_edge_cost(rq, weights, sas, NOW))
    first = rng.random(len(req)) < 0.5
    parts = PartSolver(index, u, daily, weights)
    parts.solve(req[first], slot[first], cost[first], np.ones(len(rq), bool))
    # then more edges for a few requests: only their components are solved again
    dirty = np.zeros(len(rq), bool)
    dirty[rng.integers(0, len(rq), 3)] = True
    now_in = first | dirty[req]
    solved = parts.solve(req[now_in], slot[now_in], cost[now_in], dirty)
    whole = solve_flow(index, req[now_in], slot[now_in], cost[now_in], u, daily, weights)
    assert solved.cost == whole.cost


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), pmw=st.sampled_from([0, 1, 2]), per_km=st.sampled_from([0, 5, 20]),
       closeness=st.sampled_from([(0,), (600, 300, 100), (5000, 10, 0)]))
def test_threshold_plan_equals_full_edge_solve_under_any_weights(
    seed: int, pmw: int, per_km: int, closeness: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(seed)
    pool = make_pool(rng, 90, n_prof=5, spread_km=3)
    requests = make_requests(rng, 60, spread_km=3)
    weights = Weights(per_minute_wait=pmw, per_km=per_km, deadline_closeness=closeness,
                      fairness_daily_step=int(rng.integers(0, 500)), surnumeraire=50)
    index = SlotIndex.build(pool)
    pruned = plan(requests, index, now=NOW, weights=weights, top_n=1)
    full = plan(requests, index, now=NOW, weights=weights, top_n=None)
    assert pruned.lower_bound == full.lower_bound
