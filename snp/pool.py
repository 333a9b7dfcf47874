"""The bridge from stored slots and requests to the solver's arrays.

The solver knows integers only: slot and professional ids are the database
ids, times are UTC epoch seconds, and the fairness keys (local day, ISO week)
are computed here in each CPTS's own time zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from snp.calendar import local_day_number, local_iso_week
from snp.modalities import Modality, Origin
from snp.orientation import OCCUPYING
from snp.orm import (
    AgreementRow,
    CareRequestRow,
    CptsRow,
    OrientationRow,
    ProfessionalRow,
    SiteRow,
    SlotRow,
)
from solver.types import Load, Request, SlotPool
from solver.types import Modality as SolverModality
from solver.types import Origin as SolverOrigin

SOLVER_MODALITY = {
    Modality.IN_PERSON: SolverModality.IN_PERSON,
    Modality.HOME_VISIT: SolverModality.HOME_VISIT,
    Modality.TELECONSULTATION: SolverModality.TELECONSULTATION,
}
SOLVER_ORIGIN = {Origin.CPTS: SolverOrigin.CPTS, Origin.SAS: SolverOrigin.SAS}


LOAD_LOOKBACK = timedelta(days=7)


def epoch(value: datetime) -> int:
    return int(value.timestamp())


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """Free slots of some CPTS at one moment, and the load already given."""

    pool: SlotPool
    load: Load
    taken_at: datetime


def cpts_zones(session: Session) -> dict[int, ZoneInfo]:
    return {cid: ZoneInfo(tz) for cid, tz in session.execute(select(CptsRow.id, CptsRow.timezone))}


def allowed_cpts(session: Session, cpts_id: int) -> frozenset[int]:
    """A CPTS's own id plus those whose slots a mutualisation agreement opens to it."""
    partners = session.scalars(
        select(AgreementRow.partner_id).where(AgreementRow.cpts_id == cpts_id)
    )
    return frozenset({cpts_id, *partners})


def load_snapshot(
    session: Session,
    cpts_ids: Iterable[int],
    now: datetime,
    until: datetime,
    *,
    profession: int | None = None,
    slot_ids: Iterable[int] | None = None,
    zones: Mapping[int, ZoneInfo] | None = None,
) -> PoolSnapshot:
    """Every open slot of these CPTS starting in [now, until), with free capacity,
    optionally only of one profession or only some slots.

    Plain column tuples, no ORM objects: this runs for every proposal list.
    ``zones`` (CPTS id → time zone) saves a query when the caller has them."""
    query = (
        select(*_POOL_COLUMNS)
        .join(SiteRow, SlotRow.site_id == SiteRow.id)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(
            SlotRow.cpts_id.in_(list(cpts_ids)),
            SlotRow.cancelled.is_(False),
            SlotRow.start_at >= now,
            SlotRow.start_at < until,
            SlotRow.taken < SlotRow.capacity + SlotRow.surnumeraire,
        )
        .order_by(SlotRow.id)
    )
    if profession is not None:
        query = query.where(SlotRow.profession == profession)
    if slot_ids is not None:
        query = query.where(SlotRow.id.in_(list(slot_ids)))
    rows = session.execute(query).all()
    zones = _with_zones(session, zones, {r[10] for r in rows})
    pool = _slot_pool(rows, zones)
    professionals = {r[1] for r in rows}
    load = current_load(session, now, zones, professionals if rows else set())
    return PoolSnapshot(pool, load, now)


# id, professional, start, end, profession, modality, capacity, taken,
# surnumeraire, sas_reserved, cpts, lat, lon, accepts_surnumeraire
_POOL_COLUMNS = (
    SlotRow.id,
    SlotRow.professional_id,
    SlotRow.start_at,
    SlotRow.end_at,
    SlotRow.profession,
    SlotRow.modality,
    SlotRow.capacity,
    SlotRow.taken,
    SlotRow.surnumeraire,
    SlotRow.sas_reserved,
    SlotRow.cpts_id,
    SiteRow.lat,
    SiteRow.lon,
    ProfessionalRow.accepts_surnumeraire,
)
_MODALITY_CODE = {m.value: int(SOLVER_MODALITY[m]) for m in Modality}


def _with_zones(
    session: Session, zones: Mapping[int, ZoneInfo] | None, needed: set[int]
) -> Mapping[int, ZoneInfo]:
    if zones is not None and needed <= zones.keys():
        return zones
    return cpts_zones(session)


def _slot_pool(rows: Sequence[Any], zones: Mapping[int, ZoneInfo]) -> SlotPool:
    n = len(rows)
    if n:
        (ids, pros, starts, ends, profs, mods, caps, taken, surn, sas, cpts, lat, lon, accepts) = (
            zip(*rows, strict=True)
        )
    else:
        ids = pros = starts = ends = profs = mods = caps = taken = surn = sas = cpts = ()
        lat = lon = accepts = ()

    def ints(values: Iterable[int]) -> np.ndarray:
        return np.fromiter(values, dtype=np.int64, count=n)

    def floats(values: Iterable[float]) -> np.ndarray:
        return np.fromiter(values, dtype=np.float64, count=n)

    extra = [
        max(0, s - max(0, t - c)) if a else 0
        for s, t, c, a in zip(surn, taken, caps, accepts, strict=True)
    ]
    days = [_day_week(start, zones[c]) for start, c in zip(starts, cpts, strict=True)]
    return SlotPool(
        slot_id=ints(ids),
        professional=ints(pros),
        lat=floats(lat),
        lon=floats(lon),
        start=ints(epoch(s) for s in starts),
        end=ints(epoch(e) for e in ends),
        profession=ints(profs),
        modality=ints(_MODALITY_CODE[m] for m in mods),
        capacity=ints(max(0, c - t) for c, t in zip(caps, taken, strict=True)),
        surnumeraire=ints(extra),
        sas_reserved=np.fromiter(sas, dtype=np.bool_, count=n),
        cpts=ints(cpts),
        day=ints(d for d, _ in days),
        week=ints(w for _, w in days),
    )


@lru_cache(maxsize=65536)
def _day_week(start: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """Local day number and ISO week of a slot start; slots share starts, so cached."""
    return local_day_number(start, zone), local_iso_week(start, zone)


# Above this many professionals the load is read for all (an IN list that long
# costs more than the rows it saves); the counts are the same either way.
_LOAD_FILTER_LIMIT = 1000


def current_load(
    session: Session,
    now: datetime,
    zones: Mapping[int, ZoneInfo],
    professionals: Collection[int] | None = None,
) -> Load:
    """SNP patients already given per professional-day, and SAS ones per week
    (of the given professionals, or of all)."""
    query = (
        select(SlotRow.professional_id, SlotRow.start_at, SlotRow.cpts_id, CareRequestRow.origin)
        .join(OrientationRow, OrientationRow.slot_id == SlotRow.id)
        .join(CareRequestRow, OrientationRow.request_id == CareRequestRow.id)
        .where(
            OrientationRow.status.in_([str(s) for s in OCCUPYING]),
            # the weekly SAS term looks back at most a week
            SlotRow.start_at >= now - LOAD_LOOKBACK,
        )
    )
    if professionals is not None and len(professionals) <= _LOAD_FILTER_LIMIT:
        if not professionals:
            return Load(daily={}, weekly_sas={})
        query = query.where(SlotRow.professional_id.in_(sorted(professionals)))
    rows = session.execute(query).all()
    zones = _with_zones(session, zones, {r[2] for r in rows})
    daily: Counter[tuple[int, int]] = Counter()
    weekly_sas: Counter[tuple[int, int]] = Counter()
    for professional_id, start, cpts_id, origin in rows:
        day, week = _day_week(start, zones[cpts_id])
        daily[(professional_id, day)] += 1
        if origin == Origin.SAS:
            weekly_sas[(professional_id, week)] += 1
    return Load(daily=dict(daily), weekly_sas=dict(weekly_sas))


def solver_request(
    row: CareRequestRow, *, priority_rank: int, allowed: frozenset[int], now: datetime
) -> Request:
    return Request(
        request_id=row.id,
        lat=row.lat,
        lon=row.lon,
        profession=row.profession,
        modalities=frozenset(SOLVER_MODALITY[Modality(m)] for m in row.modalities.split(",")),
        earliest=epoch(max(now, row.earliest or row.received_at)),
        deadline=epoch(row.deadline),
        priority=priority_rank,
        radius_km=row.radius_km,
        cpts=row.cpts_id,
        allowed_cpts=allowed,
        origin=SOLVER_ORIGIN[Origin(row.origin)],
        medecin_traitant=row.medecin_traitant_id,
    )
