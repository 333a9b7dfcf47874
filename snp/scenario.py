"""Deterministic, seeded synthetic scenarios on real communes: professionals, slots, requests.

A scenario is what one territory looks like at a moment ``now``: the SNP slots its
professionals opened over the next 48 hours and the care requests arriving in the
first hours. Everything is a struct of numpy arrays (one index per row), built
without per-slot Python loops, so that XL (1M slots) takes seconds.

Named sizes (``SIZES``):

====  ========  =========  =============================================
size  requests  slots      territory
====  ========  =========  =============================================
S     200       2,000      Yvelines (78), 1.49 M inhabitants, 6 CPTS
M     2,000     20,000     Yvelines (78)
L     20,000    200,000    Île-de-France (75, 77, 78, 91-95), 12.5 M
XL    100,000   1,000,000  metropolitan France (96 départements), 66 M
====  ========  =========  =============================================

Slot and request counts are exact. The territory grows with the size so that slots
per inhabitant stay in the same range (13-16 per 1,000 over 48 h for M, L, XL).

Figures below are **orders of magnitude, our choice**, not statistics to quote:

- professionals per 100,000 inhabitants (France, rounded from DREES/RPPS orders of
  magnitude): GPs 85, nurses 180, physiotherapists 130, pharmacists (officines) 100,
  dentists 55, midwives 35;
- share taking part in the SNP organisation: 30-45 % depending on the profession;
- share of the slots and of the requests per profession: :data:`PROFILES`. When a
  small size (S) would leave each participant with almost no slot, fewer
  professionals take part instead (at least ``min_slots`` each), so that agendas stay
  plausible; :meth:`Scenario.summary` reports the resulting participation.

Deadlines here come from :func:`simple_deadline`, a deliberately simple stand-in for
the per-CPTS rules of :mod:`snp.calendar`; the demo and the service use the latter.
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from snp.geo import (
    Commune,
    CommuneDirectory,
    fixtures_dir,
    load_communes,
    unit_vectors,
)
from solver.types import Modality, Origin, Request, SlotPool

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
UInt8Array = npt.NDArray[np.uint8]

PARIS = ZoneInfo("Europe/Paris")

MEDECIN, PHARMACIEN, DENTISTE, SAGE_FEMME, INFIRMIER, KINE = 10, 21, 40, 50, 60, 70
GENERAL_PRACTICE = "SM54"

PRIORITY_CLASSES: tuple[str, ...] = ("urgent_same_day", "same_day", "within_48h")
URGENT_SAME_DAY, SAME_DAY, WITHIN_48H = 0, 1, 2

IDF_DEPARTEMENTS: tuple[str, ...] = ("75", "77", "78", "91", "92", "93", "94", "95")


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class ProfessionProfile:
    code: int
    per_100k: float  # professionals per 100,000 inhabitants
    participation: float  # share of them in the SNP organisation
    slot_share: float  # share of all slots
    request_share: float  # share of all requests
    min_slots: int  # fewer participants rather than agendas thinner than this
    durations_min: tuple[int, ...]
    # probability of a plage being in person / home visit / teleconsultation
    plage_modalities: tuple[float, float, float]
    # probability that a patient also accepts a home visit / a teleconsultation
    accepts_home: float
    accepts_tele: float
    sas_reserved: float  # share of slots kept for SAS requests
    accepts_surnumeraire: float  # share of professionals accepting surnuméraire


# Doctors carry most of the demand (and all SAS traffic), hence their large slot share.
PROFILES: tuple[ProfessionProfile, ...] = (
    ProfessionProfile(MEDECIN, 85, 0.45, 0.50, 0.62, 6, (15, 20), (0.75, 0.10, 0.15),
                      0.15, 0.35, 0.25, 0.35),
    ProfessionProfile(INFIRMIER, 180, 0.35, 0.18, 0.12, 3, (15, 30), (0.40, 0.60, 0.0),
                      0.70, 0.0, 0.05, 0.25),
    ProfessionProfile(KINE, 130, 0.30, 0.10, 0.07, 3, (30,), (0.85, 0.15, 0.0),
                      0.20, 0.0, 0.05, 0.20),
    ProfessionProfile(PHARMACIEN, 100, 0.40, 0.08, 0.07, 3, (15,), (1.0, 0.0, 0.0),
                      0.0, 0.0, 0.05, 0.40),
    ProfessionProfile(DENTISTE, 55, 0.40, 0.09, 0.08, 3, (30,), (1.0, 0.0, 0.0),
                      0.0, 0.0, 0.05, 0.20),
    ProfessionProfile(SAGE_FEMME, 35, 0.40, 0.05, 0.04, 3, (30,), (0.80, 0.10, 0.10),
                      0.10, 0.20, 0.05, 0.20),
)  # fmt: skip

PRIORITY_MIX = (0.15, 0.45, 0.40)  # urgent_same_day, same_day, within_48h
SAS_SHARE = 0.30  # of all requests; all of them for doctors (SAS regulation is medical)
MEDECIN_TRAITANT_SHARE = 0.50  # doctor requests whose GP is a participating professional
HOME_ONLY_SHARE = 0.05  # patients who cannot travel
HOME_VISIT_MINUTES = 30
SURNUMERAIRE_SLOT_SHARE = 0.25  # slots carrying one extra place, among accepting professionals
ARRIVAL_OFFICE_HOURS = 6.0  # requests arrive over the first office hours after now
CPTS_TARGET_POPULATION = 250_000  # one CPTS per this many inhabitants of a département
HORIZON = timedelta(hours=48)
# Office hours split in blocks; a professional opens at most one plage per block, so
# their plages never overlap. Saturday is morning only (SNP.md).
WEEKDAY_BLOCKS: tuple[tuple[int, int], ...] = ((8, 12), (12, 16), (16, 20))
SATURDAY_BLOCKS: tuple[tuple[int, int], ...] = ((8, 12),)
GRID_S = 900  # plages start on a quarter hour
MIN_BLOCK_S = 1800

DEFAULT_NOW = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # a Tuesday, 08:00 in Paris


@dataclass(frozen=True, slots=True)
class ScenarioSize:
    name: str
    n_requests: int
    n_slots: int
    departements: tuple[str, ...]


def _metro_departements() -> tuple[str, ...]:
    return tuple(sorted({c.departement_code for c in _france() if len(c.departement_code) == 2}))


SIZES: dict[str, ScenarioSize] = {
    "S": ScenarioSize("S", 200, 2_000, ("78",)),
    "M": ScenarioSize("M", 2_000, 20_000, ("78",)),
    "L": ScenarioSize("L", 20_000, 200_000, IDF_DEPARTEMENTS),
    # the département list is filled in lazily (it needs the national table)
    "XL": ScenarioSize("XL", 100_000, 1_000_000, ()),
}


def resolve_size(size: str | ScenarioSize) -> ScenarioSize:
    if isinstance(size, ScenarioSize):
        return size
    key = size.strip().upper()
    if key not in SIZES:
        raise ValueError(f"unknown scenario size {size!r}: use one of {', '.join(SIZES)}")
    found = SIZES[key]
    if not found.departements:
        found = ScenarioSize(found.name, found.n_requests, found.n_slots, _metro_departements())
    return found


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False, slots=True)
class CptsTable:
    cpts_id: IntArray
    name: StrArray
    departement: StrArray
    population: IntArray


@dataclass(frozen=True, eq=False, slots=True)
class Professionals:
    professional_id: IntArray
    profession: IntArray  # ANS TRE_G15 code
    specialty: StrArray  # "SM54" for doctors (all GPs here), "" otherwise
    rpps: StrArray  # 11 digits, Luhn-valid
    commune: StrArray  # INSEE code of the practice
    lat: FloatArray  # practice site
    lon: FloatArray
    cpts: IntArray
    accepts_surnumeraire: BoolArray

    @property
    def is_gp(self) -> BoolArray:
        result: BoolArray = self.specialty == GENERAL_PRACTICE
        return result

    def __len__(self) -> int:
        return int(self.professional_id.shape[0])


@dataclass(frozen=True, eq=False, slots=True)
class Slots:
    slot_id: IntArray  # sorted by start, then professional
    professional: IntArray
    start: IntArray  # UTC epoch seconds
    end: IntArray
    profession: IntArray
    modality: IntArray  # solver.types.Modality
    capacity: IntArray
    surnumeraire: IntArray
    sas_reserved: BoolArray
    cpts: IntArray

    def __len__(self) -> int:
        return int(self.slot_id.shape[0])


@dataclass(frozen=True, eq=False, slots=True)
class Requests:
    request_id: IntArray
    lat: FloatArray
    lon: FloatArray
    commune: StrArray
    profession: IntArray
    modalities: UInt8Array  # bit (1 << Modality) set when that modality is accepted
    priority: IntArray  # index into PRIORITY_CLASSES; 0 is the most urgent
    earliest: IntArray  # arrival, UTC epoch seconds
    deadline: IntArray
    origin: IntArray  # solver.types.Origin
    cpts: IntArray
    radius_km: FloatArray
    medecin_traitant: IntArray  # professional id, -1 when none takes part

    @property
    def priority_class(self) -> StrArray:
        names: StrArray = np.asarray(PRIORITY_CLASSES, dtype=np.str_)[self.priority]
        return names

    def __len__(self) -> int:
        return int(self.request_id.shape[0])


@dataclass(frozen=True, eq=False, slots=True)
class Scenario:
    size: ScenarioSize
    seed: int
    now: datetime
    communes: CommuneDirectory
    commune_cpts: IntArray  # CPTS of each row of communes.codes
    cpts: CptsTable
    professionals: Professionals
    slots: Slots
    requests: Requests
    participation: dict[int, float] = field(default_factory=dict)

    @property
    def horizon_end(self) -> datetime:
        return self.now + HORIZON

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every generated array by dotted name (for equality checks and exports)."""
        out: dict[str, npt.NDArray[np.generic]] = {"commune_cpts": self.commune_cpts}
        for prefix, table in (
            ("cpts", self.cpts),
            ("professionals", self.professionals),
            ("slots", self.slots),
            ("requests", self.requests),
        ):
            for name in type(table).__slots__:
                out[f"{prefix}.{name}"] = getattr(table, name)
        return out

    def summary(self) -> dict[str, object]:
        pros = self.professionals
        return {
            "size": self.size.name,
            "seed": self.seed,
            "now": self.now.isoformat(),
            "departements": list(self.size.departements),
            "communes": len(self.communes.codes),
            "population": int(self.communes.population.sum()),
            "cpts": len(self.cpts.cpts_id),
            "professionals": len(pros),
            "professionals_by_profession": _count(pros.profession),
            "participation_by_profession": {k: round(v, 3) for k, v in self.participation.items()},
            "slots": len(self.slots),
            "slots_by_profession": _count(self.slots.profession),
            "slots_by_modality": {
                Modality(k).name.lower(): v for k, v in _count(self.slots.modality).items()
            },
            "sas_reserved_slots": int(self.slots.sas_reserved.sum()),
            "requests": len(self.requests),
            "requests_by_profession": _count(self.requests.profession),
            "requests_by_priority": {
                PRIORITY_CLASSES[k]: v for k, v in _count(self.requests.priority).items()
            },
            "sas_requests": int((self.requests.origin == Origin.SAS).sum()),
        }

    def to_solver(
        self,
        now: datetime | None = None,
        *,
        mutualisation: Mapping[int, Iterable[int]] | None = None,
        include_future_requests: bool = True,
    ) -> tuple[SlotPool, list[Request]]:
        """The solver's view at ``now`` (default: the scenario's own ``now``).

        Slots that start before ``now`` and requests whose deadline has passed are left
        out. ``include_future_requests=False`` also leaves out requests that have not
        arrived yet (``earliest > now``), which is what a batch re-plan at ``now`` sees.
        ``allowed_cpts`` is the request's own CPTS plus ``mutualisation[cpts]``.
        """
        at = int((now or self.now).timestamp())
        s, p = self.slots, self.professionals
        keep = s.start >= at
        owner = s.professional[keep]
        day, week = local_day_and_week(s.start[keep])
        pool = SlotPool(
            slot_id=s.slot_id[keep],
            professional=owner,
            lat=p.lat[owner],
            lon=p.lon[owner],
            start=s.start[keep],
            end=s.end[keep],
            profession=s.profession[keep],
            modality=s.modality[keep],
            capacity=s.capacity[keep],
            surnumeraire=s.surnumeraire[keep],
            sas_reserved=s.sas_reserved[keep],
            cpts=s.cpts[keep],
            day=day,
            week=week,
        )

        r = self.requests
        wanted = r.deadline > at
        if not include_future_requests:
            wanted &= r.earliest <= at
        extra = {int(k): frozenset(int(x) for x in v) for k, v in (mutualisation or {}).items()}
        modality_sets = {
            mask: frozenset(m for m in Modality if mask & (1 << m)) for mask in range(8)
        }
        columns = (
            r.request_id, r.lat, r.lon, r.profession, r.modalities, r.earliest, r.deadline,
            r.priority, r.radius_km, r.cpts, r.origin, r.medecin_traitant,
        )  # fmt: skip
        requests = [
            Request(
                request_id=rid,
                lat=lat,
                lon=lon,
                profession=prof,
                modalities=modality_sets[mask],
                earliest=earliest,
                deadline=deadline,
                priority=prio,
                radius_km=radius,
                cpts=cpts,
                allowed_cpts=frozenset({cpts}) | extra.get(cpts, frozenset()),
                origin=Origin(origin),
                medecin_traitant=None if mt < 0 else mt,
            )
            for (
                rid,
                lat,
                lon,
                prof,
                mask,
                earliest,
                deadline,
                prio,
                radius,
                cpts,
                origin,
                mt,
            ) in zip(*(column[wanted].tolist() for column in columns), strict=True)
        ]
        return pool, requests


def _count(values: npt.NDArray[np.integer]) -> dict[int, int]:
    keys, counts = np.unique(values, return_counts=True)
    return {int(k): int(c) for k, c in zip(keys, counts, strict=True)}


# --------------------------------------------------------------------------- time


def _local_info(epochs: IntArray) -> tuple[IntArray, IntArray]:
    """UTC offset (s) and local date ordinal of each instant, computed per distinct hour.

    Paris changes offset only on whole UTC hours, so one zoneinfo call per distinct hour
    is exact and keeps this vectorised.
    """
    hours, inverse = np.unique(epochs // 3600, return_inverse=True)
    per_hour = [datetime.fromtimestamp(int(h) * 3600, PARIS).utcoffset() for h in hours]
    offsets = np.array([int((o or timedelta()).total_seconds()) for o in per_hour], dtype=np.int64)[
        inverse
    ]
    local = epochs + offsets
    ordinal = local // 86400 + date(1970, 1, 1).toordinal()
    return offsets, ordinal.astype(np.int64)


def local_day_and_week(epochs: IntArray) -> tuple[IntArray, IntArray]:
    """Per instant: local day number (days since 1970-01-01 in Paris) and ISO week key.

    Same conventions as :func:`snp.calendar.local_day_number` and
    :func:`snp.calendar.local_iso_week` (``iso_year * 100 + iso_week``).
    """
    if epochs.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    _, ordinal = _local_info(epochs)
    days = ordinal - date(1970, 1, 1).toordinal()
    uniq, inverse = np.unique(ordinal, return_inverse=True)
    iso_dates = [date.fromordinal(int(o)).isocalendar() for o in uniq]
    weeks = np.array(
        [iso.year * 100 + iso.week for iso in iso_dates],
        dtype=np.int64,
    )[inverse]
    return days.astype(np.int64), weeks


def _local_epoch(day: date, hour: int) -> int:
    return int(datetime.combine(day, time(hour), PARIS).timestamp())


def office_blocks(now: datetime, horizon: timedelta = HORIZON) -> list[tuple[int, int]]:
    """Office-hour blocks (UTC epoch start, end) within ``[now, now + horizon]``.

    Monday-Friday 08:00-20:00 and Saturday 08:00-12:00 in Paris, split in
    :data:`WEEKDAY_BLOCKS`; Sundays and French public holidays are PDSA. Blocks are
    clipped to the horizon, start on a quarter hour, and are dropped when shorter
    than 30 minutes.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC), e.g. datetime.now(UTC)")
    start, end = int(now.timestamp()), int((now + horizon).timestamp())
    first = now.astimezone(PARIS).date()
    last = (now + horizon).astimezone(PARIS).date()
    public = holidays.country_holidays("FR", years=range(first.year, last.year + 1))
    blocks: list[tuple[int, int]] = []
    day = first
    while day <= last:
        if day.weekday() < 6 and day not in public:
            for open_h, close_h in SATURDAY_BLOCKS if day.weekday() == 5 else WEEKDAY_BLOCKS:
                lo = max(_local_epoch(day, open_h), start)
                lo = -(-lo // GRID_S) * GRID_S
                hi = min(_local_epoch(day, close_h), end)
                if hi - lo >= MIN_BLOCK_S:
                    blocks.append((lo, hi))
        day += timedelta(days=1)
    return blocks


def simple_deadline(earliest: IntArray, priority: IntArray) -> IntArray:
    """Deadlines by SNP.md's default priority classes, simply (no per-CPTS settings).

    ``urgent_same_day``: 4 h, capped at 20:00 local that day; ``same_day``: 20:00 local,
    or 12:00 the next calendar day after 18:00; ``within_48h``: 48 h. The real rules
    (per CPTS, closing days, PDSA) live in :mod:`snp.calendar`.
    """
    offsets, ordinal = _local_info(earliest)
    seconds_of_day = (earliest + offsets) % 86400
    uniq, inverse = np.unique(ordinal, return_inverse=True)
    days = [date.fromordinal(int(o)) for o in uniq]
    at_20 = np.array([_local_epoch(d, 20) for d in days], dtype=np.int64)[inverse]
    next_12 = np.array([_local_epoch(d + timedelta(days=1), 12) for d in days], dtype=np.int64)[
        inverse
    ]
    urgent = np.minimum(earliest + 4 * 3600, at_20)
    same_day = np.where(seconds_of_day < 18 * 3600, at_20, next_12)
    within_48h = earliest + 48 * 3600
    result: IntArray = np.select(
        [priority == URGENT_SAME_DAY, priority == SAME_DAY], [urgent, same_day], within_48h
    ).astype(np.int64)
    return result


# --------------------------------------------------------------------------- territory


@cache
def _france() -> tuple[Commune, ...]:
    return tuple(load_communes(fixtures_dir() / "communes_fr.csv"))


def _territory(departements: Sequence[str]) -> CommuneDirectory:
    everything = _france()
    wanted = {d.strip().upper() for d in departements}
    if any(len(d) == 3 for d in wanted):
        raise ValueError(
            "scenarios are generated in Europe/Paris office hours: DROM départements "
            f"({sorted(d for d in wanted if len(d) == 3)}) are not supported"
        )
    kept = [c for c in everything if c.departement_code in wanted]
    found = {c.departement_code for c in kept}
    if not wanted or found != wanted:
        raise ValueError(
            f"unknown département(s): {sorted(wanted - found)}; use codes such as '78' or '2A'"
        )
    return CommuneDirectory(kept, density_context=everything, source="communes_fr.csv")


def _project_km(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Local equirectangular projection (km); fine within one département."""
    k = math.cos(math.radians(float(lat.mean())))
    return lon * 111.320 * k, lat * 110.574


def _weighted_kmeans(
    x: FloatArray, y: FloatArray, w: FloatArray, k: int, rng: np.random.Generator
) -> IntArray:
    """Population-weighted k-means (k-means++ start, Lloyd iterations); labels 0..k-1."""
    n = x.shape[0]
    points = np.stack([x, y], axis=1)
    prob = w / w.sum()
    centres = [points[rng.choice(n, p=prob)]]
    for _ in range(1, k):
        d2 = ((points[:, None, :] - np.array(centres)[None, :, :]) ** 2).sum(-1).min(1)
        weight = w * d2
        if weight.sum() <= 0:
            break
        centres.append(points[rng.choice(n, p=weight / weight.sum())])
    c = np.array(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(50):
        labels = ((points[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1).astype(np.int64)
        mass = np.bincount(labels, weights=w, minlength=len(c))
        new = c.copy()
        filled = mass > 0
        for axis in (0, 1):
            sums = np.bincount(labels, weights=w * points[:, axis], minlength=len(c))
            new[filled, axis] = sums[filled] / mass[filled]
        if np.allclose(new, c):
            break
        c = new
    return labels


def assign_cpts(directory: CommuneDirectory) -> tuple[IntArray, CptsTable]:
    """Split each département into CPTS by clustering its communes.

    One CPTS per ~250,000 inhabitants of a département (6 in the 78), never across a
    département border (CPTS answer to one ARS délégation). The split depends only on
    the communes, not on the scenario seed, so a territory keeps its CPTS across runs.
    Ids start at 1; each CPTS is named after its most populous commune.
    """
    n = len(directory.codes)
    commune_cpts = np.zeros(n, dtype=np.int64)
    ids: list[int] = []
    names: list[str] = []
    deps: list[str] = []
    pops: list[int] = []
    for dep in sorted(set(directory.departements.tolist())):
        rows = np.flatnonzero(directory.departements == dep)
        pop = directory.population[rows]
        k = int(min(len(rows), max(1, round(pop.sum() / CPTS_TARGET_POPULATION))))
        x, y = _project_km(directory.lat[rows], directory.lon[rows])
        rng = np.random.default_rng(zlib.crc32(dep.encode()))
        labels = _weighted_kmeans(x, y, pop.astype(np.float64) + 1.0, k, rng)
        clusters = []
        for label in np.unique(labels):
            members = rows[labels == label]
            biggest = members[np.argmax(directory.population[members])]
            clusters.append((str(directory.codes[biggest]), members, biggest))
        for _, members, biggest in sorted(clusters, key=lambda c: c[0]):
            cpts_id = len(ids) + 1
            commune_cpts[members] = cpts_id
            ids.append(cpts_id)
            names.append(f"CPTS {directory.names[biggest]}")
            deps.append(dep)
            pops.append(int(directory.population[members].sum()))
    table = CptsTable(
        cpts_id=np.array(ids, dtype=np.int64),
        name=np.array(names, dtype=np.str_),
        departement=np.array(deps, dtype=np.str_),
        population=np.array(pops, dtype=np.int64),
    )
    return commune_cpts, table


# --------------------------------------------------------------------------- generation


def _largest_remainder(total: int, shares: Sequence[float]) -> IntArray:
    """Split ``total`` by ``shares`` into integers that sum to ``total`` exactly."""
    raw = np.asarray(shares, dtype=np.float64) / float(sum(shares)) * total
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:short]] += 1
    return out


def _scatter(
    rng: np.random.Generator, lat: FloatArray, lon: FloatArray, population: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Random points around commune points, uniform in a disc sized like the town.

    Radius: that of a disc holding the commune at 3,000 inhabitants/km² (a typical
    town), clipped to 1-6 km: about 1 km around a village, 3 km around Versailles, 6 km
    around Paris (whose single point is the city centroid).
    """
    radius_km = np.clip(np.sqrt(population / (3000.0 * math.pi)), 1.0, 6.0)
    r = radius_km * np.sqrt(rng.random(lat.shape[0]))
    theta = rng.random(lat.shape[0]) * 2.0 * math.pi
    new_lat = lat + r * np.cos(theta) / 110.574
    new_lon = lon + r * np.sin(theta) / (111.320 * np.cos(np.radians(lat)))
    return np.round(new_lat, 6), np.round(new_lon, 6)


def _luhn_check_digits(payload: IntArray, n_digits: int) -> IntArray:
    """Luhn check digit of each integer written with ``n_digits`` digits."""
    total = np.zeros(payload.shape[0], dtype=np.int64)
    rest = payload.copy()
    for position in range(n_digits):  # from the rightmost digit, which gets doubled
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:
            digit = digit * 2
            digit = np.where(digit > 9, digit - 9, digit)
        total += digit
    result: IntArray = (10 - total % 10) % 10
    return result


def _rpps(rng: np.random.Generator, n: int) -> StrArray:
    """Distinct, Luhn-valid 11-digit RPPS-like numbers ("10" + 8 digits + check)."""
    body = rng.choice(10**8, size=n, replace=False).astype(np.int64) + 10 * 10**8
    numbers = body * 10 + _luhn_check_digits(body, 10)
    return numbers.astype("<U11")


def _professionals(
    rng: np.random.Generator,
    communes: CommuneDirectory,
    commune_cpts: IntArray,
    slot_counts: IntArray,
) -> tuple[Professionals, dict[int, float]]:
    population = communes.population.astype(np.float64)
    total_pop = float(population.sum())
    p_commune = population / total_pop
    rows_parts: list[IntArray] = []
    prof_parts: list[IntArray] = []
    surn_parts: list[BoolArray] = []
    participation: dict[int, float] = {}
    for profile, n_slots in zip(PROFILES, slot_counts.tolist(), strict=True):
        in_practice = profile.per_100k * total_pop / 1e5
        wanted = round(in_practice * profile.participation)
        n = 0 if n_slots == 0 else max(1, min(wanted, n_slots // profile.min_slots))
        participation[profile.code] = n / in_practice if in_practice else 0.0
        per_commune = rng.multinomial(n, p_commune)
        rows_parts.append(np.repeat(np.arange(len(population), dtype=np.int64), per_commune))
        prof_parts.append(np.full(n, profile.code, dtype=np.int64))
        surn_parts.append(rng.random(n) < profile.accepts_surnumeraire)
    rows = np.concatenate(rows_parts)
    profession = np.concatenate(prof_parts)
    lat, lon = _scatter(rng, communes.lat[rows], communes.lon[rows], communes.population[rows])
    n_total = rows.shape[0]
    pros = Professionals(
        professional_id=np.arange(n_total, dtype=np.int64),
        profession=profession,
        specialty=np.where(profession == MEDECIN, GENERAL_PRACTICE, "").astype("<U4"),
        rpps=_rpps(rng, n_total),
        commune=communes.codes[rows],
        lat=lat,
        lon=lon,
        cpts=commune_cpts[rows],
        accepts_surnumeraire=np.concatenate(surn_parts),
    )
    return pros, participation


def _spread_over(
    rng: np.random.Generator, total: int, capacity: IntArray, at_least_one: bool
) -> IntArray:
    """``total`` items over bins of bounded ``capacity``, unevenly (gamma weights)."""
    n = capacity.shape[0]
    if int(capacity.sum()) < total:
        raise ValueError(
            f"the office hours in the next 48 h cannot hold {total} slots for these "
            "professionals; pick a `now` with more office time ahead (not a Saturday "
            "afternoon before a public holiday)"
        )
    weights: FloatArray = np.asarray(rng.gamma(2.0, size=n), dtype=np.float64)
    base = np.ones(n, dtype=np.int64) if at_least_one and total >= n else np.zeros(n, np.int64)
    count = base + rng.multinomial(total - int(base.sum()), weights / weights.sum())
    # professionals asked for more than their office time holds pass the excess on
    for _ in range(100):
        excess = int(np.maximum(count - capacity, 0).sum())
        if excess == 0:
            break
        count = np.minimum(count, capacity)
        spare = (capacity - count).astype(np.float64)
        count += rng.multinomial(excess, spare / spare.sum())
    else:  # pragma: no cover - capacity.sum() >= total guarantees convergence
        raise RuntimeError("could not spread the slots over the professionals")
    return count


def _slots(
    rng: np.random.Generator,
    pros: Professionals,
    slot_counts: IntArray,
    blocks: list[tuple[int, int]],
) -> Slots:
    """Each professional's slots, as plages of consecutive slots, one per office block.

    All arrays are (professionals x blocks); Python loops only over professions and
    over the few blocks (at most 9 in 48 h).
    """
    n, b = len(pros), len(blocks)
    if b == 0:
        raise ValueError(
            "no office hours in the 48 h after `now` (Sunday, public holiday or "
            "Saturday afternoon ahead): pick another `now`"
        )
    block_start = np.array([s for s, _ in blocks], dtype=np.int64)
    block_len = np.array([e - s for s, e in blocks], dtype=np.int64)
    order = np.argsort(rng.random((n, b)), axis=1)  # each professional's block order
    modality = np.zeros((n, b), dtype=np.int64)
    duration = np.zeros((n, b), dtype=np.int64)
    sas_share = np.zeros(n, dtype=np.float64)
    wanted = np.zeros(n, dtype=np.int64)
    for profile, n_slots in zip(PROFILES, slot_counts.tolist(), strict=True):
        mine = np.flatnonzero(pros.profession == profile.code)
        if mine.size == 0:
            continue
        probs = np.asarray(profile.plage_modalities) / sum(profile.plage_modalities)
        modality[mine] = rng.choice(3, size=(mine.size, b), p=probs)
        base = rng.choice(np.asarray(profile.durations_min), size=mine.size)[:, None]
        home_visit = modality[mine] == Modality.HOME_VISIT
        duration[mine] = 60 * np.where(home_visit, np.maximum(base, HOME_VISIT_MINUTES), base)
        sas_share[mine] = profile.sas_reserved
        capacity = block_len[order[mine]] // duration[mine]
        wanted[mine] = _spread_over(rng, n_slots, capacity.sum(axis=1), at_least_one=True)
    capacity = block_len[order] // duration

    # pass 1: plages of 2-12 slots in the first blocks of each professional's order;
    # pass 2: top up in order until each professional has all their slots.
    take = np.zeros((n, b), dtype=np.int64)
    remaining = wanted.copy()
    for j in range(b):
        length = np.minimum(capacity[:, j], rng.integers(2, 13, size=n))
        take[:, j] = np.minimum(remaining, length)
        remaining -= take[:, j]
    for j in range(b):
        extra = np.minimum(remaining, capacity[:, j] - take[:, j])
        take[:, j] += extra
        remaining -= extra
    assert not remaining.any()

    pro_idx, pos = np.nonzero(take)
    count = take[pro_idx, pos]
    d = duration[pro_idx, pos]
    blk = order[pro_idx, pos]
    free_quarters = (block_len[blk] - count * d) // GRID_S
    quarters = np.floor(rng.random(count.shape[0]) * (free_quarters + 1)).astype(np.int64)
    plage_start = block_start[blk] + GRID_S * quarters

    total = int(count.sum())
    first = np.repeat(np.cumsum(count) - count, count)
    k = np.arange(total, dtype=np.int64) - first
    professional = np.repeat(pro_idx.astype(np.int64), count)
    slot_len = np.repeat(d, count)
    start = np.repeat(plage_start, count) + k * slot_len
    slot_modality = np.repeat(modality[pro_idx, pos], count)

    sort = np.lexsort((professional, start))
    professional, start, slot_len, slot_modality = (
        professional[sort],
        start[sort],
        slot_len[sort],
        slot_modality[sort],
    )
    surnumeraire = (
        pros.accepts_surnumeraire[professional] & (rng.random(total) < SURNUMERAIRE_SLOT_SHARE)
    ).astype(np.int64)
    return Slots(
        slot_id=np.arange(total, dtype=np.int64),
        professional=professional,
        start=start,
        end=start + slot_len,
        profession=pros.profession[professional],
        modality=slot_modality,
        capacity=np.ones(total, dtype=np.int64),
        surnumeraire=surnumeraire,
        sas_reserved=rng.random(total) < sas_share[professional],
        cpts=pros.cpts[professional],
    )


def _arrivals(
    rng: np.random.Generator, n: int, blocks: list[tuple[int, int]], hours: float
) -> IntArray:
    """Arrival instants spread uniformly over the first ``hours`` of office time."""
    lengths = np.array([e - s for s, e in blocks], dtype=np.int64)
    ends = np.cumsum(lengths)
    span = min(int(hours * 3600), int(ends[-1]))
    offset = np.sort(rng.integers(0, span, size=n))
    which = np.searchsorted(ends, offset, side="right")
    starts = np.array([s for s, _ in blocks], dtype=np.int64)
    result: IntArray = starts[which] + offset - (ends[which] - lengths[which])
    return result


def _requests(
    rng: np.random.Generator,
    communes: CommuneDirectory,
    commune_cpts: IntArray,
    pros: Professionals,
    n: int,
    blocks: list[tuple[int, int]],
) -> Requests:
    population = communes.population.astype(np.float64)
    rows = rng.choice(population.shape[0], size=n, p=population / population.sum())
    lat, lon = _scatter(rng, communes.lat[rows], communes.lon[rows], communes.population[rows])

    codes = np.array([p.code for p in PROFILES], dtype=np.int64)
    which = rng.choice(len(PROFILES), size=n, p=[p.request_share for p in PROFILES])
    profession = codes[which]
    home_p = np.array([p.accepts_home for p in PROFILES])[which]
    tele_p = np.array([p.accepts_tele for p in PROFILES])[which]
    in_person = rng.random(n) >= HOME_ONLY_SHARE
    home = rng.random(n) < home_p
    tele = rng.random(n) < tele_p
    in_person |= ~(home | tele)  # a patient accepts at least one modality
    modalities = (
        in_person.astype(np.uint8) << Modality.IN_PERSON
        | home.astype(np.uint8) << Modality.HOME_VISIT
        | tele.astype(np.uint8) << Modality.TELECONSULTATION
    ).astype(np.uint8)

    priority = rng.choice(3, size=n, p=PRIORITY_MIX).astype(np.int64)
    doctor = profession == MEDECIN
    sas_p = min(1.0, SAS_SHARE / max(float(doctor.mean()), 1e-9))
    origin = np.where(doctor & (rng.random(n) < sas_p), Origin.SAS, Origin.CPTS).astype(np.int64)
    earliest = _arrivals(rng, n, blocks, ARRIVAL_OFFICE_HOURS)

    medecin_traitant = np.full(n, -1, dtype=np.int64)
    gps = np.flatnonzero(pros.is_gp)
    with_mt = np.flatnonzero(doctor & (rng.random(n) < MEDECIN_TRAITANT_SHARE))
    if gps.size and with_mt.size:
        # the patient's GP practises nearby: one of the 5 participating GPs nearest home
        tree = cKDTree(unit_vectors(pros.lat[gps], pros.lon[gps]))
        k = min(5, gps.size)
        _, near = tree.query(unit_vectors(lat[with_mt], lon[with_mt]), k=k)
        near = np.asarray(near).reshape(with_mt.size, k)
        pick = near[np.arange(with_mt.size), rng.integers(0, k, size=with_mt.size)]
        medecin_traitant[with_mt] = pros.professional_id[gps[pick]]

    return Requests(
        request_id=np.arange(n, dtype=np.int64),
        lat=lat,
        lon=lon,
        commune=communes.codes[rows],
        profession=profession,
        modalities=modalities,
        priority=priority,
        earliest=earliest,
        deadline=simple_deadline(earliest, priority),
        origin=origin,
        cpts=commune_cpts[rows],
        radius_km=communes.default_radii_km()[rows],
        medecin_traitant=medecin_traitant,
    )


def generate(
    size: str | ScenarioSize,
    seed: int = 0,
    *,
    now: datetime = DEFAULT_NOW,
    departements: Sequence[str] | None = None,
) -> Scenario:
    """A deterministic scenario: same ``size``, ``seed``, ``now`` and territory, same arrays.

    ``now`` must be timezone-aware; the default is a fixed Tuesday 08:00 in Paris
    (never the wall clock, so that runs are reproducible). ``departements`` overrides
    the size's territory (metropolitan codes only). Each part (professionals, slots,
    requests) draws from its own child of ``SeedSequence(seed)``, so changing how one
    part is drawn does not reshuffle the others.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC), e.g. datetime.now(UTC)")
    now = now.astimezone(UTC)
    spec = resolve_size(size)
    if departements is not None:
        spec = ScenarioSize(spec.name, spec.n_requests, spec.n_slots, tuple(departements))
    if spec.n_slots < 0 or spec.n_requests < 0:
        raise ValueError("scenario sizes must be non-negative")
    communes = _territory(spec.departements)
    commune_cpts, cpts = assign_cpts(communes)
    blocks = office_blocks(now)
    pro_rng, slot_rng, request_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    slot_counts = _largest_remainder(spec.n_slots, [p.slot_share for p in PROFILES])
    pros, participation = _professionals(pro_rng, communes, commune_cpts, slot_counts)
    slots = _slots(slot_rng, pros, slot_counts, blocks)
    requests = _requests(request_rng, communes, commune_cpts, pros, spec.n_requests, blocks)
    return Scenario(
        size=spec,
        seed=seed,
        now=now,
        communes=communes,
        commune_cpts=commune_cpts,
        cpts=cpts,
        professionals=pros,
        slots=slots,
        requests=requests,
        participation=participation,
    )


# --------------------------------------------------------------------------- export

MODALITY_NAMES = {
    Modality.IN_PERSON: "in_person",
    Modality.HOME_VISIT: "home_visit",
    Modality.TELECONSULTATION: "teleconsultation",
}  # the same words as snp.modalities.Modality


def _iso(epochs: IntArray) -> list[str]:
    text = np.datetime_as_string(epochs.astype("datetime64[s]"), unit="s")
    return [f"{t}Z" for t in text.tolist()]


def write_csv(scenario: Scenario, out_dir: str | Path) -> dict[str, Path]:
    """Write the scenario as CSV files in ``out_dir`` (created if needed).

    UTF-8, comma-separated, one header line; instants in ISO 8601 UTC (``...Z``).

    ``cpts.csv``: ``cpts_id, name, departement, population``.

    ``professionals.csv``: ``professional_id, rpps, profession`` (ANS TRE_G15 code),
    ``specialty`` (``SM54`` or empty), ``insee_code`` (practice commune), ``lat, lon``
    (practice site), ``cpts_id``, ``accepts_surnumeraire`` (``true``/``false``).

    ``slots.csv``: ``slot_id, professional_id, start, end, profession, modality``
    (``in_person``, ``home_visit``, ``teleconsultation``), ``capacity, surnumeraire``
    (extra places), ``sas_reserved`` (``true``/``false``), ``cpts_id``.

    ``requests.csv``: ``request_id, insee_code, lat, lon, profession, modalities``
    (``;``-separated modality words), ``priority_class``, ``earliest`` (arrival),
    ``deadline``, ``origin`` (``cpts``/``sas``), ``cpts_id, radius_km``,
    ``medecin_traitant_id`` (a professional_id, or empty).

    Returns the path of each file by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pros, slots, req, cpts = (
        scenario.professionals,
        scenario.slots,
        scenario.requests,
        scenario.cpts,
    )

    def flag(values: BoolArray) -> list[str]:
        return np.where(values, "true", "false").tolist()  # type: ignore[no-any-return]

    modality_word = np.array([MODALITY_NAMES[m] for m in Modality], dtype=np.str_)
    mask_words = [
        ";".join(MODALITY_NAMES[m] for m in Modality if mask & (1 << m)) for mask in range(8)
    ]
    origin_word = np.array(["cpts", "sas"], dtype=np.str_)
    mt = req.medecin_traitant
    tables: dict[str, tuple[tuple[str, ...], list[Sequence[object]]]] = {
        "cpts.csv": (
            ("cpts_id", "name", "departement", "population"),
            [cpts.cpts_id.tolist(), cpts.name.tolist(), cpts.departement.tolist(),
             cpts.population.tolist()],
        ),
        "professionals.csv": (
            ("professional_id", "rpps", "profession", "specialty", "insee_code", "lat", "lon",
             "cpts_id", "accepts_surnumeraire"),
            [pros.professional_id.tolist(), pros.rpps.tolist(), pros.profession.tolist(),
             pros.specialty.tolist(), pros.commune.tolist(), pros.lat.tolist(),
             pros.lon.tolist(), pros.cpts.tolist(), flag(pros.accepts_surnumeraire)],
        ),
        "slots.csv": (
            ("slot_id", "professional_id", "start", "end", "profession", "modality",
             "capacity", "surnumeraire", "sas_reserved", "cpts_id"),
            [slots.slot_id.tolist(), slots.professional.tolist(), _iso(slots.start),
             _iso(slots.end), slots.profession.tolist(),
             modality_word[slots.modality].tolist(), slots.capacity.tolist(),
             slots.surnumeraire.tolist(), flag(slots.sas_reserved), slots.cpts.tolist()],
        ),
        "requests.csv": (
            ("request_id", "insee_code", "lat", "lon", "profession", "modalities",
             "priority_class", "earliest", "deadline", "origin", "cpts_id", "radius_km",
             "medecin_traitant_id"),
            [req.request_id.tolist(), req.commune.tolist(), req.lat.tolist(),
             req.lon.tolist(), req.profession.tolist(),
             [mask_words[m] for m in req.modalities.tolist()],
             req.priority_class.tolist(), _iso(req.earliest), _iso(req.deadline),
             origin_word[req.origin].tolist(), req.cpts.tolist(), req.radius_km.tolist(),
             np.where(mt >= 0, mt.astype(str), "").tolist()],
        ),
    }  # fmt: skip
    written: dict[str, Path] = {}
    for name, (header, columns) in tables.items():
        path = out / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(zip(*columns, strict=True))
        written[name] = path
    return written
