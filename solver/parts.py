"""The batch flow solved per connected component, re-solving only what changed.

Requests joined by flow edges to slots of the same professional-day share capacity
or fairness; nothing else couples them. So the network over the flow edges splits
into connected components (requests ∪ day nodes): the union of the components'
optimal flows is an optimal flow of the whole, and their potentials (each with the
shared sink at 0) are valid together, since no arc joins two components. Edges are
only ever added to the flow, so a component none of whose requests gained an edge
since the last round is exactly a component solved before: its flow and prices are
kept. (Requests without flow edges are solved together as one part; when some of
them gain edges, that part is solved again with the rest.) At L the certificate
rounds after the first few add a handful of edges, so re-solving only their
components saves most of the solver time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from solver.batch import prices_of_many
from solver.flow import FlowSolution, solve_flow
from solver.index import SlotIndex
from solver.types import BoolArray, IntArray
from solver.weights import Weights


@dataclass(frozen=True, slots=True)
class Part:
    """One solved component: its requests, flow cost, choices and prices."""

    requests: IntArray  # group positions
    cost: int
    chosen: IntArray  # pool position per request, −1 = unserved
    rho: IntArray  # request prices
    slot_nodes: IntArray
    slot_p: IntArray
    pd_nodes: IntArray
    pd_p: IntArray


@dataclass(frozen=True, slots=True)
class Solved:
    """The whole group's flow, assembled from its parts."""

    cost: int
    chosen: IntArray
    rho: IntArray
    slot_p: IntArray  # per pool slot: its price (where slot_in)
    slot_in: BoolArray  # slots in the network
    pd_p: IntArray  # per (professional, day): its price (where pd_in)
    pd_in: BoolArray
    solves: int  # components solved this round


class PartSolver:
    """Keeps the parts of the last round; ``solve`` re-solves the dirty components."""

    def __init__(
        self, index: SlotIndex, unassigned: IntArray, daily: IntArray, weights: Weights
    ) -> None:
        self.index, self.unassigned, self.daily, self.weights = index, unassigned, daily, weights
        self.parts: list[Part] = []
        self.owner = np.full(len(unassigned), -1, np.int64)  # part of each request

    def solve(
        self, req: IntArray, slot: IntArray, cost: IntArray, dirty: BoolArray
    ) -> Solved:
        """Optimal flow over the edges (req, slot, cost); ``dirty`` marks requests that
        gained an edge since the last call (every request on the first)."""
        n = len(self.unassigned)
        label = _components(self.index, n, req, slot)
        again = dirty | (self.owner < 0)
        while True:  # whole new components, and whole old parts (a part may split up)
            wider = np.isin(label, np.unique(label[again]))
            wider |= np.isin(self.owner, np.unique(self.owner[wider]))
            if (wider == again).all():
                break
            again = wider
        keep = {int(k) for k in np.unique(self.owner[~again])}
        parts = [self.parts[k] for k in sorted(keep)]
        edge_again = again[req]
        er, es, ec = req[edge_again], slot[edge_again], cost[edge_again]
        order = np.argsort(label[er], kind="stable")
        er, es, ec = er[order], es[order], ec[order]
        members = np.flatnonzero(again)
        members = members[np.argsort(label[members], kind="stable")]
        m_cuts = np.flatnonzero(np.diff(label[members])) + 1
        e_lab = label[er]
        e_bounds = np.searchsorted(e_lab, label[members[np.r_[0, m_cuts]]]) if len(
            members) else np.zeros(0, np.int64)
        e_ends = np.r_[e_bounds[1:], len(er)] if len(members) else e_bounds
        solved = []
        for k, group in enumerate(np.split(members, m_cuts) if len(members) else []):
            lo, hi = int(e_bounds[k]), int(e_ends[k])
            local = np.searchsorted(group, er[lo:hi])  # sorted within a component
            sol = solve_flow(self.index, local, es[lo:hi], ec[lo:hi], self.unassigned[group],
                             self.daily, self.weights)
            solved.append((group, es[lo:hi], sol))
        for (group, edge_slot, sol), (rho, p) in zip(
                solved, prices_of_many([sol for _, _, sol in solved]), strict=True):
            parts.append(_part(group, edge_slot, sol, rho, p))
        self.parts = parts
        for k, part in enumerate(parts):
            self.owner[part.requests] = k
        return self._assemble(len(m_cuts) + 1 if len(members) else 0)

    def _assemble(self, solves: int) -> Solved:
        n = len(self.unassigned)
        chosen = np.full(n, -1, np.int64)
        rho = np.zeros(n, np.int64)
        slot_p = np.zeros(len(self.index.pool), np.int64)
        slot_in = np.zeros(len(self.index.pool), bool)
        pd_p = np.zeros(len(self.index.pd_keys), np.int64)
        pd_in = np.zeros(len(self.index.pd_keys), bool)
        for part in self.parts:
            chosen[part.requests] = part.chosen
            rho[part.requests] = part.rho
            slot_p[part.slot_nodes] = part.slot_p
            slot_in[part.slot_nodes] = True
            pd_p[part.pd_nodes] = part.pd_p
            pd_in[part.pd_nodes] = True
        return Solved(sum(p.cost for p in self.parts), chosen, rho, slot_p, slot_in, pd_p, pd_in,
                      solves)


def _part(members: IntArray, edge_slot: IntArray, sol: FlowSolution, rho: IntArray,
          p: IntArray) -> Part:
    base_pd = sol.num_requests + len(sol.slot_nodes)
    return Part(
        requests=members,
        cost=sol.cost,
        chosen=sol.assigned_slot(edge_slot),
        rho=rho,
        slot_nodes=sol.slot_nodes,
        slot_p=p[sol.num_requests + np.arange(len(sol.slot_nodes))],
        pd_nodes=sol.pd_nodes,
        pd_p=p[base_pd + np.arange(len(sol.pd_nodes))],
    )


def _components(index: SlotIndex, n: int, req: IntArray, slot: IntArray) -> IntArray:
    """Component label of each request (requests and professional-days as nodes)."""
    m = len(index.pd_keys)
    graph = coo_matrix((np.ones(len(req), np.int8), (req, n + index.pd[slot])),
                       shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    out: IntArray = label[:n].astype(np.int64)
    # requests without flow edges are independent: one solve for all of them
    out[np.bincount(req, minlength=n) == 0] = n + m
    return out


def pool_prices(index: SlotIndex, solved: Solved, daily: IntArray, weights: Weights) -> IntArray:
    """A price p(j) for every slot of the pool, consistent with the parts' potentials.

    Slots outside the network get their cheapest way to the sink: the cheaper of
    their arcs to their day node plus the day's price; an absent day node gets its
    first fairness marginal f(L + 1). Adding any absent node with these values
    keeps every residual reduced cost ≥ 0, so edges into them can be checked too.
    """
    pool = index.pool
    pd_p = np.where(solved.pd_in, solved.pd_p, weights.fairness_daily_step * daily)
    cheapest = np.where(pool.capacity > 0, 0, weights.surnumeraire)
    out: IntArray = np.where(solved.slot_in, solved.slot_p, pd_p[index.pd] + cheapest)
    return out
