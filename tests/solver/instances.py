"""Small random instances and independent reference checks for the solver tests."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from solver import Load, Modality, Origin, Request, SlotIndex, SlotPool, Weights
from solver.types import IntArray

NOW = 1_800_000_000
HOUR = 3600


def make_pool(
    rng: np.random.Generator,
    n: int,
    *,
    spread_km: float = 10.0,
    n_prof: int = 4,
    professions: int = 2,
    tele_share: float = 0.2,
) -> SlotPool:
    """n slots around (48.8, 2.1), over 48 h, a few professionals and CPTS."""
    professional = rng.integers(0, n_prof, n)
    site_lat = 48.8 + rng.normal(0, spread_km / 111, n_prof)
    site_lon = 2.1 + rng.normal(0, spread_km / 73, n_prof)
    start = NOW + rng.integers(-2, 48, n) * HOUR + rng.integers(0, 4, n) * 900
    modality = np.where(rng.random(n) < tele_share, 2, rng.integers(0, 2, n))
    return SlotPool(
        slot_id=rng.permutation(n).astype(np.int64) * 7 + 3,
        professional=professional.astype(np.int64),
        lat=site_lat[professional],
        lon=site_lon[professional],
        start=start.astype(np.int64),
        end=(start + 900).astype(np.int64),
        profession=(professional % professions).astype(np.int64),
        modality=modality.astype(np.int64),
        capacity=rng.integers(0, 3, n).astype(np.int64),
        surnumeraire=(rng.random(n) < 0.3).astype(np.int64),
        sas_reserved=rng.random(n) < 0.2,
        cpts=rng.integers(0, 3, n).astype(np.int64),
        day=((start - NOW) // 86400).astype(np.int64),
        week=((start - NOW) // (3 * 86400)).astype(np.int64),  # weeks of 3 days: more sharing
    )


def make_requests(
    rng: np.random.Generator,
    m: int,
    *,
    spread_km: float = 10.0,
    professions: int = 2,
    first_id: int = 100,
) -> list[Request]:
    out = []
    for i in range(m):
        mods = [mod for mod in Modality if rng.random() < 0.6] or [Modality.IN_PERSON]
        earliest = NOW + int(rng.integers(-1, 6)) * HOUR
        cpts = int(rng.integers(0, 3))
        out.append(
            Request(
                request_id=first_id + i,
                lat=48.8 + float(rng.normal(0, spread_km / 111)),
                lon=2.1 + float(rng.normal(0, spread_km / 73)),
                profession=int(rng.integers(0, professions)),
                modalities=frozenset(mods),
                earliest=earliest,
                deadline=max(NOW, earliest) + int(rng.integers(2, 48)) * HOUR,
                priority=int(rng.integers(0, 3)),
                radius_km=float(rng.choice([5.0, 10.0, 25.0])),
                cpts=cpts,
                allowed_cpts=frozenset(
                    {cpts} | ({(cpts + 1) % 3} if rng.random() < 0.5 else set())
                ),
                origin=Origin.SAS if rng.random() < 0.4 else Origin.CPTS,
                medecin_traitant=int(rng.integers(0, 4)) if rng.random() < 0.5 else None,
            )
        )
    return out


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


def feasible(request: Request, pool: SlotPool, j: int, now: int) -> bool:
    """The hard rules, written out plainly slot by slot (independent of the solver)."""
    if pool.profession[j] != request.profession:
        return False
    if Modality(int(pool.modality[j])) not in request.modalities:
        return False
    if (
        pool.modality[j] != Modality.TELECONSULTATION
        and km_between(request.lat, request.lon, float(pool.lat[j]), float(pool.lon[j]))
        > request.radius_km
    ):
        return False
    if not max(now, request.earliest) <= pool.start[j] <= request.deadline:
        return False
    if pool.capacity[j] + pool.surnumeraire[j] <= 0:
        return False
    if int(pool.cpts[j]) not in request.allowed_cpts | {request.cpts}:
        return False
    return not (pool.sas_reserved[j] and request.origin != Origin.SAS)


def pair_cost(request: Request, pool: SlotPool, j: int, now: int, w: Weights) -> int:
    """Edge cost without the SAS term, written out plainly."""
    start = int(pool.start[j])
    t0 = max(now, request.earliest)
    cost = 0
    if pool.modality[j] != Modality.TELECONSULTATION:
        km = km_between(request.lat, request.lon, float(pool.lat[j]), float(pool.lon[j]))
        cost += int(np.rint(km * w.per_km))
    cost += w.per_minute_wait * ((start - now) // 60)
    cost += (
        w.for_priority(w.deadline_closeness, request.priority)
        * (start - t0)
        // max(request.deadline - t0, 1)
    )
    if request.medecin_traitant is not None and pool.professional[j] != request.medecin_traitant:
        cost += w.not_medecin_traitant
    if pool.cpts[j] != request.cpts:
        cost += w.other_cpts
    return cost


def assignment_cost(
    requests: Sequence[Request],
    pool: SlotPool,
    choice: Sequence[int | None],
    now: int,
    w: Weights,
    load: Load,
    penalties: Sequence[int],
) -> int:
    """Model objective of an assignment (slot position or None per request), from scratch."""
    total = 0
    used: Counter[int] = Counter()
    per_day: Counter[tuple[int, int]] = Counter()
    per_week: Counter[tuple[int, int]] = Counter()
    for request, j, pen in zip(requests, choice, penalties, strict=True):
        if j is None:
            total += pen
            continue
        total += pair_cost(request, pool, j, now, w)
        used[j] += 1
        if used[j] > pool.capacity[j]:
            total += w.surnumeraire
        key = (int(pool.professional[j]), int(pool.day[j]))
        per_day[key] += 1
        total += w.daily_marginal(load.daily.get(key, 0) + per_day[key])
        if request.origin == Origin.SAS:
            wk = (int(pool.professional[j]), int(pool.week[j]))
            per_week[wk] += 1
            total += w.sas_marginal(load.weekly_sas.get(wk, 0) + per_week[wk])
    return total


def brute_force(
    requests: Sequence[Request],
    pool: SlotPool,
    now: int,
    w: Weights,
    load: Load,
    penalties: Sequence[int],
) -> int:
    """Minimum objective over every capacity-respecting assignment (tiny instances only)."""
    options = [
        [None, *[j for j in range(len(pool)) if feasible(r, pool, j, now)]] for r in requests
    ]
    best = None
    for choice in itertools.product(*options):
        used = Counter(j for j in choice if j is not None)
        if any(used[j] > pool.capacity[j] + pool.surnumeraire[j] for j in used):
            continue
        cost = assignment_cost(requests, pool, choice, now, w, load, penalties)
        best = cost if best is None else min(best, cost)
    assert best is not None
    return best


def slot_positions(pool: SlotPool, slot_ids: Sequence[int | None]) -> list[int | None]:
    where = {int(s): i for i, s in enumerate(pool.slot_id)}
    return [None if s is None else where[s] for s in slot_ids]


def as_int_array(values: Sequence[int]) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def simple_pool(
    starts: Sequence[int],
    *,
    professional: Sequence[int] | None = None,
    modality: int = 0,
    capacity: int = 1,
    surnumeraire: int = 0,
    lat: float = 48.8,
    lon: float = 2.1,
    sas_reserved: bool = False,
) -> SlotPool:
    """Slots with ids 0..n-1 at one site, one profession (0), CPTS 0."""
    n = len(starts)
    start = np.asarray(starts, dtype=np.int64)
    prof = np.zeros(n, np.int64) if professional is None else as_int_array(professional)
    return SlotPool(
        slot_id=np.arange(n, dtype=np.int64),
        professional=prof,
        lat=np.full(n, lat),
        lon=np.full(n, lon),
        start=start,
        end=start + 900,
        profession=np.zeros(n, np.int64),
        modality=np.full(n, modality, np.int64),
        capacity=np.full(n, capacity, np.int64),
        surnumeraire=np.full(n, surnumeraire, np.int64),
        sas_reserved=np.full(n, sas_reserved),
        cpts=np.zeros(n, np.int64),
        day=((start - NOW) // 86400).astype(np.int64),
        week=np.zeros(n, np.int64),
    )


def simple_request(i: int, **changes: object) -> Request:
    base = {
        "request_id": i,
        "lat": 48.8,
        "lon": 2.1,
        "profession": 0,
        "modalities": frozenset(Modality),
        "earliest": NOW,
        "deadline": NOW + 48 * HOUR,
        "priority": 1,
        "radius_km": 10.0,
        "cpts": 0,
        "allowed_cpts": frozenset({0}),
    }
    base.update(changes)
    return Request(**base)  # type: ignore[arg-type]


def first_failed_rule(request: Request, pool: SlotPool, j: int, now: int) -> str | None:
    """The first hard rule slot j fails for the request, in the documented order."""
    if pool.profession[j] != request.profession:
        return "profession"
    if Modality(int(pool.modality[j])) not in request.modalities:
        return "modality"
    if pool.modality[j] != Modality.TELECONSULTATION and km_between(
        request.lat, request.lon, float(pool.lat[j]), float(pool.lon[j])
    ) > request.radius_km:
        return "too_far"
    if not max(now, request.earliest) <= pool.start[j] <= request.deadline:
        return "outside_time_window"
    if pool.capacity[j] + pool.surnumeraire[j] <= 0:
        return "no_capacity"
    if int(pool.cpts[j]) not in request.allowed_cpts | {request.cpts}:
        return "not_mutualised"
    if pool.sas_reserved[j] and request.origin != Origin.SAS:
        return "sas_reserved"
    return None


def book_randomly(index: SlotIndex, rng: np.random.Generator, bookings: int) -> None:
    """Book up to ``bookings`` random units in place, using surnuméraire on full slots
    and now and then where the professional accepts it."""
    for _ in range(bookings):
        left = np.flatnonzero(index.units > 0)
        if not len(left):
            break
        j = int(rng.choice(left))
        extra = bool(index.pool.capacity[j] == 0) or bool(
            index.pool.surnumeraire[j] > 0 and rng.random() < 0.3
        )
        index.take(j, surnumeraire=extra)
