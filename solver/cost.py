"""The cost terms, shared by ``rank`` (online) and ``plan`` (batch).

Every term is an integer ≥ 0 computed by one vectorised function, so the two
modes cannot drift apart. See ``docs/matching-model.md`` for the formulas.

Edge terms depend only on the (request, slot) pair and the load before the
decision. The two load-dependent terms of a *slot* (surnuméraire use and the
daily fairness marginal) are separate: the online mode charges them for the
next patient, the batch flow charges them on its capacity and fairness arcs.
"""

from __future__ import annotations

import numpy as np

from solver.candidates import RequestArrays
from solver.index import SlotIndex
from solver.types import BoolArray, FloatArray, IntArray
from solver.weights import Weights

EDGE_TERMS = (
    "distance",
    "wait",
    "deadline",
    "not_medecin_traitant",
    "other_cpts",
    "sas_weekly",
)
SLOT_TERMS = ("surnumeraire", "fairness_daily")
TERMS = EDGE_TERMS + SLOT_TERMS


def per_priority(values: tuple[int, ...], priority: IntArray) -> IntArray:
    """Vectorised ``Weights.for_priority``."""
    table = np.asarray(values, dtype=np.int64)
    out: IntArray = table[np.minimum(priority, len(table) - 1)]
    return out


def edge_terms(
    index: SlotIndex,
    rq: RequestArrays,
    req: IntArray,
    slot: IntArray,
    km: FloatArray,
    now: int,
    weights: Weights,
    sas_load: IntArray,
) -> dict[str, IntArray]:
    """Each edge term for the pairs (rq[req], pool[slot]); ``km`` is NaN for teleconsultation."""
    return {
        **travel_terms(index, rq, req, slot, km, now, weights),
        **choice_terms(
            index,
            slot,
            rq.medecin_traitant[req],
            rq.cpts[req],
            rq.is_sas[req],
            weights,
            sas_load,
        ),
    }


def choice_terms(
    index: SlotIndex,
    slot: IntArray,
    medecin_traitant: IntArray | int,
    own_cpts: IntArray | int,
    is_sas: BoolArray | bool,
    weights: Weights,
    sas_load: IntArray,
) -> dict[str, IntArray]:
    """The terms fixed by *who* the slot is with: médecin traitant, CPTS, SAS weekly load.

    The request's values (``medecin_traitant`` −1 when unknown) are per pair, or
    scalars when every pair is of one request (``rank``).
    """
    pool = index.pool
    zero = np.zeros(len(slot), np.int64)
    out = {
        "not_medecin_traitant": np.where(
            (np.asarray(medecin_traitant) >= 0) & (pool.professional[slot] != medecin_traitant),
            weights.not_medecin_traitant,
            zero,
        ),
        "other_cpts": np.where(pool.cpts[slot] != own_cpts, weights.other_cpts, zero),
        "sas_weekly": zero,
    }
    if np.any(is_sas):
        sas_next = sas_load[index.pw[slot]] + 1
        out["sas_weekly"] = np.where(
            is_sas,
            weights.sas_weekly_step_beyond_cap * np.maximum(sas_next - weights.sas_weekly_cap, 0),
            zero,
        )
    return out


def travel_terms(
    index: SlotIndex,
    rq: RequestArrays,
    req: IntArray,
    slot: IntArray,
    km: FloatArray,
    now: int,
    weights: Weights,
) -> dict[str, IntArray]:
    """Distance, wait and deadline-closeness: the terms fixed by where and when the slot is.

    Every other term is ≥ 0, so their sum is a lower bound of the full cost (used by
    ``rank`` to cost only the slots that can reach the top k).
    """
    return {
        "distance": distance_term(km, weights),
        **time_terms(
            index.pool.start[slot],
            now,
            rq.t0[req],
            rq.t1[req],
            per_priority(weights.deadline_closeness, rq.priority[req]),
            weights,
        ),
    }


def distance_term(km: FloatArray, weights: Weights) -> IntArray:
    """Travel cost; ``km`` is NaN for teleconsultation (no travel)."""
    # fmax drops the NaN (0 km); km is otherwise finite and ≥ 0. Cheaper than nan_to_num.
    out: IntArray = np.rint(np.fmax(km, 0.0) * weights.per_km).astype(np.int64)
    return out


def time_terms(
    start: IntArray,
    now: int,
    t0: IntArray | int,
    t1: IntArray | int,
    closeness: IntArray | int,
    weights: Weights,
) -> dict[str, IntArray]:
    """Wait and deadline-closeness of slots starting at ``start``; both grow with ``start``.

    ``closeness`` is the request's ``deadline_closeness`` entry (per its priority).
    """
    window = np.maximum(np.subtract(t1, t0), 1)
    return {
        "wait": weights.per_minute_wait * ((start - now) // 60),
        "deadline": closeness * (start - t0) // window,
    }


def edge_cost(
    index: SlotIndex,
    rq: RequestArrays,
    req: IntArray,
    slot: IntArray,
    km: FloatArray,
    now: int,
    weights: Weights,
    sas_load: IntArray,
) -> IntArray:
    """Sum of the edge terms (the cost of the request → slot arc in the batch flow)."""
    terms = edge_terms(index, rq, req, slot, km, now, weights, sas_load)
    total: IntArray = np.sum(np.stack(list(terms.values())), axis=0) if len(req) else np.zeros(
        0, np.int64
    )
    return total


def slot_terms(
    index: SlotIndex, slot: IntArray, daily_load: IntArray, weights: Weights
) -> dict[str, IntArray]:
    """Cost of giving the *next* patient to each slot, given the current load.

    Surnuméraire is charged when no planned capacity remains; fairness is the
    marginal cost of the (load + 1)-th SNP patient of the professional's day.
    """
    pool = index.pool
    return {
        "surnumeraire": np.where(pool.capacity[slot] > 0, 0, weights.surnumeraire).astype(
            np.int64
        ),
        "fairness_daily": weights.fairness_daily_step * daily_load[index.pd[slot]],
    }


def daily_marginals(weights: Weights, load: IntArray, count: IntArray) -> IntArray:
    """Sum over k = 1..count of the daily marginal of the (load + k)-th patient."""
    # step × Σ_{k=1..c} (L + k − 1) = step × (c·L + c(c−1)/2)
    out: IntArray = weights.fairness_daily_step * (count * load + count * (count - 1) // 2)
    return out


def sas_marginals(weights: Weights, load: IntArray, count: IntArray) -> IntArray:
    """Sum over k = 1..count of the SAS weekly marginal of the (load + k)-th consultation."""
    cap = weights.sas_weekly_cap
    # number of consultations beyond the cap among load+1..load+count, and their excess
    first = np.maximum(load + 1, cap + 1)
    last = load + count
    n = np.maximum(last - first + 1, 0)
    excess_sum = n * (first - cap + last - cap) // 2
    out: IntArray = weights.sas_weekly_step_beyond_cap * excess_sum
    return out
