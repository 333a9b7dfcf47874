"""Batch mode: the jointly optimal assignment of all pending requests.

1. Enumerate every feasible edge (spatially, in chunks) and keep the ``top_n``
   cheapest per request, remembering the cheapest edge left out.
2. Solve the min-cost flow on the kept edges (``solver.flow``).
3. Certify: from node potentials of the optimal flow, an edge left out can only
   improve the solution if its reduced cost c_ij + d(i) − d(j) is negative.
   A request is skipped in one comparison when even its cheapest left-out edge
   passes against the largest slot potential of its profession; the others are
   re-enumerated and every negative edge is added. Re-solve until none is left:
   the flow is then optimal over the full feasible edge set (LP optimality of
   the reduced costs, see docs/matching-model.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver.candidates import Edges, RequestArrays, iter_edges, screen
from solver.cost import (
    EDGE_TERMS,
    daily_marginals,
    edge_cost,
    edge_terms,
    per_priority,
    sas_marginals,
)
from solver.explain import describe, unserved_reason, with_medecin_traitant
from solver.flow import FlowSolution, potentials, slot_potentials, solve_flow
from solver.index import SlotIndex
from solver.rank import as_index
from solver.types import IntArray, Load, Request, SlotPool
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
    edges_feasible: int  # every feasible request → slot pair
    edges_in_flow: int  # edges in the last solve
    edges_added: int  # left-out edges the certificate brought back
    requests_rechecked: int  # requests whose left-out edges were re-enumerated


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
    top_n: int | None = 6,
) -> Plan:
    """Optimal assignment of ``requests`` to slots (``top_n=None``: no pruning, one solve)."""
    weights = weights or Weights()
    index = as_index(slots)
    validate_requests(requests, now)
    daily, sas = index.load_vectors(load)
    rq = RequestArrays.build(requests, now)
    n_req = len(rq)
    everyone = np.arange(n_req, dtype=np.int64)

    kept_req, kept_slot, kept_cost = [], [], []
    next_cost = np.full(n_req, NO_EDGE, np.int64)
    max_cost, n_feasible = 0, 0
    for e in iter_edges(index, rq, everyone):
        cost = edge_cost(index, rq, e.request, e.slot, e.km, now, weights, sas)
        max_cost = max(max_cost, int(cost.max()))
        n_feasible += len(cost)
        keep = np.arange(len(cost)) if top_n is None else _cheapest(e, cost, top_n, next_cost)
        kept_req.append(e.request[keep])
        kept_slot.append(e.slot[keep])
        kept_cost.append(cost[keep])
    unassigned = unassigned_penalties(index, rq, weights, daily, max_cost)
    edge_req, edge_slot, edge_c = (_cat(kept_req), _cat(kept_slot), _cat(kept_cost))

    rounds, added, rechecked = 0, 0, 0
    while True:
        rounds += 1
        sol = solve_flow(index, edge_req, edge_slot, edge_c, unassigned, daily, weights)
        if top_n is None:
            break
        new_req, new_slot, new_c, n_checked = _violations(
            index, rq, sol, edge_req, edge_slot, next_cost, now, weights, daily, sas
        )
        rechecked += n_checked
        if not len(new_req):
            break
        added += len(new_req)
        edge_req = np.concatenate([edge_req, new_req])
        edge_slot = np.concatenate([edge_slot, new_slot])
        edge_c = np.concatenate([edge_c, new_c])

    chosen = sol.assigned_slot(edge_slot)
    stats = PlanStats(rounds, n_feasible, len(edge_req), added, rechecked)
    return _result(index, rq, chosen, sol, unassigned, now, weights, daily, sas, stats)


def unassigned_penalties(
    index: SlotIndex, rq: RequestArrays, weights: Weights, daily: IntArray, max_edge_cost: int
) -> IntArray:
    """U_i = B + unassigned[priority_i], with B larger than any one assignment's marginal cost.

    B = 1 + max edge cost + surnuméraire + the largest daily fairness marginal
    the pool allows. So if request i is unserved while a slot feasible for it
    has a free unit, moving i there lowers the objective: an optimum never
    leaves someone unserved when a feasible slot still has room.
    """
    top_daily = int((daily + np.maximum(index.pd_units - 1, 0)).max()) if len(daily) else 0
    bound = 1 + max_edge_cost + weights.surnumeraire + weights.fairness_daily_step * top_daily
    out: IntArray = bound + per_priority(weights.unassigned, rq.priority)
    return out


def _cat(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _cheapest(e: Edges, cost: IntArray, n: int, next_cost: IntArray) -> IntArray:
    """Positions of the n cheapest edges of each request; records each one's (n+1)-th cost."""
    req, slot = e.request, e.slot
    order = np.lexsort((slot, cost, req))
    r = req[order]
    first = np.r_[True, r[1:] != r[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(r)), 0))
    rank = np.arange(len(r)) - group_start
    nth = rank == n
    next_cost[r[nth]] = np.minimum(next_cost[r[nth]], cost[order][nth])
    out: IntArray = order[rank < n]
    return out


def _violations(
    index: SlotIndex,
    rq: RequestArrays,
    sol: FlowSolution,
    edge_req: IntArray,
    edge_slot: IntArray,
    next_cost: IntArray,
    now: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
) -> tuple[IntArray, IntArray, IntArray, int]:
    """Left-out edges with negative reduced cost (empty: the flow is optimal on all edges)."""
    d = potentials(sol)
    pot = slot_potentials(index, sol, d, daily, weights)
    d_req = d[: len(rq)]
    # Bound per profession: no left-out edge of request i can be negative when
    # its cheapest left-out cost + d(i) ≥ the largest slot potential around.
    top_pot = {
        code: int(pot[np.concatenate([p.placed, p.tele])].max())
        for code, p in index.professions.items()
        if p.size
    }
    bound = np.array([top_pot.get(int(c), 0) for c in rq.profession], np.int64)
    has_left_out = next_cost < NO_EDGE
    suspects = np.flatnonzero(has_left_out & (next_cost + d_req < bound))
    if not len(suspects):
        return _empty(), _empty(), _empty(), 0
    n_slots = len(index.pool)
    in_flow = np.sort(edge_req * n_slots + edge_slot)
    found_req, found_slot, found_c = [], [], []
    for e in iter_edges(index, rq, suspects):
        cost = edge_cost(index, rq, e.request, e.slot, e.km, now, weights, sas)
        negative = cost + d_req[e.request] - pot[e.slot] < 0
        key = e.request * n_slots + e.slot
        pos = np.minimum(np.searchsorted(in_flow, key), max(len(in_flow) - 1, 0))
        new = negative & ~((in_flow[pos] == key) if len(in_flow) else False)
        found_req.append(e.request[new])
        found_slot.append(e.slot[new])
        found_c.append(cost[new])
    return _cat(found_req), _cat(found_slot), _cat(found_c), len(suspects)


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
    sol: FlowSolution,
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
    assert objective >= sol.cost, "the flow optimum must bound the model objective from below"
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
        lower_bound=sol.cost,
        proven_optimal=objective == sol.cost,
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
