"""Territorial diagnosis: where the published plages cannot serve the demand.

The recorded requests of a window (or, without history, a population-based
demand model) are replayed day by day with the solver's exact batch mode
against every slot published in the window, at full capacity — what the plages
*could* have done, not what the live orientation happened to do. Requests left
unserved within their deadline are grouped by commune, profession and half-day;
for each group the diagnosis suggests a plage at the commune (hours of which
profession, when) and a what-if re-runs the replay with those plages added.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from snp.calendar import local_day_number, local_iso_week, local_to_utc
from snp.compensation import cpts_zone
from snp.geo import CommuneDirectory, default_directory, haversine_km
from snp.intake import cpts_settings
from snp.modalities import Modality
from snp.orm import CareRequestRow, CptsCommuneRow, CptsRow, SiteRow, SlotRow
from snp.pool import SOLVER_MODALITY, allowed_cpts, epoch, solver_request
from snp.professions import Profession
from snp.scenario import PROFILES
from snp.svg import commune_map
from solver.plan import plan
from solver.types import Load, Request, SlotPool
from solver.types import Modality as SolverModality

SYNTHETIC = 2**39  # ids of suggested slots and their professionals, above any real id
# (the solver accepts ids below 2**40)
GRID = 15 * 60
# Population model when a CPTS has no history: SNP requests per 1,000 inhabitants
# per working day (our default, to be calibrated on the CPTS's own records).
REQUESTS_PER_1000_PER_DAY = 0.25
MODEL_PRIORITY = "within_48h"


@dataclass(frozen=True, slots=True)
class _Demand:
    request: Request
    commune: str
    received_at: datetime


class GapRow(BaseModel):
    commune: str
    commune_name: str
    profession: str
    half_day: str  # YYYY-MM-DD AM|PM (local) of the request
    requests: int
    unserved: int


class CommuneRow(BaseModel):
    commune: str
    commune_name: str
    requests: int
    unserved: int
    median_km: float | None
    max_km: float | None


class SuggestedPlage(BaseModel):
    commune: str
    commune_name: str
    profession: str
    modality: str
    starts_at: datetime
    ends_at: datetime
    places: int
    hours: float


class ReplayFigures(BaseModel):
    requests: int
    served: int
    unserved: int
    within_deadline_share: float | None
    median_km: float | None
    p90_km: float | None


class Diagnosis(BaseModel):
    cpts_codes: list[str]
    date_from: date
    date_to: date
    demand_source: str  # "recorded" or "population model"
    before: ReplayFigures
    after: ReplayFigures  # with the suggested plages added
    gaps: list[GapRow]
    communes: list[CommuneRow]
    suggestions: list[SuggestedPlage]
    suggested_hours_by_profession: dict[str, float]
    unserved_reasons: dict[str, int]


# ----------------------------------------------------------------------------- inputs


def _recorded_demand(
    session: Session, cpts_ids: Sequence[int], start: datetime, end: datetime
) -> list[_Demand]:
    rows = session.scalars(
        select(CareRequestRow)
        .where(
            CareRequestRow.cpts_id.in_(cpts_ids),
            CareRequestRow.received_at >= start,
            CareRequestRow.received_at < end,
        )
        .order_by(CareRequestRow.received_at, CareRequestRow.id)
    ).all()
    demand = []
    allowed = {cid: allowed_cpts(session, cid) for cid in cpts_ids}
    ranks = {
        cid: cpts_settings(session.get_one(CptsRow, cid)).calendar.priorities.names
        for cid in cpts_ids
    }
    for row in rows:
        if row.priority not in ranks[row.cpts_id]:
            continue
        rank = ranks[row.cpts_id].index(row.priority)
        received = row.earliest or row.received_at
        request = solver_request(
            row, priority_rank=rank, allowed=allowed[row.cpts_id], now=received
        )
        demand.append(_Demand(request, row.insee_code or "?", row.received_at))
    return demand


def _model_demand(
    session: Session, cpts_ids: Sequence[int], days: list[date], directory: CommuneDirectory
) -> list[_Demand]:
    """Requests in proportion to population, spread over office hours (no history)."""
    demand: list[_Demand] = []
    next_id = 1
    shares = [(p.code, p.request_share) for p in PROFILES]
    for cid in cpts_ids:
        cpts = session.get_one(CptsRow, cid)
        settings = cpts_settings(cpts)
        tz = settings.calendar.tz
        rank = settings.calendar.priorities.names.index(MODEL_PRIORITY)
        communes = session.scalars(
            select(CptsCommuneRow.insee_code).where(CptsCommuneRow.cpts_id == cid)
        ).all()
        for day in days:
            if day.weekday() >= 5:
                continue
            for code in sorted(communes):
                commune = directory.get(code)
                if commune.lat is None or commune.lon is None:
                    continue
                expected = commune.population * REQUESTS_PER_1000_PER_DAY / 1000
                for profession, share in shares:
                    # Deterministic thinning: a commune gets its k-th request on the
                    # day its cumulative expectation crosses k.
                    before = math.floor(expected * share * day.toordinal())
                    count = math.floor(expected * share * (day.toordinal() + 1)) - before
                    for k in range(count):
                        received = local_to_utc(day, time(9 + (k * 3) % 9), tz)
                        deadline = settings.calendar.deadline(MODEL_PRIORITY, received)
                        demand.append(
                            _Demand(
                                Request(
                                    request_id=next_id,
                                    lat=commune.lat,
                                    lon=commune.lon,
                                    profession=profession,
                                    modalities=frozenset({SolverModality.IN_PERSON}),
                                    earliest=epoch(received),
                                    deadline=epoch(deadline),
                                    priority=rank,
                                    radius_km=float(
                                        directory.default_radii_km()[directory.index_of(code)]
                                    ),
                                    cpts=cid,
                                    allowed_cpts=frozenset({cid}),
                                ),
                                code,
                                received,
                            )
                        )
                        next_id += 1
    return demand


@dataclass
class _Supply:
    slot_id: list[int]
    professional: list[int]
    lat: list[float]
    lon: list[float]
    start: list[int]
    end: list[int]
    profession: list[int]
    modality: list[int]
    capacity: list[int]
    surnumeraire: list[int]
    sas_reserved: list[bool]
    cpts: list[int]
    day: list[int]
    week: list[int]

    def pool(self, capacity: np.ndarray, keep: np.ndarray) -> SlotPool:
        def ints(values: Sequence[int]) -> np.ndarray:
            out: np.ndarray = np.asarray(values, dtype=np.int64)[keep]
            return out

        return SlotPool(
            slot_id=ints(self.slot_id),
            professional=ints(self.professional),
            lat=np.asarray(self.lat, dtype=np.float64)[keep],
            lon=np.asarray(self.lon, dtype=np.float64)[keep],
            start=ints(self.start),
            end=ints(self.end),
            profession=ints(self.profession),
            modality=ints(self.modality),
            capacity=capacity[keep],
            surnumeraire=np.zeros(int(keep.sum()), dtype=np.int64),
            sas_reserved=np.asarray(self.sas_reserved, dtype=np.bool_)[keep],
            cpts=ints(self.cpts),
            day=ints(self.day),
            week=ints(self.week),
        )


def _published_supply(
    session: Session, cpts_ids: Sequence[int], start: datetime, end: datetime
) -> _Supply:
    zones = {cid: cpts_zone(session, cid) for cid in cpts_ids}
    rows = session.execute(
        select(SlotRow, SiteRow.lat, SiteRow.lon)
        .join(SiteRow, SlotRow.site_id == SiteRow.id)
        .where(
            SlotRow.cpts_id.in_(cpts_ids),
            SlotRow.cancelled.is_(False),
            SlotRow.start_at >= start,
            SlotRow.start_at < end,
        )
        .order_by(SlotRow.id)
    ).all()
    supply = _Supply([], [], [], [], [], [], [], [], [], [], [], [], [], [])
    for slot, lat, lon in rows:
        tz = zones[slot.cpts_id]
        _append(
            supply,
            slot.id,
            slot.professional_id,
            lat,
            lon,
            slot.start_at,
            slot.end_at,
            slot.profession,
            SOLVER_MODALITY[Modality(slot.modality)],
            slot.capacity,
            slot.sas_reserved,
            slot.cpts_id,
            local_day_number(slot.start_at, tz),
            local_iso_week(slot.start_at, tz),
        )
    return supply


def _append(
    supply: _Supply,
    slot_id: int,
    pro: int,
    lat: float,
    lon: float,
    start: datetime,
    end: datetime,
    profession: int,
    modality: int,
    capacity: int,
    sas: bool,
    cpts: int,
    day: int,
    week: int,
) -> None:
    supply.slot_id.append(slot_id)
    supply.professional.append(pro)
    supply.lat.append(lat)
    supply.lon.append(lon)
    supply.start.append(epoch(start))
    supply.end.append(epoch(end))
    supply.profession.append(profession)
    supply.modality.append(int(modality))
    supply.capacity.append(capacity)
    supply.surnumeraire.append(0)
    supply.sas_reserved.append(sas)
    supply.cpts.append(cpts)
    supply.day.append(day)
    supply.week.append(week)


# ----------------------------------------------------------------------------- replay


@dataclass(frozen=True, slots=True)
class _Outcome:
    demand: _Demand
    slot_start: int | None
    km: float | None
    reason: str | None


def _replay(demand: list[_Demand], supply: _Supply, tz_day: dict[int, int]) -> list[_Outcome]:
    """Day by day batch plans; a place given on one day is gone for the next."""
    capacity = np.asarray(supply.capacity, dtype=np.int64)
    starts = np.asarray(supply.start, dtype=np.int64)
    position = {sid: i for i, sid in enumerate(supply.slot_id)}
    by_day: dict[int, list[_Demand]] = defaultdict(list)
    for d in demand:
        by_day[tz_day[d.request.request_id]].append(d)
    daily: Counter[tuple[int, int]] = Counter()
    weekly: Counter[tuple[int, int]] = Counter()
    outcomes: list[_Outcome] = []
    for _, batch in sorted(by_day.items()):
        now = min(d.request.earliest for d in batch)
        horizon = max(d.request.deadline for d in batch)
        keep = (starts >= now) & (starts <= horizon) & (capacity > 0)
        pool = supply.pool(capacity, keep)
        result = plan(
            [d.request for d in batch],
            pool,
            now=now,
            load=Load(daily=dict(daily), weekly_sas=dict(weekly)),
        )
        for d in batch:
            decision = result.decisions[d.request.request_id]
            if decision.slot_id is None:
                outcomes.append(_Outcome(d, None, None, decision.reason_unserved or "unserved"))
                continue
            i = position[decision.slot_id]
            capacity[i] -= 1
            daily[(supply.professional[i], supply.day[i])] += 1
            km = _km(d.request, supply.lat[i], supply.lon[i], supply.modality[i])
            outcomes.append(_Outcome(d, supply.start[i], km, None))
    return outcomes


def _km(request: Request, lat: float, lon: float, modality: int) -> float | None:
    if modality == SolverModality.TELECONSULTATION:
        return None
    return round(float(haversine_km(request.lat, request.lon, lat, lon)), 2)


def _figures(outcomes: list[_Outcome]) -> ReplayFigures:
    served = [o for o in outcomes if o.slot_start is not None]
    kms = sorted(o.km for o in served if o.km is not None)
    return ReplayFigures(
        requests=len(outcomes),
        served=len(served),
        unserved=len(outcomes) - len(served),
        within_deadline_share=round(len(served) / len(outcomes), 4) if outcomes else None,
        median_km=round(statistics.median(kms), 2) if kms else None,
        p90_km=round(float(np.percentile(kms, 90)), 2) if kms else None,
    )


# ----------------------------------------------------------------------------- suggestions


def _half_day(instant: datetime, tz: ZoneInfo) -> str:
    local = instant.astimezone(tz)
    return f"{local.date().isoformat()} {'AM' if local.hour < 13 else 'PM'}"


def _suggest(
    unserved: list[_Outcome], directory: CommuneDirectory, minutes: dict[int, int], tz: ZoneInfo
) -> tuple[list[SuggestedPlage], _Supply]:
    """One plage per (commune, profession, modality, half-day) of unserved requests,
    at the commune's reference point, with one place per request placed as early
    as the requests allow (parallel tracks when deadlines are too close)."""
    groups: dict[tuple[str, int, int, str], list[_Outcome]] = defaultdict(list)
    for o in unserved:
        rq = o.demand.request
        modality = min(int(m) for m in rq.modalities)  # in person first, then home visit
        groups[
            (o.demand.commune, rq.profession, modality, _half_day(o.demand.received_at, tz))
        ].append(o)
    suggestions: list[SuggestedPlage] = []
    extra = _Supply([], [], [], [], [], [], [], [], [], [], [], [], [], [])
    next_pro = SYNTHETIC
    for (code, profession, modality, _), members in sorted(groups.items()):
        commune = directory.get(code) if code != "?" else None
        duration = minutes.get(profession, 20) * 60
        tracks: list[int] = []  # end of the last place of each parallel track
        first_start, last_end = None, None
        for o in sorted(members, key=lambda m: m.demand.request.deadline):
            rq = o.demand.request
            earliest = -(-rq.earliest // GRID) * GRID
            track = next(
                (t for t, end in enumerate(tracks) if max(end, earliest) <= rq.deadline), None
            )
            start = earliest if track is None else max(tracks[track], earliest)
            if start > rq.deadline:
                start = rq.earliest
            if track is None:
                tracks.append(start + duration)
                track = len(tracks) - 1
            else:
                tracks[track] = start + duration
            lat = commune.lat if commune and commune.lat is not None else rq.lat
            lon = commune.lon if commune and commune.lon is not None else rq.lon
            sid = SYNTHETIC + len(extra.slot_id)
            start_dt = datetime.fromtimestamp(start, UTC)
            _append(
                extra,
                sid,
                next_pro + track,
                lat,
                lon,
                start_dt,
                start_dt + timedelta(seconds=duration),
                profession,
                modality,
                1,
                False,
                rq.cpts,
                start // 86400,
                0,
            )
            first_start = start if first_start is None else min(first_start, start)
            last_end = start + duration if last_end is None else max(last_end, start + duration)
        next_pro += len(tracks)
        assert first_start is not None and last_end is not None
        suggestions.append(
            SuggestedPlage(
                commune=code,
                commune_name=commune.name if commune else code,
                profession=Profession(profession).label,
                modality=str(list(SOLVER_MODALITY)[modality]),
                starts_at=datetime.fromtimestamp(first_start, UTC),
                ends_at=datetime.fromtimestamp(last_end, UTC),
                places=len(members),
                hours=math.ceil(len(members) * duration / 1800) / 2,
            )
        )
    return suggestions, extra


def _merge(a: _Supply, b: _Supply) -> _Supply:
    return _Supply(*(getattr(a, f) + getattr(b, f) for f in a.__dataclass_fields__))


# ----------------------------------------------------------------------------- entry point


def diagnose(
    session: Session,
    cpts_ids: Sequence[int],
    date_from: date,
    date_to: date,
    *,
    directory: CommuneDirectory | None = None,
) -> Diagnosis:
    """Replay [from, to) (local dates) and say where plages are missing."""
    directory = directory or default_directory()
    tz = cpts_zone(session, cpts_ids[0])
    start, end = local_to_utc(date_from, time(0), tz), local_to_utc(date_to, time(0), tz)
    demand = _recorded_demand(session, cpts_ids, start, end)
    source = "recorded"
    if not demand:
        days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days)]
        demand = _model_demand(session, cpts_ids, days, directory)
        source = "population model"
    supply = _published_supply(session, cpts_ids, start, end + timedelta(days=3))
    tz_day = {d.request.request_id: local_day_number(d.received_at, tz) for d in demand}
    outcomes = _replay(demand, supply, tz_day)
    unserved = [o for o in outcomes if o.slot_start is None]
    minutes = _typical_minutes(supply)
    suggestions, extra = _suggest(unserved, directory, minutes, tz)
    after = _replay(demand, _merge(supply, extra), tz_day)

    gaps: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    per_commune: dict[str, list[_Outcome]] = defaultdict(list)
    for o in outcomes:
        key = (
            o.demand.commune,
            Profession(o.demand.request.profession).label,
            _half_day(o.demand.received_at, tz),
        )
        gaps[key][0] += 1
        gaps[key][1] += o.slot_start is None
        per_commune[o.demand.commune].append(o)
    hours: dict[str, float] = defaultdict(float)
    for s in suggestions:
        hours[s.profession] += s.hours
    codes = [session.get_one(CptsRow, cid).code for cid in cpts_ids]
    return Diagnosis(
        cpts_codes=codes,
        date_from=date_from,
        date_to=date_to,
        demand_source=source,
        before=_figures(outcomes),
        after=_figures(after),
        gaps=sorted(
            (
                GapRow(
                    commune=c,
                    commune_name=_name(directory, c),
                    profession=p,
                    half_day=h,
                    requests=n,
                    unserved=u,
                )
                for (c, p, h), (n, u) in gaps.items()
                if u
            ),
            key=lambda g: (-g.unserved, g.commune, g.half_day),
        ),
        communes=sorted(
            (_commune_row(directory, c, os) for c, os in per_commune.items()),
            key=lambda r: (-r.unserved, r.commune),
        ),
        suggestions=suggestions,
        suggested_hours_by_profession=dict(sorted(hours.items())),
        unserved_reasons=dict(Counter(o.reason or "" for o in unserved).most_common()),
    )


def _typical_minutes(supply: _Supply) -> dict[int, int]:
    lengths: dict[int, list[int]] = defaultdict(list)
    for p, s, e in zip(supply.profession, supply.start, supply.end, strict=True):
        lengths[p].append((e - s) // 60)
    return {p: int(statistics.median(v)) for p, v in lengths.items()}


def _name(directory: CommuneDirectory, code: str) -> str:
    try:
        return directory.get(code).name
    except (KeyError, ValueError):
        return code


def _commune_row(directory: CommuneDirectory, code: str, outcomes: list[_Outcome]) -> CommuneRow:
    kms = [o.km for o in outcomes if o.km is not None]
    return CommuneRow(
        commune=code,
        commune_name=_name(directory, code),
        requests=len(outcomes),
        unserved=sum(o.slot_start is None for o in outcomes),
        median_km=round(statistics.median(kms), 2) if kms else None,
        max_km=max(kms) if kms else None,
    )


def unmet_demand_map(diagnosis: Diagnosis, directory: CommuneDirectory | None = None) -> str:
    """SVG map: every commune of the territory as a dot, unmet demand as circles."""
    directory = directory or default_directory()
    points = []
    for row in diagnosis.communes:
        if row.unserved and row.commune != "?":
            commune = directory.get(row.commune)
            if commune.lat is not None and commune.lon is not None:
                points.append((row.commune_name, commune.lat, commune.lon, float(row.unserved)))
    background = [
        (c.lat, c.lon) for c in directory.communes if c.lat is not None and c.lon is not None
    ]
    title = f"Unmet SNP demand {diagnosis.date_from} – {diagnosis.date_to}"
    return commune_map(title, points, background, unit=" requests")
