"""Online mode: the k best slots for one request, each with its cost broken down."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from solver.candidates import PLACED_MODALITIES, RULES, RequestArrays, expand_ranges
from solver.cost import EDGE_TERMS, distance_term, edge_terms, slot_terms, time_terms
from solver.distance import EARTH_RADIUS_KM, chord_for_km, haversine_km
from solver.explain import describe, with_medecin_traitant
from solver.index import ProfessionIndex, RankGroups, SlotIndex
from solver.types import (
    BoolArray,
    FloatArray,
    IntArray,
    Load,
    Modality,
    Origin,
    Request,
    SlotPool,
)
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


_DEFAULT_WEIGHTS = Weights()
LAZY_FACTOR = 8  # with at most LAZY_FACTOR * k feasible slots, cost them all
PROBES_PER_GROUP = 2


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
    weights = weights or _DEFAULT_WEIGHTS
    index = as_index(slots)
    validate_request(request, now)
    found = _search(index, request, now)
    if not found.feasible or k <= 0 or found.prof is None:
        return Ranking(request.request_id, (), found.excluded, found.feasible)
    daily, sas = index.load_vectors(load)
    rq = RequestArrays.build([request], now)
    cand, km = _contenders(index, found, rq, now, k, weights, daily, sas)
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
    return Ranking(request.request_id, proposals, found.excluded, found.feasible)


@dataclass(frozen=True, slots=True)
class _Found:
    """What ``_search`` learnt: counts, and where the feasible slots are.

    ``lo``/``hi`` bound, in group order, the in-window slots of each group whose CPTS
    is allowed as a whole; ``loose`` are the feasible slots of groups with mixed CPTS.
    """

    excluded: dict[str, int]
    feasible: int
    prof: ProfessionIndex | None = None
    accepted: BoolArray = field(default_factory=lambda: np.zeros(3, bool))
    group: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    lo: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    hi: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    km: FloatArray = field(default_factory=lambda: np.zeros(0))
    loose: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    loose_km: FloatArray = field(default_factory=lambda: np.zeros(0))


def _search(index: SlotIndex, request: Request, now: int) -> _Found:
    """Exclusion counts per rule and the feasible groups, reading counts, not slots.

    Same rules, order and counts as ``candidates.screen`` (tested against it).
    """
    excluded = dict.fromkeys(RULES, 0)
    prof = index.professions.get(request.profession)
    if prof is None:
        excluded["profession"] = len(index.pool)
        return _Found(excluded, 0)
    excluded["profession"] = len(index.pool) - prof.size
    accepted = np.array([m in request.modalities for m in Modality], dtype=bool)
    excluded["modality"] = int(prof.modality_counts[~accepted].sum())
    gr = prof.groups
    parts_g: list[IntArray] = []
    parts_km: list[FloatArray] = []
    in_window_max = 0  # slots in radius with an accepted modality
    placed_mods = [int(m) for m in PLACED_MODALITIES if accepted[m]]
    if placed_mods and prof.tree is not None:
        sites, km_site, in_ball = _sites_in_radius(prof, request, placed_mods)
        excluded["too_far"] = int(prof.modality_counts[placed_mods].sum()) - in_ball
        in_window_max += in_ball
        parts_g.append(sites)
        parts_km.append(km_site)
    if accepted[Modality.TELECONSULTATION] and len(prof.tele):
        parts_g.append(np.arange(gr.n_sites, len(gr.group_cpts), dtype=np.int64))
        parts_km.append(np.full(len(gr.group_cpts) - gr.n_sites, np.nan))
        in_window_max += len(prof.tele)
    if not parts_g:
        return _Found(excluded, 0)
    group = np.concatenate(parts_g) if len(parts_g) > 1 else parts_g[0]
    km = np.concatenate(parts_km) if len(parts_km) > 1 else parts_km[0]
    span, offset = index.time_span, index.time_offset
    t0, t1 = max(now, request.earliest), request.deadline
    lo, hi, diff = _window(gr, group, t0, t1, offset, span)
    cols = np.flatnonzero(accepted)
    n_acc = diff[:, cols].sum(axis=1)
    excluded["outside_time_window"] = in_window_max - int(n_acc.sum())
    codes = request.allowed_cpts | {request.cpts}
    group_cpts = gr.group_cpts[group]
    allowed = _member(group_cpts, codes)
    mixed = group_cpts < 0
    is_sas = request.origin == Origin.SAS
    n_free = n_acc if is_sas else n_acc - diff[:, cols + 3].sum(axis=1)
    counts = {
        "no_capacity": 0,
        "not_mutualised": int(n_acc[~allowed & ~mixed].sum()),
        "sas_reserved": int((n_acc - n_free)[allowed].sum()),
        "feasible": int(n_free[allowed].sum()),
    }
    _count_empty(prof, accepted, is_sas, lo[~mixed], hi[~mixed], allowed[~mixed], counts)
    loose, loose_km = np.zeros(0, np.int64), np.zeros(0)
    if mixed.any():
        loose, owner = _screen_mixed(prof, accepted, is_sas, codes, lo[mixed], hi[mixed], counts)
        loose_km = km[mixed][owner]
    for rule in ("no_capacity", "not_mutualised", "sas_reserved"):
        excluded[rule] = counts[rule]
    keep = allowed & (hi > lo)
    return _Found(
        excluded,
        counts["feasible"],
        prof,
        accepted,
        group[keep],
        lo[keep],
        hi[keep],
        km[keep],
        loose,
        loose_km,
    )


def _sites_in_radius(
    prof: ProfessionIndex, request: Request, placed_mods: list[int]
) -> tuple[IntArray, FloatArray, int]:
    """Sites within the radius (ascending), their distance, and their slots with an
    accepted modality.

    Sites are numbered by latitude, so the sites that can be within the radius are one
    contiguous band; a dot product with the request's unit vector (against the same
    slightly inflated chord as the KD-tree query) keeps those in the ball, and the
    rule itself is applied on the haversine distance. Cheaper than the tree's query
    when the ball holds thousands of sites (its answer is a Python list).
    """
    angle = request.radius_km / EARTH_RADIUS_KM
    band = math.degrees(angle) + 1e-9  # |Δ latitude| never exceeds the great-circle angle
    first = int(np.searchsorted(prof.site_lat, request.lat - band, "left"))
    last = int(np.searchsorted(prof.site_lat, request.lat + band, "right"))
    phi, lam = math.radians(request.lat), math.radians(request.lon)
    x, y, z = math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)
    unit = prof.groups.site_unit
    dot = unit[0, first:last] * x + unit[1, first:last] * y + unit[2, first:last] * z
    chord = float(chord_for_km(request.radius_km))
    sites = first + np.flatnonzero(dot >= 1.0 - chord * chord / 2 - 1e-12)
    km_site = haversine_km(request.lat, request.lon, prof.site_lat[sites], prof.site_lon[sites])
    near = km_site <= request.radius_km
    sites, km_site = sites[near], km_site[near]
    in_ball = int(prof.site_modality_counts[sites][:, placed_mods].sum())
    return sites, km_site, in_ball


def _window(
    gr: RankGroups, group: IntArray, t0: int, t1: int, offset: int, span: int
) -> tuple[IntArray, IntArray, npt.NDArray[np.int32]]:
    """Per group, the group-order range of its slots starting in [t0, t1], and the
    ``counts`` row of that range.

    Most groups lie wholly inside the window (their bounds and counts are read from
    small per-group arrays); only the others need a binary search and the prefix
    counts, which are the large, cache-missing arrays.
    """
    lo = gr.begin[group]
    hi = gr.begin[group + 1]
    diff = gr.totals[group]
    late, early = gr.first_start[group] < t0, gr.last_start[group] > t1
    if late.any():
        cut = np.flatnonzero(late)
        rel = min(max(t0 - offset, 0), span - 1)
        lo[cut] = np.searchsorted(gr.key, group[cut] * span + rel, "left")
    if early.any():
        cut = np.flatnonzero(early)
        rel = min(max(t1 - offset, 0), span - 1)
        hi[cut] = np.searchsorted(gr.key, group[cut] * span + rel, "right")
    cut = np.flatnonzero(late | early)
    if len(cut):
        diff[cut] = gr.counts[hi[cut]] - gr.counts[lo[cut]]
    return lo, hi, diff


def _member(values: IntArray, codes: frozenset[int]) -> BoolArray:
    """``np.isin(values, codes)`` for a handful of codes, without isin's overhead."""
    out: BoolArray = np.zeros(len(values), bool)
    for code in codes:
        out |= values == code
    return out


def _count_empty(
    prof: ProfessionIndex,
    accepted: BoolArray,
    is_sas: bool,
    lo: IntArray,
    hi: IntArray,
    allowed: BoolArray,
    counts: dict[str, int],
) -> None:
    """Move the slots with no unit left, in groups of one CPTS, to ``no_capacity``.

    The prefix counts assumed every slot had capacity; only the (few) empty
    slots are read, through the sorted set ``take`` keeps up to date.
    """
    held = prof.groups.empty.positions
    if not len(held) or not len(lo):
        return
    owner, at = expand_ranges(np.searchsorted(held, lo), np.searchsorted(held, hi))
    pos = held[at]
    ok = accepted[prof.groups.modality[pos]]
    pos, in_allowed = pos[ok], allowed[owner[ok]]
    reserved = prof.groups.sas[pos] & (not is_sas)
    counts["no_capacity"] += len(pos)
    counts["not_mutualised"] -= int((~in_allowed).sum())
    counts["sas_reserved"] -= int((in_allowed & reserved).sum())
    counts["feasible"] -= int((in_allowed & ~reserved).sum())


def _screen_mixed(
    prof: ProfessionIndex,
    accepted: BoolArray,
    is_sas: bool,
    codes: frozenset[int],
    lo: IntArray,
    hi: IntArray,
    counts: dict[str, int],
) -> tuple[IntArray, IntArray]:
    """Slot by slot, in groups whose slots belong to several CPTS: add the counts,
    return the feasible slots (group order) and their group (index into lo/hi)."""
    gr = prof.groups
    owner, pos = expand_ranges(lo, hi)
    ok = accepted[gr.modality[pos]]
    owner, pos = owner[ok], pos[ok]
    keep = prof.lane_units[gr.order[pos]] > 0
    counts["no_capacity"] += int((~keep).sum())
    mutualised = _member(gr.cpts[pos], codes)
    counts["not_mutualised"] += int((keep & ~mutualised).sum())
    keep &= mutualised
    free = ~gr.sas[pos] | is_sas
    counts["sas_reserved"] += int((keep & ~free).sum())
    keep &= free
    counts["feasible"] += int(keep.sum())
    return pos[keep], owner[keep]


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
    found: _Found,
    rq: RequestArrays,
    now: int,
    k: int,
    weights: Weights,
    daily: IntArray,
    sas: IntArray,
) -> tuple[IntArray, FloatArray]:
    """Pool positions (and km) of a set of feasible slots that holds the top k, ties included.

    Every cost is at least its *bound*: distance + wait + deadline-closeness, plus the
    own-CPTS and médecin-traitant charges when the slot's whole group pays them (every
    other term is ≥ 0). Within a group the bound grows with the start time. Cost fully
    the 4k lowest-bound slots among the first few feasible ones of each group: the
    k-th best of them caps the answer. Only slots whose bound does not exceed the cap
    can be in the top k (ties included); per group they start no later than the time
    at which the wait alone would exceed the cap, so only that prefix is read.
    """
    prof = found.prof
    assert prof is not None
    gr = prof.groups
    request = rq.requests[0]
    const = distance_term(found.km, weights)
    const += np.where(gr.group_cpts[found.group] != request.cpts, weights.other_cpts, 0)
    if request.medecin_traitant is not None:
        prof_of = gr.group_professional[found.group]
        const += np.where((prof_of >= 0) & (prof_of != request.medecin_traitant),
                          weights.not_medecin_traitant, 0)
    loose_const = distance_term(found.loose_km, weights)
    closeness = weights.for_priority(weights.deadline_closeness, request.priority)
    t0, t1 = int(rq.t0[0]), int(rq.t1[0])

    def feasible_bounded(
        lo: IntArray, hi: IntArray, group_const: IntArray
    ) -> tuple[IntArray, IntArray, IntArray]:
        owner, pos = expand_ranges(lo, hi)
        ok = found.accepted[gr.modality[pos]] & (prof.lane_units[gr.order[pos]] > 0)
        if request.origin != Origin.SAS:
            ok &= ~gr.sas[pos]
        owner, pos = owner[ok], pos[ok]
        owner = np.concatenate([owner, len(group_const) + np.arange(len(found.loose))])
        pos = np.concatenate([pos, found.loose])
        start = gr.start[pos]
        times = time_terms(start, now, t0, t1, closeness, weights)
        bound = np.concatenate([group_const, loose_const])[owner] + times["wait"] + times[
            "deadline"
        ]
        return pos, owner, bound

    cap: int | None = None
    if found.feasible > LAZY_FACTOR * k:
        probe_hi = np.minimum(found.hi, found.lo + PROBES_PER_GROUP)
        pos, owner, bound = feasible_bounded(found.lo, probe_hi, const)
        if len(pos) >= k:
            best = np.argpartition(bound, min(4 * k, len(pos) - 1))[: 4 * k]
            slot = gr.slot[pos[best]]
            km = np.concatenate([found.km, found.loose_km])[owner[best]]
            terms = _all_terms(index, rq, slot, km, now, weights, daily, sas)
            total = np.sum(np.stack(list(terms.values())), axis=0)
            cap = int(np.partition(total, k - 1)[k - 1])
    hi = found.hi
    if cap is not None and weights.per_minute_wait > 0:
        hi = _wait_cutoff(index, found, cap - const, now, t1, weights.per_minute_wait)
    pos, owner, bound = feasible_bounded(found.lo, hi, const)
    if cap is not None:
        keep = bound <= cap
        pos, owner = pos[keep], owner[keep]
    km = np.concatenate([found.km, found.loose_km])[owner]
    return gr.slot[pos], km


def _wait_cutoff(
    index: SlotIndex, found: _Found, room: IntArray, now: int, t1: int, per_minute: int
) -> IntArray:
    """Per group, the end of the in-window slots whose wait term is at most ``room``.

    wait = per_minute · ⌊(start − now)/60⌋ ≤ room  ⇔  start < now + 60 · (⌊room/per_minute⌋ + 1).
    """
    gr = found.prof.groups if found.prof is not None else None
    assert gr is not None
    last = now + 60 * (room // per_minute + 1) - 1
    rel = np.clip(np.minimum(last, t1) - index.time_offset, 0, index.time_span - 1)
    hi = np.searchsorted(gr.key, found.group * index.time_span + rel, "right")
    out: IntArray = np.where(room < 0, found.lo, np.clip(hi, found.lo, found.hi))
    return out


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
