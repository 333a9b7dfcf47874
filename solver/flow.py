"""The batch min-cost flow network and its node potentials.

Network (one unit of flow = one patient):

    request ──c_ij──▶ slot ──0 (capacity) / surnuméraire (extra)──▶ professional-day
    professional-day ──k-th arc: fairness marginal of patient L+k──▶ sink
    request ──unassigned penalty U_i──▶ sink

Each request supplies one unit, the sink absorbs them all. Parallel unit arcs
with increasing costs out of a professional-day node represent the convex
daily fairness cost exactly: a min-cost flow fills the cheapest arcs first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.index import SlotIndex
from solver.types import IntArray
from solver.weights import Weights


@dataclass(frozen=True, slots=True)
class FlowSolution:
    """A solved network: arcs, flows, and where the nodes are."""

    num_requests: int
    slot_nodes: IntArray  # pool positions of the slot nodes, sorted
    pd_nodes: IntArray  # (professional, day) ids of the day nodes, sorted
    sink: int
    tails: IntArray
    heads: IntArray
    capacities: IntArray
    costs: IntArray
    flows: IntArray
    num_edges: int  # the first num_edges arcs are request → slot
    cost: int

    def assigned_slot(self, edge_slot: IntArray) -> IntArray:
        """Pool position of each request's slot, −1 when unassigned."""
        out = np.full(self.num_requests, -1, np.int64)
        used = np.flatnonzero(self.flows[: self.num_edges] > 0)
        out[self.tails[used]] = edge_slot[used]
        return out


def solve_flow(
    index: SlotIndex,
    edge_req: IntArray,
    edge_slot: IntArray,
    edge_cost: IntArray,
    unassigned: IntArray,
    daily_load: IntArray,
    weights: Weights,
) -> FlowSolution:
    """Build and solve the network over the given request → slot edges."""
    pool = index.pool
    n_req = len(unassigned)
    slots = np.unique(edge_slot)
    pds = np.unique(index.pd[slots])
    base_slot, base_pd = n_req, n_req + len(slots)
    sink = base_pd + len(pds)
    slot_node = base_slot + np.searchsorted(slots, edge_slot)
    day_node = base_pd + np.searchsorted(pds, index.pd[slots])
    # No arc needs more capacity than the edges that can reach it, and one spare unit
    # keeps every truncated arc unsaturated: the residual graph then has the same
    # forward arcs as the untruncated network, so potentials computed on it are valid
    # for the latter (the omitted fairness arcs cost at least the spare one).
    into_slot = np.bincount(slot_node - base_slot, minlength=len(slots))
    cap = np.minimum(pool.capacity[slots], into_slot + 1)
    extra = np.minimum(pool.surnumeraire[slots], into_slot + 1)
    has_cap, has_extra = cap > 0, extra > 0
    into_day = np.bincount(day_node - base_pd, weights=into_slot, minlength=len(pds))
    # k-th fairness arc of a day: marginal of its (load + k)-th patient
    n_arcs = np.minimum(index.pd_units[pds], into_day.astype(np.int64) + 1)
    owner = np.repeat(np.arange(len(pds)), n_arcs)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(n_arcs) - n_arcs, n_arcs)
    ones = np.ones
    tails = np.concatenate([
        edge_req, np.arange(n_req), base_slot + np.flatnonzero(has_cap),
        base_slot + np.flatnonzero(has_extra), base_pd + owner,
    ])  # fmt: skip
    heads = np.concatenate([
        slot_node, np.full(n_req, sink), day_node[has_cap], day_node[has_extra],
        np.full(len(owner), sink),
    ])  # fmt: skip
    capacities = np.concatenate([
        ones(len(edge_req), np.int64), ones(n_req, np.int64), cap[has_cap], extra[has_extra],
        ones(len(owner), np.int64),
    ])  # fmt: skip
    costs = np.concatenate([
        edge_cost, unassigned, np.zeros(int(has_cap.sum()), np.int64),
        np.full(int(has_extra.sum()), weights.surnumeraire, np.int64),
        weights.fairness_daily_step * (daily_load[pds][owner] + k),
    ])  # fmt: skip
    tails, heads = tails.astype(np.int64), heads.astype(np.int64)
    capacities, costs = capacities.astype(np.int64), costs.astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(sink + 1, np.int64)
    supplies[:n_req] = 1
    supplies[sink] = -n_req
    smcf.set_nodes_supplies(np.arange(sink + 1), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:  # the unassigned arcs make the problem always feasible
        raise RuntimeError(f"min-cost flow failed with status {status}")
    return FlowSolution(
        num_requests=n_req,
        slot_nodes=slots,
        pd_nodes=pds,
        sink=sink,
        tails=tails,
        heads=heads,
        capacities=capacities,
        costs=costs,
        flows=np.asarray(smcf.flows(arcs), dtype=np.int64),
        num_edges=len(edge_req),
        cost=int(smcf.optimal_cost()),
    )


def potentials(sol: FlowSolution) -> IntArray:
    """Node potentials d with c(u,v) + d(u) − d(v) ≥ 0 on every residual arc.

    d is the shortest distance from a virtual root joined to every node by a
    0-cost arc, computed by a vectorised Bellman-Ford (Jacobi sweeps). The
    residual graph of an optimal flow has no negative cycle, so it converges;
    if it does not, the flow was not optimal and we fail loudly.
    """
    fwd = sol.flows < sol.capacities
    bwd = sol.flows > 0
    tail = np.concatenate([sol.tails[fwd], sol.heads[bwd]])
    head = np.concatenate([sol.heads[fwd], sol.tails[bwd]])
    cost = np.concatenate([sol.costs[fwd], -sol.costs[bwd]])
    order = np.argsort(head, kind="stable")
    tail, head, cost = tail[order], head[order], cost[order]
    d = np.zeros(sol.sink + 1, np.int64)
    if not len(head):
        return d
    starts = np.flatnonzero(np.r_[True, head[1:] != head[:-1]])
    targets = head[starts]
    for _ in range(sol.sink + 2):
        best = np.minimum.reduceat(d[tail] + cost, starts)
        better = best < d[targets]
        if not better.any():
            return d
        d[targets[better]] = best[better]
    raise RuntimeError("negative cycle in the residual graph: the flow is not optimal")


def slot_potentials(
    index: SlotIndex, sol: FlowSolution, d: IntArray, daily_load: IntArray, weights: Weights
) -> IntArray:
    """A potential for every slot of the pool, consistent with ``d``.

    Slots outside the network get the smallest potential that keeps their
    (unused) arcs reduced-cost ≥ 0 — d(day) minus the cheapest arc to it — and
    absent day nodes likewise d(sink) minus their first fairness marginal.
    Adding any absent node with these values keeps every residual reduced cost
    ≥ 0, so checking new request → slot arcs against them is sound.
    """
    pool = index.pool
    d_day = d[sol.sink] - weights.fairness_daily_step * daily_load
    base_pd = sol.num_requests + len(sol.slot_nodes)
    d_day[sol.pd_nodes] = d[base_pd + np.arange(len(sol.pd_nodes))]
    cheapest = np.where(pool.capacity > 0, 0, weights.surnumeraire)
    out: IntArray = d_day[index.pd] - cheapest
    out[sol.slot_nodes] = d[sol.num_requests + np.arange(len(sol.slot_nodes))]
    return out
