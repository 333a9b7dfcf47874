"""Online mode: the k best slots for one request, each with its cost broken down."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solver.candidates import RequestArrays, screen
from solver.cost import EDGE_TERMS, edge_terms, slot_terms, travel_terms
from solver.explain import describe, with_medecin_traitant
from solver.index import SlotIndex
from solver.types import FloatArray, IntArray, Load, Request, SlotPool
from solver.validation import validate_request
from solver.weights import Weights


@dataclass(frozen=True, slots=True)
class Proposal:
    """One ranked slot. ``terms`` sums to ``cost``; ``km`` is None for teleconsultation."""

    slot_id: int
    slot_index: int  # position in the SlotPool arrays
    professional: int
    start: int
    cost: int
    terms: dict[str, int]
    km: float | None
    wait_minutes: int
    uses_surnumeraire: bool
    explanation: str


@dataclass(frozen=True, slots=True)
class Ranking:
    """The answer of ``rank``: best proposals first, and the slots each hard rule excluded."""

    request_id: int
    proposals: tuple[Proposal, ...]
    excluded: dict[str, int]
    feasible: int  # number of slots that passed every hard rule


def as_index(slots: SlotIndex | SlotPool) -> SlotIndex:
    return slots if isinstance(slots, SlotIndex) else SlotIndex.build(slots)


def rank(
    request: Request,
    slots: SlotIndex | SlotPool,
    *,
    now: int,
    k: int = 5,
    load: Load | None = None,
    weights: Weights | None = None,
) -> Ranking:
    """Rank the feasible slots of ``request`` by total cost (ties: earlier start, lower slot_id).

    The cost of a slot is the same as in ``plan`` for that request alone: edge
    terms plus the marginal surnuméraire and daily-fairness cost of one more
    patient given the current ``load``.
    """
    weights = weights or Weights()
    index = as_index(slots)
    validate_request(request, now)
    found = screen(index, request, now)
    daily, sas = index.load_vectors(load)
    cand = found.slots
    if not len(cand) or k <= 0:
        return Ranking(request.request_id, (), found.excluded, len(cand))
    rq = RequestArrays.build([request], now)
    km = found.km
    if len(cand) > LAZY_FACTOR * k:
        cand, km = _contenders(index, rq, cand, km, now, k, weights, daily, sas)
    terms = _all_terms(index, rq, cand, km, now, weights, daily, sas)
    total = np.sum(np.stack(list(terms.values())), axis=0)
    best = _top_k(total, index.pool.start[cand], index.pool.slot_id[cand], k)
    proposals = tuple(
        _proposal(
            index,
            request,
            int(cand[i]),
            km[i],
            {n: int(t[i]) for n, t in terms.items()},
            int(total[i]),
            int(daily[index.pd[cand[i]]]),
            now,
        )
        for i in best
    )
    return Ranking(request.request_id, proposals, found.excluded, len(found.slots))


LAZY_FACTOR = 8


def _all_terms(
    index: SlotIndex,
    rq: RequestArrays,
    cand: IntArray,
    km: FloatArray,
    now: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
) -> dict[str, IntArray]:
    req = np.zeros(len(cand), np.int64)
    terms = edge_terms(index, rq, req, cand, km, now, weights, sas)
    terms.update(slot_terms(index, cand, daily, weights))
    return terms


def _contenders(
    index: SlotIndex,
    rq: RequestArrays,
    cand: IntArray,
    km: FloatArray,
    now: int,
    k: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
) -> tuple[IntArray, FloatArray]:
    """The slots that can still be in the top k, without costing every feasible slot.

    The travel terms bound each full cost from below. Cost fully the 4k slots with
    the lowest bound; the k-th best of those caps the answer, and only slots whose
    bound does not exceed the cap can reach the top k (ties included).
    """
    req = np.zeros(len(cand), np.int64)
    travel = travel_terms(index, rq, req, cand, km, now, weights)
    bound = travel["distance"] + travel["wait"] + travel["deadline"]
    probe = np.argpartition(bound, 4 * k)[: 4 * k]
    probe_terms = _all_terms(index, rq, cand[probe], km[probe], now, weights, daily, sas)
    probe_total = np.sum(np.stack(list(probe_terms.values())), axis=0)
    cap = np.partition(probe_total, k - 1)[k - 1]
    keep = np.flatnonzero(bound <= cap)
    return cand[keep], km[keep]


def _top_k(total: IntArray, start: IntArray, slot_id: IntArray, k: int) -> IntArray:
    """Positions of the k cheapest, ordered by (cost, start, slot_id) — deterministic on ties."""
    if len(total) > k:
        kth = np.partition(total, k - 1)[k - 1]
        pool = np.flatnonzero(total <= kth)
    else:
        pool = np.arange(len(total))
    order = np.lexsort((slot_id[pool], start[pool], total[pool]))
    out: IntArray = pool[order[:k]]
    return out


def _proposal(
    index: SlotIndex,
    request: Request,
    slot: int,
    km: float,
    terms: dict[str, int],
    total: int,
    daily_load: int,
    now: int,
) -> Proposal:
    pool = index.pool
    wait = (int(pool.start[slot]) - now) // 60
    km_or_none = None if np.isnan(km) else float(km)
    professional = int(pool.professional[slot])
    sentence = describe(
        int(pool.slot_id[slot]), professional, km_or_none, wait, terms, daily_load + 1
    )
    sentence = with_medecin_traitant(sentence, professional == request.medecin_traitant)
    assert set(terms) >= set(EDGE_TERMS)
    return Proposal(
        slot_id=int(pool.slot_id[slot]),
        slot_index=slot,
        professional=professional,
        start=int(pool.start[slot]),
        cost=total,
        terms=terms,
        km=km_or_none,
        wait_minutes=wait,
        uses_surnumeraire=bool(pool.capacity[slot] <= 0),
        explanation=sentence,
    )
