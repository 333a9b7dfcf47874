"""The bridge from stored slots and requests to the solver's arrays.

The solver knows integers only: slot and professional ids are the database
ids, times are UTC epoch seconds, and the fairness keys (local day, ISO week)
are computed here in each CPTS's own time zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Row, select
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
) -> PoolSnapshot:
    """Every open slot of these CPTS starting in [now, until), with free capacity,
    optionally only of one profession or only some slots."""
    zones = cpts_zones(session)
    query = (
        select(SlotRow, SiteRow.lat, SiteRow.lon, ProfessionalRow.accepts_surnumeraire)
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
    pool = _slot_pool(session.execute(query).all(), zones)
    return PoolSnapshot(pool, current_load(session, now, zones), now)


def _slot_pool(
    rows: Sequence[Row[SlotRow, float, float, bool]], zones: Mapping[int, ZoneInfo]
) -> SlotPool:
    slots = [r[0] for r in rows]
    n = len(slots)

    def ints(values: Iterable[int]) -> np.ndarray:
        return np.fromiter(values, dtype=np.int64, count=n)

    def floats(values: Iterable[float]) -> np.ndarray:
        return np.fromiter(values, dtype=np.float64, count=n)

    extra = [
        max(0, s.surnumeraire - max(0, s.taken - s.capacity)) if accepts else 0
        for s, accepts in zip(slots, (r[3] for r in rows), strict=True)
    ]
    return SlotPool(
        slot_id=ints(s.id for s in slots),
        professional=ints(s.professional_id for s in slots),
        lat=floats(r[1] for r in rows),
        lon=floats(r[2] for r in rows),
        start=ints(epoch(s.start_at) for s in slots),
        end=ints(epoch(s.end_at) for s in slots),
        profession=ints(s.profession for s in slots),
        modality=ints(int(SOLVER_MODALITY[Modality(s.modality)]) for s in slots),
        capacity=ints(max(0, s.capacity - s.taken) for s in slots),
        surnumeraire=ints(extra),
        sas_reserved=np.fromiter((s.sas_reserved for s in slots), dtype=np.bool_, count=n),
        cpts=ints(s.cpts_id for s in slots),
        day=ints(local_day_number(s.start_at, zones[s.cpts_id]) for s in slots),
        week=ints(local_iso_week(s.start_at, zones[s.cpts_id]) for s in slots),
    )


def current_load(session: Session, now: datetime, zones: Mapping[int, ZoneInfo]) -> Load:
    """SNP patients already given per professional-day, and SAS ones per week."""
    rows = session.execute(
        select(SlotRow.professional_id, SlotRow.start_at, SlotRow.cpts_id, CareRequestRow.origin)
        .join(OrientationRow, OrientationRow.slot_id == SlotRow.id)
        .join(CareRequestRow, OrientationRow.request_id == CareRequestRow.id)
        .where(
            OrientationRow.status.in_([str(s) for s in OCCUPYING]),
            # the weekly SAS term looks back at most a week
            SlotRow.start_at >= now - LOAD_LOOKBACK,
        )
    ).all()
    daily: Counter[tuple[int, int]] = Counter()
    weekly_sas: Counter[tuple[int, int]] = Counter()
    for professional_id, start, cpts_id, origin in rows:
        daily[(professional_id, local_day_number(start, zones[cpts_id]))] += 1
        if origin == Origin.SAS:
            weekly_sas[(professional_id, local_iso_week(start, zones[cpts_id]))] += 1
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
