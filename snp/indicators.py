"""Indicators of a CPTS's SNP mission, from the orientation records and the ledger.

The seed's three (ACI, mission 3): consultations registered in the SNP
organisation, doctors participating in the SAS, SAS requests that ended in an
appointment through the CPTS; and the operational ones a coordinator watches.
Definitions (our choices, stated so the figures can be checked):

- a request belongs to the period when it was *received* in [from, to) (local
  dates of the first CPTS's time zone); it belongs to its own CPTS;
- its *appointment* is its latest orientation that is booked or has an outcome
  (honoured, no-show, redirected) — held, expired and cancelled ones are not;
- *within deadline*: an appointment starting no later than the request's deadline,
  over all requests of the class (an unserved request counts as missed);
- *consultations registered*: honoured orientations;
- *doctors participating in the SAS*: doctors who got at least one SAS request
  or published a slot reserved for the SAS in the period;
- *load spread*: appointments per professional who published slots in the
  period (those who got none count as zero), as a Gini index and max/mean.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from snp.calendar import local_to_utc
from snp.compensation import cpts_zone
from snp.errors import NotFoundError
from snp.modalities import Origin
from snp.orientation import OrientationStatus
from snp.orm import (
    AgreementRow,
    CareRequestRow,
    CptsRow,
    LedgerEntryRow,
    OrientationRow,
    ProfessionalRow,
    SlotRow,
)
from snp.professions import Profession

APPOINTMENT = frozenset(
    {
        OrientationStatus.BOOKED,
        OrientationStatus.HONOURED,
        OrientationStatus.NO_SHOW,
        OrientationStatus.REDIRECTED_15,
        OrientationStatus.REDIRECTED_ED,
    }
)


class IndicatorRow(BaseModel):
    """The figures of one slice (everything, one commune, one profession)."""

    scope: str  # overall, commune, profession
    key: str
    requests: int
    appointments: int
    honoured: int
    no_shows: int
    within_deadline: int
    within_deadline_share: float | None
    median_wait_min: float | None
    p90_wait_min: float | None
    median_km: float | None
    unserved: int


class IndicatorReport(BaseModel):
    cpts_codes: list[str]
    date_from: date
    date_to: date  # exclusive
    consultations_registered: int
    sas_doctors: int
    sas_requests: int
    sas_requests_with_appointment: int
    overall: IndicatorRow
    within_deadline_by_priority: dict[str, float | None]
    unserved_by_cause: dict[str, int]
    load_gini: float | None
    load_max_over_mean: float | None
    expired_holds: int
    ledger_total_cents: int
    by_commune: list[IndicatorRow]
    by_profession: list[IndicatorRow]
    waits_min: list[float]  # for plots


@dataclass(frozen=True, slots=True)
class _Case:
    request_id: int
    origin: str
    priority: str
    profession: int
    commune: str
    received_at: datetime
    deadline: datetime
    unserved_reason: str | None
    status: str | None  # of the appointment
    start: datetime | None
    km: float | None


def resolve_cpts(
    session: Session, codes: Iterable[str], *, with_partners: bool = False
) -> list[int]:
    """CPTS ids from codes; with partners, the CPTS they share an agreement with too."""
    ids = []
    for code in codes:
        cid = session.scalar(select(CptsRow.id).where(CptsRow.code == code))
        if cid is None:
            raise NotFoundError("CPTS", code)
        ids.append(cid)
    if with_partners:
        partners = session.scalars(
            select(AgreementRow.partner_id).where(AgreementRow.cpts_id.in_(ids))
        )
        ids.extend(p for p in partners if p not in ids)
    return ids


def _cases(
    session: Session, cpts_ids: Sequence[int], start: datetime, end: datetime
) -> list[_Case]:
    requests = session.execute(
        select(CareRequestRow).where(
            CareRequestRow.cpts_id.in_(cpts_ids),
            CareRequestRow.received_at >= start,
            CareRequestRow.received_at < end,
        )
    ).scalars()
    by_id = {r.id: r for r in requests}
    appointment: dict[int, tuple[int, str, datetime, float | None]] = {}
    ids = sorted(by_id)
    for i in range(0, len(ids), 500):
        for oid, rid, status, slot_start, km in session.execute(
            select(
                OrientationRow.id,
                OrientationRow.request_id,
                OrientationRow.status,
                SlotRow.start_at,
                OrientationRow.distance_km,
            )
            .join(SlotRow, OrientationRow.slot_id == SlotRow.id)
            .where(
                OrientationRow.request_id.in_(ids[i : i + 500]),
                OrientationRow.status.in_([str(s) for s in APPOINTMENT]),
            )
        ):
            if rid not in appointment or appointment[rid][0] < oid:
                appointment[rid] = (oid, status, slot_start, km)
    cancelled: set[int] = set()
    for i in range(0, len(ids), 500):
        cancelled.update(
            session.scalars(
                select(OrientationRow.request_id).where(
                    OrientationRow.request_id.in_(ids[i : i + 500]),
                    OrientationRow.status == OrientationStatus.CANCELLED,
                )
            )
        )
    cases = []
    for rid, r in sorted(by_id.items()):
        found = appointment.get(rid)
        cases.append(
            _Case(
                request_id=rid,
                origin=r.origin,
                priority=r.priority,
                profession=r.profession,
                commune=r.insee_code or "?",
                received_at=r.received_at,
                deadline=r.deadline,
                unserved_reason=None
                if found is not None
                else "appointment cancelled"
                if rid in cancelled
                else r.unserved_reason or "pending: no appointment yet",
                status=found[1] if found else None,
                start=found[2] if found else None,
                km=found[3] if found else None,
            )
        )
    return cases


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _row(scope: str, key: str, cases: list[_Case]) -> IndicatorRow:
    booked = [c for c in cases if c.start is not None]
    waits = [(c.start - c.received_at).total_seconds() / 60 for c in booked if c.start]
    kms = [c.km for c in booked if c.km is not None]
    within = sum(1 for c in booked if c.start is not None and c.start <= c.deadline)
    return IndicatorRow(
        scope=scope,
        key=key,
        requests=len(cases),
        appointments=len(booked),
        honoured=sum(c.status == OrientationStatus.HONOURED for c in booked),
        no_shows=sum(c.status == OrientationStatus.NO_SHOW for c in booked),
        within_deadline=within,
        within_deadline_share=round(within / len(cases), 4) if cases else None,
        median_wait_min=_pct(waits, 50),
        p90_wait_min=_pct(waits, 90),
        median_km=_pct(kms, 50),
        unserved=len(cases) - len(booked),
    )


def gini(values: Sequence[int]) -> float | None:
    """0 when every professional got the same number, towards 1 when one got all."""
    if not values or sum(values) == 0:
        return None
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = len(ordered)
    cumulative = np.cumsum(ordered)
    return round(float((n + 1 - 2 * cumulative.sum() / cumulative[-1]) / n), 4)


def compute_indicators(
    session: Session, cpts_ids: Sequence[int], date_from: date, date_to: date
) -> IndicatorReport:
    """Indicators of these CPTS for requests received on local dates [from, to)."""
    if not cpts_ids:
        raise NotFoundError("CPTS", "none given")
    tz = cpts_zone(session, cpts_ids[0])
    start, end = local_to_utc(date_from, time(0), tz), local_to_utc(date_to, time(0), tz)
    cases = _cases(session, cpts_ids, start, end)
    overall = _row("overall", "all", cases)

    by_priority: dict[str, list[_Case]] = defaultdict(list)
    by_commune: dict[str, list[_Case]] = defaultdict(list)
    by_profession: dict[str, list[_Case]] = defaultdict(list)
    for c in cases:
        by_priority[c.priority].append(c)
        by_commune[c.commune].append(c)
        by_profession[Profession(c.profession).label].append(c)

    unserved: Counter[str] = Counter(
        c.unserved_reason or "pending: no appointment yet" for c in cases if c.start is None
    )
    sas = [c for c in cases if c.origin == Origin.SAS]

    # Load: appointments per professional over those who published slots.
    published = set(
        session.scalars(
            select(SlotRow.professional_id)
            .where(
                SlotRow.cpts_id.in_(cpts_ids),
                SlotRow.start_at >= start,
                SlotRow.start_at < end,
                SlotRow.cancelled.is_(False),
            )
            .distinct()
        )
    )
    load: Counter[int] = Counter({pid: 0 for pid in published})
    sas_doctors: set[int] = set()
    for pid, origin, profession in session.execute(
        select(
            SlotRow.professional_id,
            CareRequestRow.origin,
            ProfessionalRow.profession,
        )
        .join(OrientationRow, OrientationRow.slot_id == SlotRow.id)
        .join(CareRequestRow, OrientationRow.request_id == CareRequestRow.id)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(
            SlotRow.cpts_id.in_(cpts_ids),
            SlotRow.start_at >= start,
            SlotRow.start_at < end,
            OrientationRow.status.in_([str(s) for s in APPOINTMENT]),
        )
    ):
        load[pid] += 1
        if origin == Origin.SAS and profession == Profession.MEDECIN:
            sas_doctors.add(pid)
    sas_doctors |= set(
        session.scalars(
            select(SlotRow.professional_id)
            .where(
                SlotRow.cpts_id.in_(cpts_ids),
                SlotRow.start_at >= start,
                SlotRow.start_at < end,
                SlotRow.sas_reserved.is_(True),
                SlotRow.profession == Profession.MEDECIN,
            )
            .distinct()
        )
    )
    counts = list(load.values())
    mean = sum(counts) / len(counts) if counts else 0.0

    expired = session.scalar(
        select(func.count(OrientationRow.id)).where(
            OrientationRow.cpts_id.in_(cpts_ids),
            OrientationRow.status == OrientationStatus.EXPIRED,
            OrientationRow.created_at >= start,
            OrientationRow.created_at < end,
        )
    )
    periods = sorted({f"{d.year:04d}-{d.month:02d}" for d in _months(date_from, date_to)})
    ledger_total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntryRow.amount_cents), 0)).where(
            LedgerEntryRow.cpts_id.in_(cpts_ids),
            or_(*(LedgerEntryRow.period == p for p in periods)),
        )
    )
    codes = [session.get_one(CptsRow, cid).code for cid in cpts_ids]
    return IndicatorReport(
        cpts_codes=codes,
        date_from=date_from,
        date_to=date_to,
        consultations_registered=overall.honoured,
        sas_doctors=len(sas_doctors),
        sas_requests=len(sas),
        sas_requests_with_appointment=sum(1 for c in sas if c.start is not None),
        overall=overall,
        within_deadline_by_priority={
            p: _row("priority", p, cs).within_deadline_share
            for p, cs in sorted(by_priority.items())
        },
        unserved_by_cause=dict(unserved.most_common()),
        load_gini=gini(counts),
        load_max_over_mean=round(max(counts) / mean, 3) if counts and mean else None,
        expired_holds=int(expired or 0),
        ledger_total_cents=int(ledger_total or 0),
        by_commune=[_row("commune", k, v) for k, v in sorted(by_commune.items())],
        by_profession=[_row("profession", k, v) for k, v in sorted(by_profession.items())],
        waits_min=[
            round((c.start - c.received_at).total_seconds() / 60, 1) for c in cases if c.start
        ],
    )


def _months(date_from: date, date_to: date) -> list[date]:
    """First days of the months that [from, to) touches."""
    months = []
    year, month = date_from.year, date_from.month
    while date(year, month, 1) < date_to:
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def indicators_csv(report: IndicatorReport, *, french: bool = False) -> str:
    """Overall, per-commune and per-profession rows, then the headline figures."""
    buffer = io.StringIO()
    columns = list(IndicatorRow.model_fields)
    writer = csv.writer(buffer, delimiter=";" if french else ",", lineterminator="\n")
    writer.writerow(columns)

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return text.replace(".", ",") if french and isinstance(value, float) else text

    for row in [report.overall, *report.by_commune, *report.by_profession]:
        writer.writerow([cell(getattr(row, c)) for c in columns])
    headline = {
        "consultations_registered": report.consultations_registered,
        "sas_doctors": report.sas_doctors,
        "sas_requests": report.sas_requests,
        "sas_requests_with_appointment": report.sas_requests_with_appointment,
        "expired_holds": report.expired_holds,
        "load_gini": report.load_gini,
        "load_max_over_mean": report.load_max_over_mean,
        "ledger_total_cents": report.ledger_total_cents,
        **{f"within_deadline_{k}": v for k, v in report.within_deadline_by_priority.items()},
        **{f"unserved: {k}": v for k, v in report.unserved_by_cause.items()},
    }
    for name, value in headline.items():
        writer.writerow(["headline", name, cell(value)])
    return buffer.getvalue()
