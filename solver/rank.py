"""Online mode: the k best slots for one request, each with its cost broken down.

Neither the exclusion counts nor the ranking read every candidate slot: counts come
from per-group prefix counts (``RankGroups``), and only the slots whose lower bound
can reach the top k are costed. ``candidates.screen`` (slot by slot) is the
reference the tests compare against. See ``docs/matching-model.md``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from solver.candidates import PLACED_MODALITIES, RULES, expand_ranges
from solver.cost import EDGE_TERMS, choice_terms, distance_term, slot_terms, time_terms
from solver.distance import EARTH_RADIUS_KM, haversine_km
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
    # the same arrays for every call without a load (cached by identity in the index)
    daily, sas = index.load_vectors(_NO_LOAD if load is None else load)
    query = _Query.of(request, now, weights, daily, sas)
    slot, km = _contenders(index, found, query, k)
    terms = _terms(index, query, slot, km)
    total = sum(terms.values())
    assert isinstance(total, np.ndarray)
    best = _top_k(total, index.pool.start[slot], index.pool.slot_id[slot], k)
    proposals = _proposals(
        index, query, slot[best], km[best], {n: t[best] for n, t in terms.items()}, total[best]
    )
    return Ranking(request.request_id, proposals, found.excluded, found.feasible)


_NO_LOAD = Load()


@dataclass(frozen=True, slots=True)
class _Query:
    """One request's values the cost terms read, as scalars."""

    request: Request
    now: int
    weights: Weights
    t0: int
    t1: int
    closeness: int  # deadline_closeness for the request's priority
    medecin_traitant: int  # −1 when unknown
    is_sas: bool
    daily: IntArray  # load per (professional, day) id
    sas: IntArray  # SAS load per (professional, week) id

    @staticmethod
    def of(request: Request, now: int, weights: Weights, daily: IntArray, sas: IntArray) -> _Query:
        mt = request.medecin_traitant
        return _Query(
            request,
            now,
            weights,
            max(now, request.earliest),
            request.deadline,
            weights.for_priority(weights.deadline_closeness, request.priority),
            -1 if mt is None else mt,
            request.origin == Origin.SAS,
            daily,
            sas,
        )


def _terms(index: SlotIndex, q: _Query, slot: IntArray, km: FloatArray) -> dict[str, IntArray]:
    """Every term of every slot for the request: ``edge_terms`` and ``slot_terms`` of
    ``solver.cost``, fed with the request's scalars instead of per-pair arrays."""
    w = q.weights
    return {
        "distance": distance_term(km, w),
        **time_terms(index.pool.start[slot], q.now, q.t0, q.t1, q.closeness, w),
        **choice_terms(index, slot, q.medecin_traitant, q.request.cpts, q.is_sas, w, q.sas),
        **slot_terms(index, slot, q.daily, w),
    }


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
    mods = _modalities(request.modalities)
    excluded["modality"] = int(prof.modality_counts[mods.rejected].sum())
    codes = request.allowed_cpts | {request.cpts}
    gr = prof.groups
    parts_g: list[IntArray] = []
    parts_km: list[FloatArray] = []
    in_window_max = 0  # slots in radius with an accepted modality
    if mods.placed and prof.tree is not None:
        sites, km_site = _sites_in_radius(prof, request, codes)
        parts_g.append(sites)
        parts_km.append(km_site)
    if mods.tele and len(prof.tele):
        parts_g.append(gr.tele_groups)
        parts_km.append(gr.tele_km)
        in_window_max += len(prof.tele)
    if not parts_g:
        return _Found(excluded, 0)
    group = np.concatenate(parts_g) if len(parts_g) > 1 else parts_g[0]
    km = np.concatenate(parts_km) if len(parts_km) > 1 else parts_km[0]
    # whole groups; _window corrects those the window cuts. np.take on axis 0 gathers
    # rows several times faster than fancy indexing of a 2-D array
    diff = np.take(gr.totals, group, axis=0)
    if mods.placed and prof.tree is not None:
        in_ball = int(diff[: len(parts_g[0])][:, mods.placed].sum())
        excluded["too_far"] = int(prof.modality_counts[mods.placed].sum()) - in_ball
        in_window_max += in_ball
    t0, t1 = max(now, request.earliest), request.deadline
    lo, hi = _window(gr, group, diff, t0, t1, index.time_offset, index.time_span)
    cols = mods.accepted_cols
    n_acc = diff[:, cols].sum(axis=1)
    excluded["outside_time_window"] = in_window_max - int(n_acc.sum())
    accepted = mods.accepted
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
    if len(gr.empty.positions):
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


@dataclass(frozen=True, slots=True)
class _Modalities:
    """What a set of accepted modalities selects (the same few sets recur: cached)."""

    accepted: BoolArray  # per Modality
    rejected: BoolArray
    accepted_cols: IntArray  # columns of RankGroups.counts: accepted modalities
    placed: list[int]  # accepted in-person / home-visit modalities
    tele: bool
    # by RankGroups.rule_code (modality, SAS reservation): may the slot be proposed, for
    # a request from a CPTS line [0] or from the SAS [1] (capacity aside)
    slot_ok: tuple[BoolArray, BoolArray]


@functools.lru_cache(maxsize=64)
def _modalities(modalities: frozenset[Modality]) -> _Modalities:
    accepted = np.array([m in modalities for m in Modality], dtype=bool)
    return _Modalities(
        accepted,
        ~accepted,
        np.flatnonzero(accepted),
        [int(m) for m in PLACED_MODALITIES if accepted[m]],
        bool(accepted[Modality.TELECONSULTATION]),
        (np.repeat(accepted, 2) & np.tile([True, False], 3), np.repeat(accepted, 2)),
    )


def _sites_in_radius(
    prof: ProfessionIndex, request: Request, codes: frozenset[int]
) -> tuple[IntArray, FloatArray]:
    """Sites within the radius (ascending) and their distance in km.

    Sites are numbered by latitude, so the sites that can be within the radius are one
    contiguous band; a dot product with the request's unit vector keeps the band's
    sites whose chord is within the radius (inflated, as for the KD-tree query). The
    rule itself is the haversine distance; it is computed only where it decides (near
    the rim) or is needed for the cost (groups of an allowed or mixed CPTS): the
    other sites are inside by a margin far above rounding errors, and their km is
    NaN (never read). Cheaper than the tree's query, whose answer is a Python list.
    """
    angle = min(request.radius_km / EARTH_RADIUS_KM, math.pi)
    band = math.degrees(angle) + 1e-9  # |Δ latitude| never exceeds the great-circle angle
    first = int(np.searchsorted(prof.site_lat, request.lat - band, "left"))
    last = int(np.searchsorted(prof.site_lat, request.lat + band, "right"))
    phi, lam = math.radians(request.lat), math.radians(request.lon)
    x, y, z = math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)
    unit = prof.groups.site_unit
    dot = unit[0, first:last] * x + unit[1, first:last] * y + unit[2, first:last] * z
    # squared chord = 2 (1 − dot); the rim's chord is 2 sin(angle / 2)
    rim = 2.0 * math.sin(angle / 2)
    outer = 1.0 - (rim * (1 + 1e-9) + 1e-12) ** 2 / 2 - 1e-12
    inner = 1.0 - (rim * rim * (1 - 1e-6) - 1e-13) / 2
    sites = first + np.flatnonzero(dot >= outer)
    surely_in = dot[sites - first] >= inner
    group_cpts = prof.groups.group_cpts[sites]
    measure = ~surely_in | _member(group_cpts, codes) | (group_cpts < 0)
    km_site = np.full(len(sites), np.nan)
    at = np.flatnonzero(measure)
    km_site[at] = haversine_km(
        request.lat, request.lon, prof.site_lat[sites[at]], prof.site_lon[sites[at]]
    )
    near = surely_in | (km_site <= request.radius_km)
    return sites[near], km_site[near]


def _window(
    gr: RankGroups,
    group: IntArray,
    diff: npt.NDArray[np.int32],
    t0: int,
    t1: int,
    offset: int,
    span: int,
) -> tuple[IntArray, IntArray]:
    """Per group, the group-order range of its slots starting in [t0, t1]; ``diff``
    (the groups' whole ``totals``) becomes the ``counts`` row of that range.

    Most groups lie wholly inside the window (their bounds and counts are read from
    small per-group arrays); only the others need a binary search and the prefix
    counts, which are the large, cache-missing arrays.
    """
    lo = gr.begin[group]
    hi = gr.begin[group + 1]
    late, early = gr.first_start[group] < t0, gr.last_start[group] > t1
    if late.any():
        cut = np.flatnonzero(late)
        rel = min(max(t0 - offset, 0), span - 1)
        lo[cut] = gr.search(group[cut] * span + rel, "left")
    if early.any():
        cut = np.flatnonzero(early)
        rel = min(max(t1 - offset, 0), span - 1)
        hi[cut] = gr.search(group[cut] * span + rel, "right")
    cut = np.flatnonzero(late | early)
    if len(cut):
        diff[cut] = np.take(gr.counts, hi[cut], axis=0) - np.take(gr.counts, lo[cut], axis=0)
    return lo, hi


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


def _contenders(
    index: SlotIndex, found: _Found, q: _Query, k: int
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
    w = q.weights
    const = distance_term(found.km, w)
    const += np.where(gr.group_cpts[found.group] != q.request.cpts, w.other_cpts, 0)
    if q.medecin_traitant >= 0:
        prof_of = gr.group_professional[found.group]
        const += np.where(
            (prof_of >= 0) & (prof_of != q.medecin_traitant), w.not_medecin_traitant, 0
        )
    loose = len(found.loose)
    if loose:
        const = np.concatenate([const, distance_term(found.loose_km, w)])
        all_km = np.concatenate([found.km, found.loose_km])
    else:
        all_km = found.km

    slot_ok = _modalities(q.request.modalities).slot_ok[q.is_sas]

    def feasible_bounded(
        owner: IntArray, pos: IntArray
    ) -> tuple[IntArray, IntArray, IntArray]:
        """Of slots ``pos`` (groups ``owner``) and the loose ones, the feasible ones,
        their group (index into ``const``) and bound."""
        ok = slot_ok[gr.rule_code[pos]] & (prof.lane_units[gr.order[pos]] > 0)
        owner, pos = owner[ok], pos[ok]
        if loose:
            owner = np.concatenate([owner, len(found.lo) + np.arange(loose)])
            pos = np.concatenate([pos, found.loose])
        times = time_terms(gr.start[pos], q.now, q.t0, q.t1, q.closeness, w)
        bound = const[owner] + times["wait"] + times["deadline"]
        return pos, owner, bound

    cap: int | None = None
    if found.feasible > LAZY_FACTOR * k:
        first = found.lo[:, None] + np.arange(PROBES_PER_GROUP)  # a few first slots per group
        inside = first < found.hi[:, None]
        pos, owner, bound = feasible_bounded(np.nonzero(inside)[0], first[inside])
        if len(pos) >= k:
            best = np.argpartition(bound, min(4 * k, len(pos) - 1))[: 4 * k]
            terms = _terms(index, q, gr.slot[pos[best]], all_km[owner[best]])
            cap = int(np.partition(sum(terms.values()), k - 1)[k - 1])
    hi = found.hi
    if cap is not None and w.per_minute_wait > 0:
        hi = _wait_cutoff(index, found, cap - const[: len(found.lo)], q, w.per_minute_wait)
    pos, owner, bound = feasible_bounded(*expand_ranges(found.lo, hi))
    if cap is not None:
        keep = bound <= cap
        pos, owner = pos[keep], owner[keep]
    return gr.slot[pos], all_km[owner]


def _wait_cutoff(
    index: SlotIndex, found: _Found, room: IntArray, q: _Query, per_minute: int
) -> IntArray:
    """Per group, the end of the in-window slots whose wait term is at most ``room``.

    wait = per_minute · ⌊(start − now)/60⌋ ≤ room  ⇔  start < now + 60 · (⌊room/per_minute⌋ + 1).
    """
    gr = found.prof.groups if found.prof is not None else None
    assert gr is not None
    last = q.now + 60 * (room // per_minute + 1) - 1
    # np.minimum / np.maximum: np.clip's Python wrapper costs more than the work here
    rel = np.maximum(np.minimum(last, q.t1) - index.time_offset, 0)
    rel = np.minimum(rel, index.time_span - 1)
    hi = gr.search(found.group * index.time_span + rel, "right")
    out: IntArray = np.where(room < 0, found.lo, np.maximum(np.minimum(hi, found.hi), found.lo))
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


def _proposals(
    index: SlotIndex,
    q: _Query,
    slot: IntArray,
    km: FloatArray,
    terms: dict[str, IntArray],
    total: IntArray,
) -> tuple[Proposal, ...]:
    """The chosen slots as proposals (arrays turned into Python values once, not per field)."""
    pool = index.pool
    assert set(terms) >= set(EDGE_TERMS)
    columns = {name: values.tolist() for name, values in terms.items()}
    rows = zip(
        slot.tolist(),
        km.tolist(),
        total.tolist(),
        pool.slot_id[slot].tolist(),
        pool.professional[slot].tolist(),
        pool.start[slot].tolist(),
        pool.capacity[slot].tolist(),
        q.daily[index.pd[slot]].tolist(),
        strict=True,
    )
    out = []
    for r, (position, km_r, cost, slot_id, professional, start, capacity, load) in enumerate(rows):
        named = {name: values[r] for name, values in columns.items()}
        wait = (start - q.now) // 60
        km_or_none = None if math.isnan(km_r) else km_r
        sentence = describe(slot_id, professional, km_or_none, wait, named, load + 1)
        sentence = with_medecin_traitant(sentence, professional == q.request.medecin_traitant)
        out.append(
            Proposal(
                slot_id=slot_id,
                slot_index=position,
                professional=professional,
                start=start,
                cost=cost,
                terms=named,
                km=km_or_none,
                wait_minutes=wait,
                uses_surnumeraire=capacity <= 0,
                explanation=sentence,
            )
        )
    return tuple(out)
