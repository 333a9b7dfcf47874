"""Batch mode: the jointly optimal assignment of all pending requests.

1. Per request, enumerate only the feasible edges of a small box in (distance,
   start) space — every edge outside it costs more than its threshold τ_i
   (``solver.batch``); the ``top_n`` cheapest go into the flow, the others into a
   reserve.
2. Solve the min-cost flow on the flow edges, per connected component
   (``solver.parts``), and compute request prices ρ and node prices p.
3. Certify: reserve edges are checked exactly (c_ij ≥ ρ_i − p(j)), boxes must reach
   ρ_i, and box ranges not enumerated are checked with a range-minimum bound. Edges
   that fail move into the flow and we re-solve; when none does, the prices prove
   the flow optimal over the full feasible edge set (docs/matching-model.md,
   "Pruning by thresholds").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.batch import (
    INF,
    Lanes,
    RangeMin,
    Ranges,
    box_ranges,
    cost_ceiling,
    expand,
    open_ranges,
    threshold_edges,
)
from solver.candidates import RequestArrays, iter_edges, screen
from solver.cost import (
    EDGE_TERMS,
    daily_marginals,
    edge_cost,
    edge_terms,
    per_priority,
    sas_marginals,
)
from solver.explain import describe, unserved_reason, with_medecin_traitant
from solver.flow import solve_flow
from solver.index import SlotIndex
from solver.parts import PartSolver, pool_prices
from solver.rank import as_index
from solver.types import BoolArray, IntArray, Load, Request, SlotPool
from solver.validation import validate_requests
from solver.weights import Weights

NO_EDGE = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class Decision:
    """What the plan decided for one request, with the cost it contributes."""

    request_id: int
    slot_id: int | None
    slot_index: int | None
    cost: int
    terms: dict[str, int]
    explanation: str
    reason_unserved: str | None = None


@dataclass(frozen=True, slots=True)
class PlanStats:
    rounds: int  # flow solves
    edges_generated: int  # candidate edges looked at (every feasible one when unpruned)
    edges_in_flow: int  # edges in the last solve
    edges_added: int  # left-out edges the certificate brought back


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer of ``plan``.

    ``objective`` is the model cost of ``assignment`` (SAS weekly term exact).
    ``lower_bound`` is the flow optimum, where each SAS consultation is priced
    at the marginal of the professional's next one given the load before the
    batch; it bounds every assignment from below. ``proven_optimal`` is True
    when both are equal — always, unless the batch pushes one professional past
    the weekly SAS cap more than once (see docs/matching-model.md).
    """

    assignment: dict[int, int | None]
    objective: int
    lower_bound: int
    proven_optimal: bool
    decisions: dict[int, Decision]
    unassigned_penalty: dict[int, int]
    stats: PlanStats


def plan(
    requests: Sequence[Request],
    slots: SlotIndex | SlotPool,
    *,
    now: int,
    load: Load | None = None,
    weights: Weights | None = None,
    top_n: int | None = 16,
    workers: int = 1,
) -> Plan:
    """Optimal assignment of ``requests`` to slots.

    ``top_n`` is the number of cheapest edges per request in the first solve;
    the reduced-cost certificate brings back any other edge that could lower
    the cost, so the optimum does not depend on it. ``top_n=None`` solves once
    on every feasible edge (the reference the tests and benchmarks compare to).
    ``workers > 1`` solves independent groups of professions (groups that share no
    professional, hence no capacity and no fairness term) in forked processes.
    """
    weights = weights or Weights()
    index = as_index(slots)
    validate_requests(requests, now)
    daily, sas = index.load_vectors(load)
    rq = RequestArrays.build(requests, now)
    worst_edge = max_edge_cost(rq, weights, sas, now)
    unassigned = unassigned_penalties(index, rq, weights, daily, worst_edge)
    if top_n is None:
        edge_req, edge_slot, edge_c = _all_edges(index, rq, now, weights, sas)
        sol = solve_flow(index, edge_req, edge_slot, edge_c, unassigned, daily, weights)
        stats = PlanStats(1, len(edge_req), len(edge_req), 0)
        return _result(index, rq, sol.assigned_slot(edge_slot), sol.cost, unassigned, now,
                       weights, daily, sas, stats)

    groups = independent_groups(index, rq)
    lanes = Lanes.build(index)
    if workers > 1 and len(groups) > 1:
        solved = _solve_in_processes(index, lanes, rq, groups, now, weights, daily, sas,
                                     unassigned, top_n, workers)
    else:
        solved = [_solve_group(index, lanes, rq, g, now, weights, daily, sas, unassigned, top_n)
                  for g in groups]
    chosen = np.full(len(rq), -1, np.int64)
    for group, (part, _, _) in zip(groups, solved, strict=True):
        chosen[group] = part
    lower_bound = sum(cost for _, cost, _ in solved)
    stats = PlanStats(
        rounds=max((st.rounds for _, _, st in solved), default=0),
        edges_generated=sum(st.edges_generated for _, _, st in solved),
        edges_in_flow=sum(st.edges_in_flow for _, _, st in solved),
        edges_added=sum(st.edges_added for _, _, st in solved),
    )
    return _result(index, rq, chosen, lower_bound, unassigned, now, weights, daily, sas, stats)


def independent_groups(index: SlotIndex, rq: RequestArrays) -> list[IntArray]:
    """Request positions split into groups of professions that share no professional.

    Two professions are joined when one professional has slots in both; requests of
    a profession absent from the pool form their own group. The objective and the
    constraints are sums over groups, so solving each group optimally is optimal.
    """
    pool = index.pool
    codes = sorted(set(index.professions) | {int(c) for c in np.unique(rq.profession)})
    parent = {c: c for c in codes}

    def root(c: int) -> int:
        while parent[c] != c:
            c = parent[c]
        return c

    if len(pool):
        pairs = _unique_pairs(pool.professional, pool.profession)
        first_of: dict[int, int] = {}
        for professional, profession in pairs.tolist():
            other = first_of.setdefault(professional, profession)
            parent[root(profession)] = root(other)
    label = np.array([root(int(c)) for c in rq.profession], np.int64)
    order = np.argsort(label, kind="stable")
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    return [g for g in np.split(order, cuts) if len(g)]


def _unique_pairs(a: IntArray, b: IntArray) -> IntArray:
    """``np.unique(np.column_stack((a, b)), axis=0)``; one int64 key sorts much faster."""
    lo, width = int(b.min()), int(b.max()) - int(b.min()) + 1
    if a.min() >= 0 and int(a.max()) < 2**62 // width:
        keys = np.unique(a.astype(np.int64) * width + (b - lo))
        out: IntArray = np.column_stack((keys // width, keys % width + lo))
        return out
    out = np.unique(np.column_stack((a, b)), axis=0)
    return out


@dataclass(frozen=True, slots=True)
class _Work:
    """What forked workers inherit (never pickled)."""

    index: SlotIndex
    lanes: Lanes
    rq: RequestArrays
    groups: list[IntArray]
    now: int
    weights: Weights
    daily: IntArray
    sas: IntArray
    unassigned: IntArray
    top_n: int


_FORKED: _Work | None = None


def _solve_in_processes(
    index: SlotIndex,
    lanes: Lanes,
    rq: RequestArrays,
    groups: list[IntArray],
    now: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
    unassigned: IntArray,
    top_n: int,
    workers: int,
) -> list[tuple[IntArray, int, PlanStats]]:
    """Solve groups in forked worker processes (they inherit the index, nothing is pickled
    but group numbers and results); largest groups first."""
    import multiprocessing

    global _FORKED
    _FORKED = _Work(index, lanes, rq, groups, now, weights, daily, sas, unassigned, top_n)
    try:
        context = multiprocessing.get_context("fork")
        order = sorted(range(len(groups)), key=lambda g: -len(groups[g]))
        with context.Pool(min(workers, len(groups))) as pool:
            results = dict(zip(order, pool.map(_solve_forked, order, chunksize=1), strict=True))
    finally:
        _FORKED = None
    return [results[g] for g in range(len(groups))]


def _solve_forked(group: int) -> tuple[IntArray, int, PlanStats]:
    work = _FORKED
    assert work is not None, "only called in a worker forked by _solve_in_processes"
    return _solve_group(work.index, work.lanes, work.rq, work.groups[group], work.now,
                        work.weights, work.daily, work.sas, work.unassigned, work.top_n)


def _subset(rq: RequestArrays, group: IntArray) -> RequestArrays:
    """The requests at positions ``group`` (sorted), renumbered 0..len − 1."""
    new_position = np.full(len(rq), -1, np.int64)
    new_position[group] = np.arange(len(group))
    keys = rq.allowed_keys
    mine = new_position[keys >> 40]
    keys = (mine[mine >= 0] << 40) | (keys[mine >= 0] & ((1 << 40) - 1))
    return RequestArrays(
        requests=[rq.requests[int(i)] for i in group],
        lat=rq.lat[group], lon=rq.lon[group], radius=rq.radius[group],
        profession=rq.profession[group], modality_mask=rq.modality_mask[group],
        t0=rq.t0[group], t1=rq.t1[group], priority=rq.priority[group],
        medecin_traitant=rq.medecin_traitant[group], cpts=rq.cpts[group],
        is_sas=rq.is_sas[group], allowed_keys=np.sort(keys),
        allowed_bits=None if rq.allowed_bits is None else rq.allowed_bits[group],
    )


@dataclass(slots=True)
class _Edges:
    """Enumerated edges; ``in_flow`` marks those in the flow, the others form the reserve."""

    req: IntArray
    slot: IntArray
    cost: IntArray
    in_flow: BoolArray

    def add(self, req: IntArray, slot: IntArray, cost: IntArray, *, in_flow: bool) -> None:
        self.req = np.concatenate([self.req, req])
        self.slot = np.concatenate([self.slot, slot])
        self.cost = np.concatenate([self.cost, cost])
        self.in_flow = np.concatenate([self.in_flow, np.full(len(req), in_flow)])


def _solve_group(
    index: SlotIndex,
    lanes: Lanes,
    all_rq: RequestArrays,
    group: IntArray,
    now: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
    all_unassigned: IntArray,
    top_n: int,
) -> tuple[IntArray, int, PlanStats]:
    """Optimal slot (pool position, −1 = unserved) of each request of one group.

    Only edges inside a per-request box (cost ≥ lb > τ_i outside it) are ever
    enumerated; the ``top_n`` cheapest of each go into the flow, the others wait in a
    reserve. After each solve, prices (ρ, p) certify the flow over the full edge set
    when (a) every reserve edge has c_ij ≥ ρ_i − p(j), (b) every τ_i ≥ ρ_i − m (m =
    min(0, smallest slot price)) or the box holds every edge of i, and (c) every box
    range not enumerated has a bound ≥ ρ_i. Requests failing (b) get a larger box
    whose new ranges stay unseen; ranges failing (c) are enumerated into the reserve;
    reserve edges failing (a) move into the flow and we re-solve.
    """
    rq = _subset(all_rq, group)
    unassigned = all_unassigned[group]
    ceiling = cost_ceiling(rq, weights, sas, now)
    top_n = max(top_n, 1)
    req, slot, cost, tau, base = _first_edges(index, lanes, rq, now, weights, sas, ceiling,
                                              top_n)
    edges = _Edges(req, slot, cost, _cheapest(req, slot, cost, top_n))
    lazy = Ranges.concat([])
    wait = weights.per_minute_wait * ((lanes.start - now) // 60)
    no_units = index.units[lanes.slot] <= 0
    rounds, added = 0, 0
    parts = PartSolver(index, unassigned, daily, weights)
    dirty = np.ones(len(rq), bool)
    while True:
        rounds += 1
        flow = np.flatnonzero(edges.in_flow)
        solved = parts.solve(edges.req[flow], edges.slot[flow], edges.cost[flow], dirty)
        rho = solved.rho
        p_slot = pool_prices(index, solved, daily, weights)
        floor = min(0, int(p_slot.min())) if len(p_slot) else 0
        # A request left unserved while some of its edges are unseen has the unassigned
        # penalty as price, which would open its whole box: its box is widened instead
        # (span above its first bound doubled), straight into the flow; it is priced
        # once it is served or its box holds every edge.
        unserved = solved.chosen < 0
        dirty = np.zeros(len(rq), bool)
        stuck = np.flatnonzero(unserved & (tau < ceiling))
        if len(stuck):
            raised = tau.copy()
            widened = np.maximum(2 * tau[stuck] - base[stuck], tau[stuck] + SLACK)
            raised[stuck] = np.minimum(widened, ceiling[stuck])
            more = threshold_edges(index, lanes, rq, stuck, tau, raised, now, weights, sas, base)
            edges.add(*more, in_flow=True)
            dirty[more[0]] = True
            added += len(more[0])
            tau = raised
        priced = ~unserved | (tau >= ceiling)
        # (b) every edge outside a request's box costs more than τ_i ≥ ρ_i − floor
        grow = np.flatnonzero(priced & (rho - floor > tau) & (tau < ceiling))
        if len(grow):
            raised = tau.copy()
            raised[grow] = np.minimum(np.maximum(rho[grow] - floor, tau[grow] + SLACK),
                                      ceiling[grow])
            lazy = Ranges.concat([lazy, box_ranges(index, lanes, rq, grow, tau, raised, now,
                                                   weights, base)])
            tau = raised
        # (c) a box range whose bound on c_ij + p(j) reaches ρ_i holds no harmful edge;
        # the others are enumerated into the reserve
        if len(lazy):
            table = RangeMin(np.where(no_units, INF, wait + p_slot[lanes.slot]))
            asked = priced[lazy.req]
            doubtful, proven = open_ranges(lanes, rq, lazy.take(asked), table, weights, rho)
            if len(doubtful):
                edges.add(*expand(index, lanes, rq, doubtful, now, weights, sas), in_flow=False)
            lazy = Ranges.concat([lazy.take(~asked), proven])
        # (a) reserve edges are checked exactly
        reduced = edges.cost + p_slot[edges.slot] - rho[edges.req]
        pick = np.flatnonzero(~edges.in_flow & (reduced < 0))
        if not len(pick) and not len(stuck):
            break
        if len(pick):  # partial pricing: the most negative few per request keep the flow small
            pick = pick[_cheapest(edges.req[pick], edges.slot[pick],
                                  reduced[pick] - reduced[pick].min(), PER_ROUND)]
        edges.in_flow[pick] = True
        dirty[edges.req[pick]] = True
        added += len(pick)
    stats = PlanStats(rounds, len(edges.req) + len(lazy), len(flow), added)
    return solved.chosen, solved.cost, stats


FIRST_SPAN = 120  # first threshold: this many points above the first slot's time cost
SLACK = 60  # a raised threshold goes at least this far above the last one
PER_ROUND = 16  # reserve edges moved into the flow per request and pricing round


def _first_edges(
    index: SlotIndex,
    lanes: Lanes,
    rq: RequestArrays,
    now: int,
    weights: Weights,
    sas: IntArray,
    ceiling: IntArray,
    top_n: int,
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Edges under a first threshold τ_i, its span doubled per request until it has
    top_n of them (or τ_i reaches its ceiling: every feasible edge of it is in).

    The span starts above the time cost of the first slot of the request's profession
    starting at or after t0_i (no edge costs less), not above the wait at t0_i: a
    request made at night would otherwise grow through empty hours. Returns the edges,
    τ and that base.
    """
    n = len(rq)
    base = _first_time_cost(lanes, rq, now, weights)
    span = np.full(n, FIRST_SPAN, np.int64)
    tau = np.minimum(base + span, ceiling)
    lo = np.full(n, -1, np.int64)
    parts: list[tuple[IntArray, IntArray, IntArray]] = []
    count = np.zeros(n, np.int64)
    todo = np.arange(n, dtype=np.int64)
    while len(todo):
        part = threshold_edges(index, lanes, rq, todo, lo, tau, now, weights, sas, base)
        parts.append(part)
        count += np.bincount(part[0], minlength=n)
        todo = todo[(count[todo] < top_n) & (tau[todo] < ceiling[todo])]
        lo[todo] = tau[todo]
        span[todo] *= 2
        tau[todo] = np.minimum(base[todo] + span[todo], ceiling[todo])
    req, slot, cost = (_cat([p[k] for p in parts]) for k in range(3))
    return req, slot, cost, tau, base


def _first_time_cost(lanes: Lanes, rq: RequestArrays, now: int, weights: Weights) -> IntArray:
    """Per request, wait + deadline closeness of the first slot of its profession that
    starts in [t0, deadline] (the wait at t0 when there is none)."""
    out: IntArray = weights.per_minute_wait * ((rq.t0 - now) // 60)
    for code, starts in lanes.sorted_start.items():
        mine = np.flatnonzero(rq.profession == code)
        if not len(mine) or not len(starts):
            continue
        at = np.searchsorted(starts, rq.t0[mine], "left")
        ok = at < len(starts)
        mine, first = mine[ok], starts[at[ok]]
        ok = first <= rq.t1[mine]
        mine, first = mine[ok], first[ok]
        t0 = rq.t0[mine]
        window = np.maximum(rq.t1[mine] - t0, 1)
        closeness = per_priority(weights.deadline_closeness, rq.priority[mine])
        out[mine] = weights.per_minute_wait * ((first - now) // 60) + closeness * (
            first - t0) // window
    return out


def _cheapest(
    req: npt.NDArray[np.integer], slot: npt.NDArray[np.integer], cost: IntArray, n: int
) -> BoolArray:
    """Mask of the n cheapest edges of each request (ties: enumeration order)."""
    if len(cost) and cost.min() >= 0 and cost.max() < 2**31:
        # one int64 key sorts faster than lexsort; the stable sort keeps input order on ties
        order = np.argsort((req.astype(np.int64) << 31) | cost, kind="stable")
    else:
        order = np.lexsort((slot, cost, req))
    r = req[order].astype(np.int64)
    first = np.r_[True, r[1:] != r[:-1]]
    rank = np.arange(len(r)) - np.maximum.accumulate(np.where(first, np.arange(len(r)), 0))
    mask = np.zeros(len(r), bool)
    mask[order[rank < n]] = True
    return mask


def unassigned_penalties(
    index: SlotIndex, rq: RequestArrays, weights: Weights, daily: IntArray, max_edge_cost: int
) -> IntArray:
    """U_i = B + unassigned[priority_i], with B larger than any one assignment's marginal cost.

    B = 1 + (an upper bound on any edge cost) + surnuméraire + the largest daily
    fairness marginal the pool allows. So if request i is unserved while a slot
    feasible for it has a free unit, moving i there lowers the objective: an
    optimum never leaves someone unserved when a feasible slot still has room.
    """
    top_daily = int((daily + np.maximum(index.pd_units - 1, 0)).max()) if len(daily) else 0
    bound = 1 + max_edge_cost + weights.surnumeraire + weights.fairness_daily_step * top_daily
    out: IntArray = bound + per_priority(weights.unassigned, rq.priority)
    return out


def max_edge_cost(rq: RequestArrays, weights: Weights, sas: IntArray, now: int) -> int:
    """An upper bound on any feasible edge's cost (radius, deadline and worst preferences)."""
    return int(cost_ceiling(rq, weights, sas, now).max()) if len(rq) else 0


def _all_edges(
    index: SlotIndex, rq: RequestArrays, now: int, weights: Weights, sas: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    reqs, slots, costs = [], [], []
    for e in iter_edges(index, rq, np.arange(len(rq), dtype=np.int64)):
        reqs.append(e.request)
        slots.append(e.slot)
        costs.append(edge_cost(index, rq, e.request, e.slot, e.km, now, weights, sas))
    return _cat(reqs), _cat(slots), _cat(costs)


def _cat(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _empty() -> IntArray:
    return np.zeros(0, np.int64)


def rank_within(groups: IntArray) -> IntArray:
    """0-based rank of each element among equal group values, in input order."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0)) if len(g) else g
    out = np.empty(len(g), np.int64)
    out[order] = np.arange(len(g)) - start
    return out


def _result(
    index: SlotIndex,
    rq: RequestArrays,
    chosen: IntArray,
    lower_bound: int,
    unassigned: IntArray,
    now: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
    stats: PlanStats,
) -> Plan:
    """Per-request decisions whose costs add up to the model objective of ``chosen``."""
    pool = index.pool
    served = np.flatnonzero(chosen >= 0)
    slot = chosen[served]
    km = _km(index, rq, served, slot)
    terms = edge_terms(index, rq, served, slot, km, now, weights, sas)
    # Shared terms are attributed by order of arrival in the request list.
    slot_rank = rank_within(slot)
    terms["surnumeraire"] = np.where(slot_rank >= pool.capacity[slot], weights.surnumeraire, 0)
    pd = index.pd[slot]
    day_rank = rank_within(pd)
    terms["fairness_daily"] = weights.fairness_daily_step * (daily[pd] + day_rank)
    pw = np.where(rq.is_sas[served], index.pw[slot], -1)
    sas_rank = rank_within(pw)
    k = sas[index.pw[slot]] + sas_rank + 1
    terms["sas_weekly"] = np.where(
        pw >= 0, weights.sas_weekly_step_beyond_cap * np.maximum(k - weights.sas_weekly_cap, 0), 0
    )
    total = np.sum(np.stack(list(terms.values())), axis=0) if len(served) else _empty()
    objective = int(total.sum()) + int(unassigned[chosen < 0].sum())
    assert objective >= lower_bound, "the flow optimum must bound the model objective from below"
    decisions: dict[int, Decision] = {}
    for row, i in enumerate(served):
        request = rq.requests[int(i)]
        s = int(slot[row])
        t = {name: int(v[row]) for name, v in terms.items()}
        km_i = None if np.isnan(km[row]) else float(km[row])
        professional = int(pool.professional[s])
        sentence = describe(
            int(pool.slot_id[s]),
            professional,
            km_i,
            (int(pool.start[s]) - now) // 60,
            t,
            int(daily[pd[row]] + day_rank[row] + 1),
        )
        sentence = with_medecin_traitant(sentence, professional == request.medecin_traitant)
        decisions[request.request_id] = Decision(
            request.request_id, int(pool.slot_id[s]), s, int(total[row]), t, sentence
        )
    for i in np.flatnonzero(chosen < 0):
        request = rq.requests[int(i)]
        found = screen(index, request, now)
        reason = unserved_reason(found.excluded, len(found.slots))
        decisions[request.request_id] = Decision(
            request.request_id,
            None,
            None,
            int(unassigned[i]),
            {"unassigned": int(unassigned[i])},
            f"Not served: {reason}.",
            reason,
        )
    assignment = {r.request_id: decisions[r.request_id].slot_id for r in rq.requests}
    return Plan(
        assignment=assignment,
        objective=objective,
        lower_bound=lower_bound,
        proven_optimal=objective == lower_bound,
        decisions=decisions,
        unassigned_penalty={
            r.request_id: int(u) for r, u in zip(rq.requests, unassigned, strict=True)
        },
        stats=stats,
    )


def _km(index: SlotIndex, rq: RequestArrays, req: IntArray, slot: IntArray) -> np.ndarray:
    from solver.distance import haversine_pairs_km
    from solver.types import Modality

    pool = index.pool
    km = haversine_pairs_km(rq.lat[req], rq.lon[req], pool.lat[slot], pool.lon[slot])
    km[pool.modality[slot] == Modality.TELECONSULTATION] = np.nan
    return km


def model_objective(
    index: SlotIndex,
    rq: RequestArrays,
    chosen: IntArray,
    unassigned: IntArray,
    now: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
) -> int:
    """Model cost of an assignment (pool position per request, −1 = unserved), from its counts."""
    served = np.flatnonzero(chosen >= 0)
    slot = chosen[served]
    terms = edge_terms(index, rq, served, slot, _km(index, rq, served, slot), now, weights, sas)
    total = sum(int(terms[name].sum()) for name in EDGE_TERMS if name != "sas_weekly")
    used = np.bincount(slot, minlength=len(index.pool))
    total += weights.surnumeraire * int(np.maximum(used - index.pool.capacity, 0).sum())
    per_day = np.bincount(index.pd[slot], minlength=len(index.pd_keys))
    total += int(daily_marginals(weights, daily, per_day).sum())
    sas_slots = slot[rq.is_sas[served]]
    per_week = np.bincount(index.pw[sas_slots], minlength=len(index.pw_keys))
    total += int(sas_marginals(weights, sas, per_week).sum())
    return total + int(unassigned[chosen < 0].sum())
