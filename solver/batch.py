"""Batch building blocks for ``plan``: per-request boxes of candidate slots, bounds on
box ranges, and the prices that certify a flow without enumerating every edge.

Every edge cost is at least ``lb(i, j) = rint(per_km · km) + not_mt(site) + wait(s_j)
+ deadline(s_j)`` (every other term is ≥ 0), so the edges of request i costing at most
τ_i all lie in its *box*: the sites within (τ_i − T_i) / per_km km (T_i a floor on
wait + deadline closeness), and per site a time prefix of its slots. A box is a set
of ranges of lane positions (``box_ranges``); ``expand`` enumerates the feasible
edges of ranges.

Certificate (docs/matching-model.md, "Pruning by thresholds"): with prices (ρ, p)
from an optimal flow (``prices``), an edge (i, j) left out of the flow is harmless
iff c_ij ≥ ρ_i − p(j); an edge outside the box of a request with τ_i ≥ ρ_i − min p
is harmless without being looked at, and so is every edge of a range whose bound
(``range_bounds``: distance + deadline at its first slot + min over the range of
wait + p) reaches ρ_i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from solver.candidates import RequestArrays, expand_ranges, slot_rules_hold
from solver.cost import edge_cost, per_priority
from solver.distance import chord_for_km, haversine_pairs_km, unit_vectors
from solver.flow import FlowSolution
from solver.index import ProfessionIndex, SlotIndex
from solver.types import FloatArray, IntArray, Modality
from solver.weights import Weights

INF = 2**60  # "unreachable" sink distance; far above any cost, far below int64 overflow


def cost_ceiling(rq: RequestArrays, weights: Weights, sas: IntArray, now: int) -> IntArray:
    """Per request, an upper bound on the cost of any of its feasible edges."""
    sas_next = int(sas.max()) + 1 if len(sas) else 1
    out: IntArray = (
        np.rint(rq.radius * weights.per_km).astype(np.int64)
        + weights.per_minute_wait * ((rq.t1 - now) // 60)
        + per_priority(weights.deadline_closeness, rq.priority)
        + weights.not_medecin_traitant
        + weights.other_cpts
        + weights.sas_marginal(sas_next)
    )
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Lanes:
    """Every profession's lane laid end to end, so a box is a few ranges of positions:
    placed slots in the index's (site, start) order, then teleconsultation slots by
    (CPTS, start) — so that a request's teleconsultation box covers only the CPTS it
    may use (one range each)."""

    slot: IntArray  # pool position at each lane position
    start: IntArray  # slot start at each lane position
    base: dict[int, int]  # first lane position of each profession
    site_professional: dict[int, IntArray]  # per profession and site: its one professional, or −1
    sorted_start: dict[int, IntArray]  # per profession, every slot start, sorted
    site_cpts: dict[int, IntArray]  # per profession and site: its one CPTS, or −1
    tele_cpts: dict[int, IntArray]  # per profession: sorted CPTS codes of its tele slots
    tele_key: dict[int, IntArray]  # per profession: rank of CPTS · span + start − offset, sorted
    # per profession: the CPTS codes that own sites (−1: sites of several CPTS), sorted,
    # and per code its sites and a KD-tree over them — a request only queries the trees
    # of the CPTS it may use, not every site around it
    site_groups: dict[int, tuple[IntArray, list[IntArray], list[cKDTree]]]

    @staticmethod
    def build(index: SlotIndex) -> Lanes:
        base, parts, single, starts, cpts = {}, [], {}, {}, {}
        tele_cpts, tele_key, groups = {}, {}, {}
        at = 0
        pool = index.pool
        span, offset = index.time_span, index.time_offset
        for code, prof in index.professions.items():
            base[code] = at
            codes, rank = np.unique(pool.cpts[prof.tele], return_inverse=True)
            key = rank.ravel() * span + (pool.start[prof.tele] - offset)
            order = np.argsort(key, kind="stable")
            tele_cpts[code], tele_key[code] = codes, key[order]
            parts.extend([prof.placed, prof.tele[order]])
            at += len(prof.lane)
            # placed slots are sorted by site: a site has one professional when the
            # smallest and largest professional ids of its slots agree
            site = prof.placed_key // span
            n_sites = len(prof.site_lat)
            single[code] = _one_per_site(site, pool.professional[prof.placed], n_sites)
            cpts[code] = _one_per_site(site, pool.cpts[prof.placed], n_sites)
            groups[code] = _site_groups(prof, cpts[code])
            starts[code] = np.sort(pool.start[prof.lane])
        slot = np.concatenate(parts) if parts else _empty()
        return Lanes(slot, pool.start[slot], base, single, starts, cpts, tele_cpts, tele_key,
                     groups)


def _site_groups(
    prof: ProfessionIndex, site_cpts: IntArray
) -> tuple[IntArray, list[IntArray], list[cKDTree]]:
    codes = np.unique(site_cpts)
    sites = [np.flatnonzero(site_cpts == c) for c in codes]
    trees = [cKDTree(unit_vectors(prof.site_lat[g], prof.site_lon[g])) for g in sites]
    return codes, sites, trees


def _one_per_site(site: IntArray, value: IntArray, n_sites: int) -> IntArray:
    """Per site, the value all its slots share, or −1 when they differ (values ≥ 0)."""
    lo = np.full(n_sites, np.iinfo(np.int64).max)
    hi = np.full(n_sites, -1, np.int64)
    np.minimum.at(lo, site, value)
    np.maximum.at(hi, site, value)
    out: IntArray = np.where(lo == hi, lo, -1)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Ranges:
    """Boxes of (request, site): lane positions [lo, hi) sharing one distance."""

    req: IntArray
    lo: IntArray
    hi: IntArray
    km: FloatArray  # NaN for teleconsultation
    not_mt: IntArray  # the médecin-traitant charge every slot of the range pays

    @staticmethod
    def concat(parts: list[Ranges]) -> Ranges:
        if not parts:
            return Ranges(_empty(), _empty(), _empty(), np.zeros(0), _empty())
        return Ranges(*(np.concatenate([getattr(p, f) for p in parts]) for f in Ranges.__slots__))

    def take(self, keep: np.ndarray) -> Ranges:
        return Ranges(self.req[keep], self.lo[keep], self.hi[keep], self.km[keep],
                      self.not_mt[keep])

    def __len__(self) -> int:
        return len(self.req)


def box_ranges(
    index: SlotIndex,
    lanes: Lanes,
    rq: RequestArrays,
    subset: IntArray,
    lo: IntArray,
    hi: IntArray,
    now: int,
    weights: Weights,
    time_floor: IntArray | None = None,
    chunk: int = 2048,
) -> Ranges:
    """Lane ranges of the slots whose lower bound lb(i, j) is in (lo_i, hi_i], for i in subset.

    ``lo`` and ``hi`` are indexed by request position (whole arrays); lo_i < 0 means
    from scratch. A site's slots in a request's box form a time prefix of the site's
    lane, so raising the bound from lo to hi adds the range [end(lo), end(hi)).
    ``time_floor`` bounds every slot's wait + deadline closeness from below (default:
    the wait at t0); distance may then cost at most hi − floor. The same floor must be
    passed for every call about the same requests, so that boxes nest.
    """
    parts: list[Ranges] = []
    if not len(subset):
        return Ranges.concat(parts)
    if time_floor is None:
        time_floor = weights.per_minute_wait * ((rq.t0 - now) // 60)
    subset = subset[hi[subset] - time_floor[subset] >= 0]
    reach = _reach_km(rq, hi - time_floor, weights)
    reach_lo = np.where(lo >= 0, _reach_km(rq, lo - time_floor, weights), -1.0)
    order = np.lexsort((reach[subset], rq.profession[subset]))
    subset = subset[order]
    profs = rq.profession[subset]
    cuts = np.flatnonzero(np.diff(profs)) + 1
    for group in np.split(subset, cuts):
        if not len(group):
            continue
        code = int(rq.profession[group[0]])
        prof = index.professions.get(code)
        if prof is None:
            continue
        for start in range(0, len(group), chunk):
            part = group[start : start + chunk]
            parts.extend(_box_chunk(index, lanes, code, prof, rq, part, reach, reach_lo, lo,
                                    hi, now, weights))
    return Ranges.concat(parts)


def expand(
    index: SlotIndex,
    lanes: Lanes,
    rq: RequestArrays,
    ranges: Ranges,
    now: int,
    weights: Weights,
    sas: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """The feasible edges (request, slot, cost) of the slots in ``ranges``.

    Ranges are taken a few hundred thousand slots at a time: costing builds several
    temporaries per slot, which would otherwise set the plan's peak memory.
    """
    reqs, slots, costs = [], [], []
    ends = np.cumsum(ranges.hi - ranges.lo)
    cuts = np.searchsorted(ends, np.arange(EXPAND_SLOTS, int(ends[-1]) if len(ends) else 0,
                                           EXPAND_SLOTS), "right")
    for part in np.split(np.arange(len(ranges)), cuts):
        owner, pos = expand_ranges(ranges.lo[part], ranges.hi[part])
        req = ranges.req[part][owner]
        slot = lanes.slot[pos]
        ok = slot_rules_hold(index, rq, req, slot)
        req, slot, km = req[ok], slot[ok], ranges.km[part][owner[ok]]
        reqs.append(req)
        slots.append(slot)
        costs.append(edge_cost(index, rq, req, slot, km, now, weights, sas))
    if not reqs:
        return _empty(), _empty(), _empty()
    return np.concatenate(reqs), np.concatenate(slots), np.concatenate(costs)


EXPAND_SLOTS = 400_000  # slots enumerated at once by ``expand``


def threshold_edges(
    index: SlotIndex,
    lanes: Lanes,
    rq: RequestArrays,
    subset: IntArray,
    lo: IntArray,
    hi: IntArray,
    now: int,
    weights: Weights,
    sas: IntArray,
    time_floor: IntArray | None = None,
) -> tuple[IntArray, IntArray, IntArray]:
    """Every feasible edge of ``subset`` whose lower bound is in (lo_i, hi_i]."""
    ranges = box_ranges(index, lanes, rq, subset, lo, hi, now, weights, time_floor)
    return expand(index, lanes, rq, ranges, now, weights, sas)


def _reach_km(rq: RequestArrays, budget: IntArray, weights: Weights) -> np.ndarray:
    """Largest distance whose cost fits the budget, capped by the request's radius."""
    if weights.per_km <= 0:
        return rq.radius.copy()
    # rint(per_km · km) ≤ budget  ⇐  km ≤ (budget + 0.5) / per_km
    out: np.ndarray = np.minimum(rq.radius, (budget + 0.5) / weights.per_km)
    return out


def _latest_start(
    rq: RequestArrays, req: IntArray, remaining: IntArray, now: int, weights: Weights
) -> IntArray:
    """A start s_max ≤ deadline such that every slot of ``req`` starting later has
    wait(s) + deadline_closeness(s) > remaining (t0 − 1 when no start fits).

    Both terms grow with s. With ⌊x⌋ > x − 1 they exceed the linear function
    a·(s − now − 59)/60 + b·(s − t0)/W − 1 (a = per_minute_wait, b = the closeness
    weight, W the window), so any s above the root of that function minus the
    remaining budget is out; one second of margin absorbs float rounding.
    """
    t0, t1 = rq.t0[req], rq.t1[req]
    window = np.maximum(t1 - t0, 1).astype(np.float64)
    a = weights.per_minute_wait / 60.0
    b = per_priority(weights.deadline_closeness, rq.priority[req]) / window
    slope = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (remaining + 1 + a * (now + 59) + b * t0) / slope
    root = np.where(slope > 0, root, np.where(remaining >= 0, np.inf, -np.inf))
    latest = np.floor(np.clip(root, t0 - 1.0, t1.astype(np.float64))) + 1
    out: IntArray = np.where(remaining < 0, t0 - 1, np.minimum(latest.astype(np.int64), t1))
    return out


def _box_chunk(
    index: SlotIndex,
    lanes: Lanes,
    code: int,
    prof: ProfessionIndex,
    rq: RequestArrays,
    reqs: IntArray,
    reach: np.ndarray,
    reach_lo: np.ndarray,
    lo: IntArray,
    hi: IntArray,
    now: int,
    weights: Weights,
) -> list[Ranges]:
    out: list[Ranges] = []
    base = lanes.base[code]
    placed_bits = (1 << Modality.IN_PERSON) | (1 << Modality.HOME_VISIT)
    placed = reqs[(rq.modality_mask[reqs] & placed_bits) != 0]
    if len(placed) and prof.tree is not None:
        req, site = _placed_pairs(lanes, code, rq, placed, reach)
        km = haversine_pairs_km(rq.lat[req], rq.lon[req], prof.site_lat[site], prof.site_lon[site])
        near = (km <= reach[req]) & _site_has_modality(prof, rq, req, site)
        req, site, km = req[near], site[near], km[near]
        # a site whose one professional is not the patient's médecin traitant charges
        # not_medecin_traitant on every slot: part of the bound, so the box is smaller
        mt = rq.medecin_traitant[req]
        who = lanes.site_professional[code][site]
        not_mt = np.where((mt >= 0) & (who >= 0) & (who != mt), weights.not_medecin_traitant, 0)
        fixed = np.rint(km * weights.per_km).astype(np.int64) + not_mt
        span, offset = index.time_span, index.time_offset
        key0 = site * span
        first = np.searchsorted(prof.placed_key, key0 + _clip(rq.t0[req] - offset, span), "left")
        end_hi = _site_end(prof, key0, _latest_start(rq, req, hi[req] - fixed, now, weights),
                           offset, span, first)
        # a pair beyond the old reach was in no earlier box, whatever the time bound says
        end_lo = first.copy()
        was = np.flatnonzero(km <= reach_lo[req])
        if len(was):
            r = req[was]
            latest = _latest_start(rq, r, lo[r] - fixed[was], now, weights)
            end_lo[was] = _site_end(prof, key0[was], latest, offset, span, first[was])
        new = end_hi > end_lo
        out.append(Ranges(req[new], base + end_lo[new], base + end_hi[new], km[new],
                          not_mt[new]))
    tele = reqs[(rq.modality_mask[reqs] & (1 << Modality.TELECONSULTATION)) != 0]
    if len(tele) and len(prof.tele):
        out.append(_tele_ranges(index, lanes, code, prof, rq, tele, lo, hi, now, weights))
    return out


def _tele_ranges(
    index: SlotIndex,
    lanes: Lanes,
    code: int,
    prof: ProfessionIndex,
    rq: RequestArrays,
    tele: IntArray,
    lo: IntArray,
    hi: IntArray,
    now: int,
    weights: Weights,
) -> Ranges:
    """One range per (request, CPTS it may use) over that CPTS's teleconsultation slots."""
    # every (request, allowed CPTS) pair, from the sorted (position << 40 | cpts) keys
    first_key = np.searchsorted(rq.allowed_keys, tele << 40)
    last_key = np.searchsorted(rq.allowed_keys, (tele + 1) << 40)
    owner, at = expand_ranges(first_key, last_key)
    req = tele[owner]
    cpts = rq.allowed_keys[at] & ((1 << 40) - 1)
    codes = lanes.tele_cpts[code]
    group = np.minimum(np.searchsorted(codes, cpts), len(codes) - 1)
    there = codes[group] == cpts
    req, group = req[there], group[there]
    span, offset = index.time_span, index.time_offset
    key0 = group * span
    keys = lanes.tele_key[code]
    first = np.searchsorted(keys, key0 + _clip(rq.t0[req] - offset, span), "left")
    ends = [
        np.maximum(np.searchsorted(keys, key0 + _clip(
            _latest_start(rq, req, bound[req], now, weights) - offset, span), "right"), first)
        for bound in (lo, hi)
    ]
    new = ends[1] > ends[0]
    shift = lanes.base[code] + len(prof.placed)
    return Ranges(req[new], shift + ends[0][new], shift + ends[1][new],
                  np.full(int(new.sum()), np.nan), np.zeros(int(new.sum()), np.int64))


def _placed_pairs(
    lanes: Lanes, code: int, rq: RequestArrays, reqs: IntArray, reach: np.ndarray
) -> tuple[IntArray, IntArray]:
    """(request, site) pairs within each request's reach, among the sites of the CPTS
    it may use (its own and those with an agreement) and the sites of several CPTS."""
    codes, sites, trees = lanes.site_groups[code]
    first_key = np.searchsorted(rq.allowed_keys, reqs << 40)
    last_key = np.searchsorted(rq.allowed_keys, (reqs + 1) << 40)
    owner, at = expand_ranges(first_key, last_key)
    vreq = reqs[owner]
    vcode = rq.allowed_keys[at] & ((1 << 40) - 1)
    if len(codes) and codes[0] < 0:  # sites shared by several CPTS: everyone looks
        vreq = np.concatenate([vreq, reqs])
        vcode = np.concatenate([vcode, np.full(len(reqs), -1, np.int64)])
    group = np.minimum(np.searchsorted(codes, vcode), len(codes) - 1)
    there = codes[group] == vcode
    vreq, group = vreq[there], group[there]
    order = np.lexsort((reach[vreq], group))
    vreq, group = vreq[order], group[order]
    out_r, out_s = [], []
    cuts = np.flatnonzero(np.diff(group)) + 1
    for part in np.split(np.arange(len(vreq)), cuts):
        if not len(part):
            continue
        g = int(group[part[0]])
        for start in range(0, len(part), 512):
            mine = vreq[part[start : start + 512]]
            chords = chord_for_km(reach[mine])
            tree = cKDTree(unit_vectors(rq.lat[mine], rq.lon[mine]))
            pairs = tree.sparse_distance_matrix(trees[g], float(chords.max()),
                                                output_type="ndarray")
            local = pairs["i"].astype(np.int64)
            keep = pairs["v"] <= chords[local]
            out_r.append(mine[local[keep]])
            out_s.append(sites[g][pairs["j"][keep].astype(np.int64)])
    if not out_r:
        return _empty(), _empty()
    return np.concatenate(out_r), np.concatenate(out_s)


def _site_has_modality(
    prof: ProfessionIndex, rq: RequestArrays, req: IntArray, site: IntArray
) -> np.ndarray:
    """False for (request, site) pairs where the site has no slot of a placed modality
    the request accepts."""
    counts = prof.site_modality_counts[site]
    mask = rq.modality_mask[req]
    ok: np.ndarray = (((mask >> Modality.IN_PERSON) & 1) * counts[:, Modality.IN_PERSON]
                      + ((mask >> Modality.HOME_VISIT) & 1) * counts[:, Modality.HOME_VISIT]) > 0
    return ok


def _site_end(
    prof: ProfessionIndex, key0: IntArray, latest: IntArray, offset: int, span: int,
    first: IntArray,
) -> IntArray:
    """End (exclusive) of the site's slots starting in [t0, latest]; ``first`` when none."""
    end = np.searchsorted(prof.placed_key, key0 + _clip(latest - offset, span), "right")
    return np.maximum(end, first)


def _clip(rel: IntArray, span: int) -> IntArray:
    out: IntArray = np.clip(rel, 0, span - 1)
    return out


def _empty() -> IntArray:
    return np.zeros(0, np.int64)


class RangeMin:
    """Sparse table: the minimum of any range of an array in O(1), vectorised.

    Row k holds the minimum of each window of 2^k values (padded to one width, so a
    query is two gathers)."""

    def __init__(self, values: IntArray) -> None:
        n = len(values)
        rows = max(1, int(n).bit_length())
        self.table = np.full((rows, max(n, 1)), INF, np.int64)
        self.table[0, :n] = values
        width = 1
        for k in range(1, rows):
            prev = self.table[k - 1]
            self.table[k, : n - 2 * width + 1] = np.minimum(prev[: n - 2 * width + 1],
                                                          prev[width : n - width + 1])
            width *= 2

    def query(self, lo: IntArray, hi: IntArray) -> IntArray:
        """min(values[lo:hi]) for each non-empty range."""
        length = np.maximum(hi - lo, 1)
        k = np.floor(np.log2(length)).astype(np.int64)
        # guard float rounding at exact powers of two
        k -= (1 << k) > length
        k += (1 << (k + 1)) <= length
        out: IntArray = np.minimum(self.table[k, lo], self.table[k, hi - (1 << k)])
        return out


def range_bounds(
    lanes: Lanes,
    rq: RequestArrays,
    ranges: Ranges,
    table: RangeMin,
    weights: Weights,
) -> IntArray:
    """A lower bound of c_ij + p(j) over each range's slots.

    ``table`` holds wait(s_j) + p(j) per lane position (INF for slots without units).
    Distance is the range's own; deadline closeness grows with the start, so the
    first slot of the range bounds it; the médecin-traitant charge is exact when the
    site has one professional; the other terms are ≥ 0.
    """
    first = lanes.start[ranges.lo]
    t0 = rq.t0[ranges.req]
    window = np.maximum(rq.t1[ranges.req] - t0, 1)
    deadline = per_priority(weights.deadline_closeness, rq.priority[ranges.req]) * (
        first - t0) // window
    dist = np.rint(np.fmax(ranges.km, 0.0) * weights.per_km).astype(np.int64)
    out: IntArray = dist + deadline + ranges.not_mt + table.query(ranges.lo, ranges.hi)
    return out


def prices(sol: FlowSolution) -> tuple[IntArray, IntArray]:
    """Request prices ρ and sink distances p of every network node, a certificate pair.

    With potentials d(i) = −ρ_i on request nodes and d(v) = −p(v) elsewhere, every
    residual arc has a reduced cost ≥ 0, so an edge (i, j) left out of the flow is
    harmless iff c_ij ≥ ρ_i − p(j). Of all valid potentials these make ρ as small as
    possible (ρ_i = −g(i), g = shortest distance from the sink in the residual graph:
    roughly what i pays now), then p as large as possible given ρ (shortest distance
    to the sink where a request node ends a path with ρ_i). Small ρ is what keeps the
    per-request thresholds, hence the enumerated edges, small.
    """
    return prices_of_many([sol])[0]


def prices_of_many(sols: list[FlowSolution]) -> list[tuple[IntArray, IntArray]]:
    """``prices`` of independent networks, computed together (one label-correcting run
    over their disjoint union, so the sweeps are shared)."""
    tails, heads, costs, at = [], [], [], 0
    sizes = [sol.sink + 1 for sol in sols]
    offsets = np.cumsum([0, *sizes])
    for sol, at in zip(sols, offsets[:-1].tolist(), strict=True):
        fwd = sol.flows < sol.capacities
        bwd = sol.flows > 0
        tails.append(at + np.concatenate([sol.tails[fwd], sol.heads[bwd]]))
        heads.append(at + np.concatenate([sol.heads[fwd], sol.tails[bwd]]))
        costs.append(np.concatenate([sol.costs[fwd], -sol.costs[bwd]]))
    tail, head, cost = (np.concatenate(x) if x else _empty() for x in (tails, heads, costs))
    n = int(offsets[-1])
    sinks = offsets[1:] - 1
    requests = np.concatenate([at + np.arange(sol.num_requests) for sol, at in
                               zip(sols, offsets[:-1].tolist(), strict=True)]) if sols else _empty()
    frozen = np.zeros(n, bool)
    start = np.full(n, INF, np.int64)
    start[sinks] = 0
    frozen[sinks] = True
    g = _shortest(tail, head, cost, start, frozen)
    rho_all = np.where(g >= INF, INF, -g)  # every request is reachable; guard anyway
    start[requests] = rho_all[requests]
    frozen[requests] = True
    p_all = _shortest(head, tail, cost, start, frozen)
    out = []
    for sol, at, size in zip(sols, offsets[:-1].tolist(), sizes, strict=True):
        out.append((rho_all[at : at + sol.num_requests], p_all[at : at + size]))
    return out


def _shortest(
    src: IntArray, dst: IntArray, cost: IntArray, start: IntArray, frozen: np.ndarray
) -> IntArray:
    """x(b) = min(start(b), min over arcs a→b of x(a) + cost) for non-frozen b.

    Label correcting, vectorised: each sweep relaxes only the arcs out of nodes whose
    label changed in the previous one. The residual graph of an optimal flow has no
    negative cycle, so it converges; if not, the flow was not optimal: fail loudly.
    """
    n = len(start)
    order = np.argsort(src, kind="stable")
    src, dst, cost = src[order], dst[order], cost[order]
    first = np.searchsorted(src, np.arange(n + 1))
    x = start.copy()
    changed = np.flatnonzero(x < INF)
    for _ in range(n + 1):
        _, arcs = expand_ranges(first[changed], first[changed + 1])
        arcs = arcs[~frozen[dst[arcs]]]
        if not len(arcs):
            return x
        best = x.copy()
        np.minimum.at(best, dst[arcs], x[src[arcs]] + cost[arcs])
        moved = np.flatnonzero(best < x)
        if not len(moved):
            return x
        x = best
        changed = moved
    raise RuntimeError("negative cycle in the residual graph: the flow is not optimal")


def slot_prices(
    index: SlotIndex, sol: FlowSolution, h: IntArray, daily_load: IntArray, weights: Weights
) -> IntArray:
    """A sink distance for every slot of the pool, consistent with ``h``.

    Slots outside the network get their cheapest way to the sink: the cheaper of
    their arcs to their day node plus the day's distance; an absent day node gets
    its first fairness marginal f(L + 1). Adding any absent node with these values
    keeps every residual reduced cost ≥ 0, so edges into them can be checked too.
    """
    pool = index.pool
    h_day = weights.fairness_daily_step * daily_load  # f(L + 1) = step · L
    base_pd = sol.num_requests + len(sol.slot_nodes)
    h_day = h_day.copy()
    h_day[sol.pd_nodes] = h[base_pd + np.arange(len(sol.pd_nodes))]
    cheapest = np.where(pool.capacity > 0, 0, weights.surnumeraire)
    out: IntArray = h_day[index.pd] + cheapest
    out[sol.slot_nodes] = h[sol.num_requests + np.arange(len(sol.slot_nodes))]
    return out


def open_ranges(
    lanes: Lanes,
    rq: RequestArrays,
    lazy: Ranges,
    table: RangeMin,
    weights: Weights,
    rho: IntArray,
    levels: int = 6,
) -> tuple[Ranges, Ranges]:
    """Split ``lazy`` into ranges that may hold an edge with c_ij + p(j) < ρ_i (to
    enumerate) and ranges proven free of them (still lazy).

    A range whose bound fails is halved, and each half bounded again (its first
    slot starts later, and its minimum is over fewer slots), a few times, so that
    only the parts that may matter are enumerated.
    """
    fails = range_bounds(lanes, rq, lazy, table, weights) < rho[lazy.req]
    proven = [lazy.take(~fails)]
    doubtful = lazy.take(fails)
    for _ in range(levels):
        long = (doubtful.hi - doubtful.lo) >= 8
        if not long.any():
            break
        big = doubtful.take(long)
        mid = (big.lo + big.hi) // 2
        halves = Ranges.concat([Ranges(big.req, big.lo, mid, big.km, big.not_mt),
                                Ranges(big.req, mid, big.hi, big.km, big.not_mt)])
        fails = range_bounds(lanes, rq, halves, table, weights) < rho[halves.req]
        proven.append(halves.take(~fails))
        doubtful = Ranges.concat([doubtful.take(~long), halves.take(fails)])
    return doubtful, Ranges.concat(proven)
