"""Spatial index over the slot pool: per profession, a KD-tree over slot sites.

Slots of one profession that are seen in person or at home are grouped by site
(unique coordinates) and sorted by (site, start), so a request's candidates are
a radius query on the sites followed by one binary search per site for its time
window — never all pairs. Teleconsultation slots have no distance rule: they
are kept apart, sorted by start, and cut by time window only.

The index also numbers every (professional, day) and (professional, week) pair
so the fairness terms can look up loads with array operations.

For ``rank``, each profession also lays its slots out as groups (sites, then one
group per teleconsultation CPTS) with prefix counts per rule (``RankGroups``),
built on first use so that ``plan`` and ``SlotIndex.build`` do not pay for them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from solver.distance import unit_vectors
from solver.errors import InvalidInputError
from solver.types import BoolArray, FloatArray, IntArray, Load, Modality, SlotPool
from solver.validation import validate_load, validate_pool

_GROUPS_LOCK = threading.Lock()  # lazy RankGroups builds and bookings
_DAY_SHIFT = 21  # day/week numbers fit in 21 bits once offset by 2**20


def pair_keys(professional: IntArray, period: IntArray) -> IntArray:
    """Pack (professional, day or week) into one sortable int64 key."""
    keys: IntArray = (professional.astype(np.int64) << _DAY_SHIFT) | (
        period.astype(np.int64) + (1 << 20)
    )
    return keys


@dataclass(frozen=True, slots=True, eq=False)
class ProfessionIndex:
    """Slots of one profession, laid out for radius and time-window queries."""

    size: int
    modality_counts: IntArray  # slots per modality (index = Modality)
    tree: cKDTree | None  # over site unit vectors; None when no placed slot
    site_lat: FloatArray
    site_lon: FloatArray
    site_modality_counts: IntArray  # (n_sites, 3)
    placed: IntArray  # pool positions of in-person/home slots, sorted by (site, start)
    placed_key: IntArray  # site * time_span + (start - time_offset), sorted
    tele: IntArray  # pool positions of teleconsultation slots, sorted by start
    tele_start: IntArray
    # placed then tele slots, with the attributes the rules read, stored contiguously so
    # that screening one request reads memory in order instead of gathering from the pool
    lane: IntArray
    lane_modality: IntArray
    lane_units: IntArray
    lane_cpts: IntArray
    lane_sas: BoolArray
    # what ``groups`` is built from, on first use (only ``rank`` reads it: ``plan`` and
    # ``SlotIndex.build`` do not pay for it)
    _pool: SlotPool | None = None
    _time_offset: int = 0
    _time_span: int = 2
    _groups: list[RankGroups] = field(default_factory=list)

    @property
    def groups(self) -> RankGroups:
        """The slots laid out for ``rank``'s exclusion counts and lazy costing."""
        if not self._groups:
            with _GROUPS_LOCK:  # a booking must not slip between reading units and storing
                if not self._groups:
                    self._groups.append(self._build_groups())
        return self._groups[0]

    def _build_groups(self) -> RankGroups:
        assert self._pool is not None, "ProfessionIndex built outside SlotIndex.build"
        pool, n_placed = self._pool, len(self.placed)
        lanes = _Lanes(
            lane=self.lane,
            start=pool.start[self.lane],
            modality=self.lane_modality,
            sas=self.lane_sas,
            cpts=self.lane_cpts,
            units=self.lane_units,
            n_placed=n_placed,
        )
        site_xyz = unit_vectors(self.site_lat, self.site_lon) if n_placed else np.zeros((0, 3))
        site = self.placed_key // self._time_span
        return RankGroups.build(
            pool, lanes, site, self.placed_key, site_xyz, self._time_offset, self._time_span
        )

    def took(self, lane_position: int) -> None:
        """Called by ``SlotIndex.take`` (lock held) once the lane's units are decremented."""
        if self._groups and self.lane_units[lane_position] == 0:
            groups = self._groups[0]
            groups.mark_empty(int(groups.rank_of_lane[lane_position]))


@dataclass(frozen=True, slots=True, eq=False)
class SlotIndex:
    """Everything the solver precomputes about a pool. Build with ``SlotIndex.build``."""

    pool: SlotPool
    professions: dict[int, ProfessionIndex]
    units: IntArray  # capacity + surnuméraire per slot
    pd: IntArray  # per slot: id of its (professional, day)
    pd_keys: IntArray  # sorted unique keys of (professional, day)
    pd_units: IntArray  # units of capacity per (professional, day)
    pw: IntArray  # per slot: id of its (professional, week)
    pw_keys: IntArray
    time_offset: int
    time_span: int
    lane_of: IntArray  # per slot: its position in its profession's lane
    _load_cache: list[tuple[Load, IntArray, IntArray]] = field(default_factory=list)
    _spacetime: dict[int, cKDTree] = field(default_factory=dict)

    @staticmethod
    def build(pool: SlotPool) -> SlotIndex:
        """Validate the pool and build the index (≈ tens of ms for 200k slots)."""
        validate_pool(pool)
        n = len(pool)
        units = (pool.capacity + pool.surnumeraire).astype(np.int64)
        pd_keys, pd = _pair_ids(pool.professional, pool.day)
        pw_keys, pw = _pair_ids(pool.professional, pool.week)
        pd_units = np.bincount(pd, weights=units, minlength=len(pd_keys)).astype(np.int64)
        offset = int(pool.start.min()) - 1 if n else 0
        span = int(pool.start.max()) - offset + 2 if n else 2
        professions: dict[int, ProfessionIndex] = {}
        lane_of = np.zeros(n, np.int64)
        if n:
            order = np.argsort(pool.profession, kind="stable")
            prof_sorted = pool.profession[order]
            cuts = np.flatnonzero(np.diff(prof_sorted)) + 1
            for group in np.split(order, cuts):
                code = int(pool.profession[group[0]])
                professions[code] = _build_profession(pool, group, offset, span)
                lane = professions[code].lane
                lane_of[lane] = np.arange(len(lane), dtype=np.int64)
        return SlotIndex(
            pool=pool,
            professions=professions,
            units=units,
            pd=pd.astype(np.int64),
            pd_keys=pd_keys,
            pd_units=pd_units,
            pw=pw.astype(np.int64),
            pw_keys=pw_keys,
            time_offset=offset,
            time_span=span,
            lane_of=lane_of,
        )

    def take(self, position: int, *, surnumeraire: bool) -> None:
        """Book one unit of the slot at pool ``position`` in place.

        O(1), plus an insertion into ``rank``'s sorted set of empty slots when the
        last unit goes.

        Decrements the pool's ``capacity`` (or ``surnumeraire`` when the booking
        uses it) and every count the index derives from it, so the index answers
        exactly as ``SlotIndex.build`` on the updated pool would — without the
        rebuild. The pool's arrays are modified in place: callers sharing them
        see the booking too. The caller still accounts the booking in its
        ``Load`` (daily and weekly SAS counts are inputs, not part of the index).
        """
        pool = self.pool
        if not 0 <= position < len(pool):
            raise InvalidInputError(f"slot position {position} is outside the pool")
        counter = pool.surnumeraire if surnumeraire else pool.capacity
        if counter[position] <= 0:
            what = "surnuméraire" if surnumeraire else "capacity"
            raise InvalidInputError(f"slot {int(pool.slot_id[position])} has no {what} left")
        prof = self.professions[int(pool.profession[position])]
        lane_position = int(self.lane_of[position])
        with _GROUPS_LOCK:
            counter[position] -= 1
            self.units[position] -= 1
            self.pd_units[self.pd[position]] -= 1
            prof.lane_units[lane_position] -= 1
            prof.took(lane_position)

    def __len__(self) -> int:
        return len(self.pool)

    def load_vectors(self, load: Load | None) -> tuple[IntArray, IntArray]:
        """Existing load per (professional, day) id and SAS load per (professional, week) id.

        The conversion is cached for the last few ``Load`` objects, since online
        callers pass the same load to many ``rank`` calls.
        """
        if load is None:
            return np.zeros(len(self.pd_keys), np.int64), np.zeros(len(self.pw_keys), np.int64)
        for cached, daily, weekly in self._load_cache:
            if cached is load:
                return daily, weekly
        validate_load(load)
        daily = _lookup(self.pd_keys, load.daily)
        weekly = _lookup(self.pw_keys, load.weekly_sas)
        self._load_cache.insert(0, (load, daily, weekly))
        del self._load_cache[4:]
        return daily, weekly


def _pair_ids(professional: IntArray, period: IntArray) -> tuple[IntArray, IntArray]:
    """``np.unique(pair_keys(professional, period), return_inverse=True)``, without sorting
    when the pairs fit a dense table (a few professionals × a few days: the usual case)."""
    n = len(professional)
    if n:
        p0, d0 = int(professional.min()), int(period.min())
        width = int(period.max()) - d0 + 1
        size = (int(professional.max()) - p0 + 1) * width
        if size <= 8 * n + 1024:
            code = (professional.astype(np.int64) - p0) * width + (period - d0)
            present = np.zeros(size, bool)
            present[code] = True
            used = np.flatnonzero(present)
            ids = np.cumsum(present) - 1
            keys = pair_keys(used // width + p0, used % width + d0)
            out_ids: IntArray = ids[code]
            return keys, out_ids
    keys, inverse = np.unique(pair_keys(professional, period), return_inverse=True)
    return keys, inverse.astype(np.int64)


def _lookup(keys: IntArray, table: dict[tuple[int, int], int]) -> IntArray:
    out = np.zeros(len(keys), np.int64)
    if not table or not len(keys):
        return out
    pairs = np.array(list(table.keys()), dtype=np.int64).reshape(-1, 2)
    values = np.fromiter(table.values(), dtype=np.int64, count=len(table))
    if (values < 0).any():
        raise InvalidInputError("load counts must be ≥ 0")
    inside = (pairs[:, 0] >= 0) & (np.abs(pairs[:, 1]) < 2**20)
    wanted = pair_keys(pairs[inside, 0], pairs[inside, 1])
    pos = np.searchsorted(keys, wanted)
    pos_c = np.minimum(pos, len(keys) - 1)
    hit = keys[pos_c] == wanted
    np.add.at(out, pos_c[hit], values[inside][hit])
    return out


def _build_profession(pool: SlotPool, group: IntArray, offset: int, span: int) -> ProfessionIndex:
    modality = pool.modality[group]
    tele_mask: BoolArray = modality == Modality.TELECONSULTATION
    tele = group[tele_mask]
    tele = tele[np.argsort(pool.start[tele], kind="stable")]
    placed = group[~tele_mask]
    tree = None
    site_lat = site_lon = np.zeros(0)
    site_mod = np.zeros((0, 3), np.int64)
    site_xyz = np.zeros((0, 3))
    placed_key = np.zeros(0, np.int64)
    site = np.zeros(0, np.int64)
    if len(placed):
        lat = pool.lat[placed]
        lon = pool.lon[placed]
        by_site = np.lexsort((lon, lat))
        lat_s, lon_s = lat[by_site], lon[by_site]
        new_site = np.ones(len(placed), bool)
        new_site[1:] = (lat_s[1:] != lat_s[:-1]) | (lon_s[1:] != lon_s[:-1])
        site_of_sorted = np.cumsum(new_site) - 1
        site = np.empty(len(placed), np.int64)
        site[by_site] = site_of_sorted
        site_lat, site_lon = lat_s[new_site], lon_s[new_site]
        # start - offset lies in [1, span - 2], so this key orders by (site, start); a
        # stable argsort of it is lexsort((start, site)) at about half the cost
        placed_key = site * span + (pool.start[placed] - offset)
        order = np.argsort(placed_key, kind="stable")
        placed, site, placed_key = placed[order], site[order], placed_key[order]
        site_mod = np.zeros((len(site_lat), 3), np.int64)
        np.add.at(site_mod, (site, pool.modality[placed]), 1)
        site_xyz = unit_vectors(site_lat, site_lon)
        tree = cKDTree(site_xyz, balanced_tree=False, compact_nodes=False)
    lane = np.concatenate([placed, tele]).astype(np.int64)
    lanes = _Lanes(
        lane=lane,
        start=pool.start[lane],
        modality=pool.modality[lane],
        sas=pool.sas_reserved[lane],
        cpts=pool.cpts[lane],
        units=(pool.capacity[lane] + pool.surnumeraire[lane]).astype(np.int64),
        n_placed=len(placed),
    )
    return ProfessionIndex(
        _pool=pool,
        _time_offset=offset,
        _time_span=span,
        lane=lane,
        lane_modality=lanes.modality,
        lane_units=lanes.units,
        lane_cpts=lanes.cpts,
        lane_sas=lanes.sas,
        size=len(group),
        modality_counts=np.bincount(modality, minlength=3).astype(np.int64),
        tree=tree,
        site_lat=site_lat,
        site_lon=site_lon,
        site_modality_counts=site_mod,
        placed=placed.astype(np.int64),
        placed_key=placed_key.astype(np.int64),
        tele=tele.astype(np.int64),
        tele_start=lanes.start[len(placed) :].astype(np.int64),
    )


@dataclass(frozen=True, slots=True)
class _Lanes:
    """A profession's lane (placed slots by (site, start), then tele by start) and the
    slot attributes in that order, read once from the pool."""

    lane: IntArray
    start: IntArray
    modality: IntArray
    sas: BoolArray
    cpts: IntArray
    units: IntArray
    n_placed: int


class _EmptySlots:
    """Sorted group-order positions of the slots with no unit left (grows with ``take``)."""

    __slots__ = ("positions",)

    def __init__(self, positions: IntArray) -> None:
        self.positions = positions


@dataclass(frozen=True, slots=True, eq=False)
class RankGroups:
    """A profession's slots as *groups* sorted by (group, start), for ``rank``.

    Groups are the sites of the placed slots (same numbering as ``site_lat``, so the
    placed part is in lane order) followed by one group per CPTS of the
    teleconsultation slots. Per group, the time window is one binary search on
    ``key``; prefix counts per modality (all slots, and SAS-reserved ones) give how
    many slots of each group pass or fail each static rule without reading them;
    ``group_cpts`` and ``group_professional`` are the CPTS / professional shared by
    every slot of the group (−1 when they differ), so mutualisation is decided per
    group and the own-CPTS and médecin-traitant terms bound a whole group's costs.
    Capacity changes with bookings: the few slots with none left are kept apart
    (``empty``), sorted, and subtracted from the counts.
    """

    order: IntArray  # lane positions, in group order
    rank_of_lane: IntArray  # inverse of ``order``
    slot: IntArray  # pool positions, in group order
    key: IntArray  # group * time_span + (start - time_offset), ascending
    start: IntArray
    modality: IntArray
    sas: BoolArray
    cpts: IntArray
    counts: npt.NDArray[np.int32]  # (n + 1, 6) prefix counts: modality m, SAS-reserved 3 + m
    n_sites: int
    site_unit: FloatArray  # (3, n_sites): x, y, z of the sites' unit vectors
    begin: IntArray  # (G + 1): group g is order[begin[g]:begin[g + 1]]
    first_start: IntArray  # per group: its earliest and latest start
    last_start: IntArray
    totals: npt.NDArray[np.int32]  # per group: its row of ``counts``, whole group
    group_cpts: IntArray
    group_professional: IntArray
    empty: _EmptySlots
    tele_groups: IntArray  # the teleconsultation groups' numbers (n_sites ...)
    tele_km: FloatArray  # NaN per teleconsultation group: no distance
    rule_code: npt.NDArray[np.int8]  # 2 * modality + SAS-reserved, per slot (static rules)
    key32: npt.NDArray[np.int32] | None  # ``key`` as int32 when it fits (half the cache misses)

    @staticmethod
    def build(
        pool: SlotPool,
        lanes: _Lanes,
        placed_site: IntArray,
        placed_key: IntArray,
        site_xyz: FloatArray,
        offset: int,
        span: int,
    ) -> RankGroups:
        n, n_placed, n_sites = len(lanes.lane), lanes.n_placed, len(site_xyz)
        tele_group = np.zeros(0, np.int64)
        by_cpts = np.zeros(0, np.int64)
        if n > n_placed:  # teleconsultation: group by CPTS, then start
            by_cpts = np.lexsort((lanes.start[n_placed:], lanes.cpts[n_placed:]))
            tele_group = n_sites + np.cumsum(_starts_run(lanes.cpts[n_placed:][by_cpts])) - 1

        def reorder(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
            """Lane order to group order (the placed part is already in it)."""
            if n == n_placed:
                return values
            return np.concatenate([values[:n_placed], values[n_placed:][by_cpts]])

        order = reorder(np.arange(n, dtype=np.int64))
        start = reorder(lanes.start).astype(np.int64)
        modality = reorder(lanes.modality)
        sas = reorder(lanes.sas)
        cpts = reorder(lanes.cpts)
        slot = reorder(lanes.lane)
        group = np.concatenate([placed_site, tele_group]).astype(np.int64)
        key = np.concatenate([placed_key, tele_group * span + (start[n_placed:] - offset)])
        counts = np.zeros((n + 1, 6), np.int32)
        for m in range(3):
            is_m = modality == m
            if is_m.any():
                np.cumsum(is_m, dtype=np.int32, out=counts[1:, m])
                np.cumsum(is_m & sas, dtype=np.int32, out=counts[1:, 3 + m])
        rank_of_lane = np.empty(n, np.int64)
        rank_of_lane[order] = np.arange(n, dtype=np.int64)
        begin = np.append(np.flatnonzero(_starts_run(group)), n).astype(np.int64)
        return RankGroups(
            order=order,
            rank_of_lane=rank_of_lane,
            slot=slot,
            key=key.astype(np.int64),
            start=start,
            modality=modality,
            sas=sas,
            cpts=cpts,
            counts=counts,
            n_sites=n_sites,
            site_unit=np.ascontiguousarray(site_xyz.T),
            begin=begin,
            first_start=start[begin[:-1]],
            last_start=start[begin[1:] - 1],
            totals=counts[begin[1:]] - counts[begin[:-1]],
            group_cpts=_shared_per_group(cpts, group),
            group_professional=_shared_per_group(pool.professional[slot], group),
            empty=_EmptySlots(np.flatnonzero(reorder(lanes.units) <= 0).astype(np.int64)),
            tele_groups=np.arange(n_sites, len(begin) - 1, dtype=np.int64),
            tele_km=np.full(len(begin) - 1 - n_sites, np.nan),
            rule_code=(2 * modality + sas).astype(np.int8),
            key32=key.astype(np.int32) if not len(key) or key[-1] < 2**31 - 1 else None,
        )

    def search(self, keys: IntArray, side: Literal["left", "right"]) -> IntArray:
        """``np.searchsorted(self.key, keys, side)``, on the int32 copy when there is one."""
        if self.key32 is not None:
            # keys beyond int32 lie past every key: clamp them to one that still is
            out: IntArray = np.searchsorted(
                self.key32, np.minimum(keys, 2**31 - 1).astype(np.int32), side
            )
            return out
        found: IntArray = np.searchsorted(self.key, keys, side)
        return found

    def mark_empty(self, position: int) -> None:
        """Record that the slot at group-order ``position`` has no unit left."""
        held = self.empty.positions
        at = int(np.searchsorted(held, position))
        if at == len(held) or held[at] != position:
            self.empty.positions = np.insert(held, at, position)


def _starts_run(values: IntArray) -> BoolArray:
    """True where a run of equal values begins."""
    out: BoolArray = np.ones(len(values), bool)
    out[1:] = values[1:] != values[:-1]
    return out


def _shared_per_group(values: IntArray, group: IntArray) -> IntArray:
    """Per group (``group`` sorted, 0..G-1 all present): the value every slot shares, or −1."""
    if not len(group):
        return np.zeros(0, np.int64)
    first = np.flatnonzero(_starts_run(group))
    low = np.minimum.reduceat(values, first)
    high = np.maximum.reduceat(values, first)
    out: IntArray = np.where(low == high, low, -1).astype(np.int64)
    return out
