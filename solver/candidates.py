"""Candidate generation: which slots satisfy every hard rule for a request.

Hard rules, applied in this order (the order matters only for the counts of
excluded slots shown to the operator, each slot being counted under the first
rule it fails):

1. ``profession``  — the slot's profession is the one requested;
2. ``modality``    — the slot's modality is accepted by the request;
3. ``too_far``     — great-circle distance ≤ the request's radius (not for teleconsultation);
4. ``outside_time_window`` — start in [max(now, earliest), deadline];
5. ``no_capacity`` — remaining capacity + surnuméraire > 0;
6. ``not_mutualised`` — slot CPTS is the request's CPTS or one with an agreement;
7. ``sas_reserved`` — SAS-reserved slots only for SAS requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from solver.distance import chord_for_km, haversine_km, haversine_pairs_km, unit_vectors
from solver.index import ProfessionIndex, SlotIndex
from solver.types import BoolArray, FloatArray, IntArray, Modality, Origin, Request

RULES = (
    "profession",
    "modality",
    "too_far",
    "outside_time_window",
    "no_capacity",
    "not_mutualised",
    "sas_reserved",
)
PLACED_MODALITIES = (Modality.IN_PERSON, Modality.HOME_VISIT)


def expand_ranges(lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """For ranges [lo_k, hi_k), return (k, position) for every position, vectorised."""
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(total, dtype=np.int64) - np.repeat(starts - lo, counts)
    return owner, pos


@dataclass(frozen=True, slots=True)
class Screen:
    """Feasible slots of one request (pool positions) and counts of excluded slots."""

    slots: IntArray
    km: FloatArray  # NaN for teleconsultation
    excluded: dict[str, int]


def screen(index: SlotIndex, request: Request, now: int) -> Screen:
    """All feasible slots of one request, with how many slots each hard rule excluded."""
    pool = index.pool
    excluded = dict.fromkeys(RULES, 0)
    prof = index.professions.get(request.profession)
    if prof is None:
        excluded["profession"] = len(pool)
        return Screen(np.zeros(0, np.int64), np.zeros(0), excluded)
    excluded["profession"] = len(pool) - prof.size
    accepted = np.array([m in request.modalities for m in Modality], dtype=bool)
    excluded["modality"] = int(prof.modality_counts[~accepted].sum())
    t0, t1 = max(now, request.earliest), request.deadline
    parts_pos: list[IntArray] = []  # positions in the profession's lane
    parts_km: list[FloatArray] = []
    placed_mods = [int(m) for m in PLACED_MODALITIES if accepted[m]]
    if placed_mods and prof.tree is not None:
        pos, km, too_far, late = _placed_candidates(
            index, prof, request, accepted, placed_mods, t0, t1
        )
        excluded["too_far"] = too_far
        excluded["outside_time_window"] += late
        parts_pos.append(pos)
        parts_km.append(km)
    if accepted[Modality.TELECONSULTATION] and len(prof.tele):
        lo = int(np.searchsorted(prof.tele_start, t0, "left"))
        hi = int(np.searchsorted(prof.tele_start, t1, "right"))
        excluded["outside_time_window"] += len(prof.tele) - (hi - lo)
        parts_pos.append(len(prof.placed) + np.arange(lo, hi, dtype=np.int64))
        parts_km.append(np.full(hi - lo, np.nan))
    if not parts_pos:
        return Screen(np.zeros(0, np.int64), np.zeros(0), excluded)
    pos = np.concatenate(parts_pos)
    km = np.concatenate(parts_km)
    cpts = prof.lane_cpts[pos]
    mutualised = cpts == request.cpts
    others = np.flatnonzero(~mutualised)
    if len(others) and request.allowed_cpts:
        allowed = np.fromiter(request.allowed_cpts, np.int64)
        mutualised[others] = np.isin(cpts[others], allowed)
    keep = np.ones(len(pos), bool)
    for rule, ok in (
        ("no_capacity", prof.lane_units[pos] > 0),
        ("not_mutualised", mutualised),
        ("sas_reserved", ~prof.lane_sas[pos] | (request.origin == Origin.SAS)),
    ):
        excluded[rule] = int((keep & ~ok).sum())
        keep &= ok
    return Screen(prof.lane[pos[keep]], km[keep], excluded)


def _placed_candidates(
    index: SlotIndex,
    prof: ProfessionIndex,
    request: Request,
    accepted: BoolArray,
    placed_mods: list[int],
    t0: int,
    t1: int,
) -> tuple[IntArray, FloatArray, int, int]:
    """Lane positions of the placed slots in radius and window, with an accepted modality."""
    assert prof.tree is not None
    offset, span = index.time_offset, index.time_span
    xyz = unit_vectors(np.array([request.lat]), np.array([request.lon]))[0]
    sites = np.asarray(
        prof.tree.query_ball_point(xyz, float(chord_for_km(request.radius_km))), dtype=np.int64
    )
    km_site = haversine_km(request.lat, request.lon, prof.site_lat[sites], prof.site_lon[sites])
    near = km_site <= request.radius_km
    sites, km_site = sites[near], km_site[near]
    in_ball = int(prof.site_modality_counts[sites][:, placed_mods].sum())
    too_far = int(prof.modality_counts[placed_mods].sum()) - in_ball
    base = sites * span
    lo = np.searchsorted(prof.placed_key, base + _clip(t0 - offset, span), "left")
    hi = np.searchsorted(prof.placed_key, base + _clip(t1 - offset, span), "right")
    owner, pos = expand_ranges(lo, hi)
    ok = accepted[prof.lane_modality[pos]]
    pos, km = pos[ok], km_site[owner][ok]
    return pos, km, too_far, in_ball - len(pos)


def _clip(rel: int | IntArray, span: int) -> IntArray:
    out: IntArray = np.clip(rel, 0, span - 1)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class RequestArrays:
    """The requests of a batch as parallel arrays (position = request order)."""

    requests: Sequence[Request]
    lat: FloatArray
    lon: FloatArray
    radius: FloatArray
    profession: IntArray
    modality_mask: IntArray  # bit m set when Modality m is accepted
    t0: IntArray
    t1: IntArray
    priority: IntArray
    medecin_traitant: IntArray  # -1 when unknown
    cpts: IntArray
    is_sas: BoolArray
    allowed_keys: IntArray  # sorted (position << 40 | cpts) for every allowed CPTS
    allowed_bits: IntArray | None  # bit c set when CPTS c is allowed; None unless all c < 63

    @staticmethod
    def build(requests: Sequence[Request], now: int) -> RequestArrays:
        n = len(requests)
        allowed: list[int] = []
        bits: list[int] = []
        for i, r in enumerate(requests):
            codes = r.allowed_cpts | {r.cpts}
            allowed.extend((i << 40) | c for c in codes)
            bits.append(sum(1 << c for c in codes) if all(0 <= c < 63 for c in codes) else -1)
        allowed_bits = np.array(bits, np.int64) if all(b >= 0 for b in bits) else None
        return RequestArrays(
            requests=requests,
            lat=np.fromiter((r.lat for r in requests), np.float64, n),
            lon=np.fromiter((r.lon for r in requests), np.float64, n),
            radius=np.fromiter((r.radius_km for r in requests), np.float64, n),
            profession=np.fromiter((r.profession for r in requests), np.int64, n),
            modality_mask=np.fromiter(
                (sum(1 << int(m) for m in r.modalities) for r in requests), np.int64, n
            ),
            t0=np.fromiter((max(now, r.earliest) for r in requests), np.int64, n),
            t1=np.fromiter((r.deadline for r in requests), np.int64, n),
            priority=np.fromiter((r.priority for r in requests), np.int64, n),
            medecin_traitant=np.fromiter(
                (-1 if r.medecin_traitant is None else r.medecin_traitant for r in requests),
                np.int64,
                n,
            ),
            cpts=np.fromiter((r.cpts for r in requests), np.int64, n),
            is_sas=np.fromiter((r.origin == Origin.SAS for r in requests), bool, n),
            allowed_keys=np.sort(np.array(allowed, dtype=np.int64)),
            allowed_bits=allowed_bits,
        )

    def __len__(self) -> int:
        return len(self.requests)


@dataclass(frozen=True, slots=True)
class Edges:
    """Feasible (request, slot) pairs: request positions, slot pool positions, km (NaN = tele)."""

    request: IntArray
    slot: IntArray
    km: FloatArray

    @staticmethod
    def empty() -> Edges:
        return Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


def iter_edges(
    index: SlotIndex, rq: RequestArrays, subset: IntArray, chunk: int = 256
) -> Iterator[Edges]:
    """Every feasible edge of the requests in ``subset``, in chunks of requests.

    Radius screening pairs a KD-tree of the chunk's requests with the sites'
    tree (``sparse_distance_matrix``), so pairs are produced in C, not Python.
    """
    if not len(subset):
        return
    profs = rq.profession[subset]
    order = np.argsort(profs, kind="stable")
    subset = subset[order]
    profs = profs[order]
    cuts = np.flatnonzero(np.diff(profs)) + 1
    for group in np.split(subset, cuts):
        prof = index.professions.get(int(rq.profession[group[0]]))
        if prof is None:
            continue
        for start in range(0, len(group), chunk):
            edges = _chunk_edges(index, prof, rq, group[start : start + chunk])
            if len(edges.request):
                yield edges


def _chunk_edges(
    index: SlotIndex, prof: ProfessionIndex, rq: RequestArrays, reqs: IntArray
) -> Edges:
    parts: list[Edges] = []
    placed_bits = (1 << Modality.IN_PERSON) | (1 << Modality.HOME_VISIT)
    placed_reqs = reqs[(rq.modality_mask[reqs] & placed_bits) != 0]
    if len(placed_reqs) and prof.tree is not None:
        parts.append(_placed_chunk(index, prof, rq, placed_reqs))
    tele_reqs = reqs[(rq.modality_mask[reqs] & (1 << Modality.TELECONSULTATION)) != 0]
    if len(tele_reqs) and len(prof.tele):
        lo = np.searchsorted(prof.tele_start, rq.t0[tele_reqs], "left")
        hi = np.searchsorted(prof.tele_start, rq.t1[tele_reqs], "right")
        owner, pos = expand_ranges(lo, hi)
        parts.append(Edges(tele_reqs[owner], prof.tele[pos], np.full(len(pos), np.nan)))
    if not parts:
        return Edges.empty()
    req = np.concatenate([p.request for p in parts])
    slot = np.concatenate([p.slot for p in parts])
    km = np.concatenate([p.km for p in parts])
    ok = slot_rules_hold(index, rq, req, slot)
    return Edges(req[ok], slot[ok], km[ok])


def slot_rules_hold(
    index: SlotIndex, rq: RequestArrays, req: IntArray, slot: IntArray
) -> BoolArray:
    """Modality, capacity, mutualisation and SAS reservation, for (request, slot) pairs."""
    pool = index.pool
    ok: BoolArray = index.units[slot] > 0
    ok &= ((rq.modality_mask[req] >> pool.modality[slot]) & 1) == 1
    # most slots near a request belong to its own CPTS: look up only the others
    cpts = pool.cpts[slot]
    other = np.flatnonzero(ok & (cpts != rq.cpts[req]))
    cpts_other, req_other = cpts[other], req[other]
    if rq.allowed_bits is not None and (not len(other) or (
            cpts_other.min() >= 0 and cpts_other.max() < 63)):
        # small CPTS codes: one bit test per pair instead of a binary search
        ok[other] = ((rq.allowed_bits[req_other] >> cpts_other) & 1) == 1
    else:
        key = (req_other << 40) | cpts_other
        pos = np.minimum(np.searchsorted(rq.allowed_keys, key), len(rq.allowed_keys) - 1)
        ok[other] = rq.allowed_keys[pos] == key
    ok &= ~pool.sas_reserved[slot] | rq.is_sas[req]
    return ok


def _placed_chunk(
    index: SlotIndex, prof: ProfessionIndex, rq: RequestArrays, reqs: IntArray
) -> Edges:
    assert prof.tree is not None
    from scipy.spatial import cKDTree

    chords = chord_for_km(rq.radius[reqs])
    req_tree = cKDTree(unit_vectors(rq.lat[reqs], rq.lon[reqs]))
    pairs = req_tree.sparse_distance_matrix(prof.tree, float(chords.max()), output_type="ndarray")
    local = pairs["i"].astype(np.int64)
    site = pairs["j"].astype(np.int64)
    keep = pairs["v"] <= chords[local]
    local, site = local[keep], site[keep]
    req = reqs[local]
    km = haversine_pairs_km(rq.lat[req], rq.lon[req], prof.site_lat[site], prof.site_lon[site])
    near = km <= rq.radius[req]
    req, site, km = req[near], site[near], km[near]
    span, offset = index.time_span, index.time_offset
    base = site * span
    lo = np.searchsorted(prof.placed_key, base + _clip(rq.t0[req] - offset, span), "left")
    hi = np.searchsorted(prof.placed_key, base + _clip(rq.t1[req] - offset, span), "right")
    owner, pos = expand_ranges(lo, hi)
    return Edges(req[owner], prof.placed[pos], km[owner])
