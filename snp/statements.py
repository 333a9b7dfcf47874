"""Statements of the compensation ledger, exports, and the national SAS list.

Every total here is a sum of ledger entries in integer cents, so a statement,
the CPTS totals and the accountant's export reconcile to the cent by
construction. Amounts become text only at the edge (``format_cents``).
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from snp.calendar import is_office_time, local_iso_week
from snp.compensation import cpts_zone, period_bounds
from snp.errors import NotFoundError
from snp.modalities import Origin
from snp.orientation import OrientationStatus
from snp.orm import (
    CareRequestRow,
    CptsRow,
    LedgerEntryRow,
    OrientationRow,
    ProfessionalRow,
    SlotRow,
)
from snp.professions import Profession

# National SAS majoration (NGAP art. 14.1.3; docs/…/SNP.md): paid by the Assurance
# Maladie, not the CPTS; snp only lists the consultations that qualify.
SAS_MAJORATION_CENTS = 1500
SAS_WEEKLY_LIMIT = 20
SAS_MAX_DELAY = timedelta(hours=48)
# Psychiatry specialties (ANS TRE_R38 codes SM42/SM43, to be checked against the
# nomenclature in force): excluded from the majoration.
PSYCHIATRY_SPECIALTIES = frozenset({"SM42", "SM43"})


def format_cents(cents: int, *, french: bool = False) -> str:
    """``123456`` → ``1234.56`` (or ``1 234,56`` in French format); exact, no float."""
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    if french:
        grouped = f"{units:,}".replace(",", "\u202f")
        return f"{sign}{grouped},{rest:02d}"
    return f"{sign}{units}.{rest:02d}"


class ProfessionalInfo(BaseModel):
    id: int
    rpps: str
    name: str
    profession: int


class EntryLine(BaseModel):
    entry_id: int
    occurred_at: datetime
    posted_at: datetime
    kind: str
    amount_cents: int
    source_kind: str
    source_ref: str
    rule_version_id: int
    rule_index: int
    reverses_id: int | None
    caused_by: str
    note: str


class Statement(BaseModel):
    """What a CPTS owes one professional for one local month."""

    cpts_id: int
    cpts_code: str
    period: str
    professional: ProfessionalInfo
    entries: list[EntryLine]
    by_kind_cents: dict[str, int]
    total_cents: int


class ProfessionalTotal(BaseModel):
    professional: ProfessionalInfo
    by_kind_cents: dict[str, int]
    total_cents: int
    entries: int


class CptsTotals(BaseModel):
    cpts_id: int
    cpts_code: str
    period: str
    professionals: list[ProfessionalTotal]
    by_kind_cents: dict[str, int]
    total_cents: int
    entries: int


def _info(row: ProfessionalRow) -> ProfessionalInfo:
    return ProfessionalInfo(
        id=row.id,
        rpps=row.rpps,
        name=f"{row.last_name} {row.first_name}",
        profession=row.profession,
    )


def _line(e: LedgerEntryRow) -> EntryLine:
    return EntryLine(
        entry_id=e.id,
        occurred_at=e.occurred_at,
        posted_at=e.posted_at,
        kind=e.kind,
        amount_cents=e.amount_cents,
        source_kind=e.source_kind,
        source_ref=e.source_ref,
        rule_version_id=e.rule_version_id,
        rule_index=e.rule_index,
        reverses_id=e.reverses_id,
        caused_by=e.caused_by,
        note=e.note,
    )


def _cpts(session: Session, cpts_id: int) -> CptsRow:
    row = session.get(CptsRow, cpts_id)
    if row is None:
        raise NotFoundError("CPTS", cpts_id)
    return row


def professional_statement(session: Session, professional_id: int, period: str) -> Statement:
    pro = session.get(ProfessionalRow, professional_id)
    if pro is None:
        raise NotFoundError("professional", professional_id)
    cpts = _cpts(session, pro.cpts_id)
    entries = session.scalars(
        select(LedgerEntryRow)
        .where(
            LedgerEntryRow.cpts_id == cpts.id,
            LedgerEntryRow.professional_id == professional_id,
            LedgerEntryRow.period == period,
        )
        .order_by(LedgerEntryRow.occurred_at, LedgerEntryRow.id)
    ).all()
    by_kind: Counter[str] = Counter()
    for e in entries:
        by_kind[e.kind] += e.amount_cents
    return Statement(
        cpts_id=cpts.id,
        cpts_code=cpts.code,
        period=period,
        professional=_info(pro),
        entries=[_line(e) for e in entries],
        by_kind_cents=dict(sorted(by_kind.items())),
        total_cents=sum(e.amount_cents for e in entries),
    )


def cpts_totals(session: Session, cpts_id: int, period: str) -> CptsTotals:
    cpts = _cpts(session, cpts_id)
    rows = session.execute(
        select(LedgerEntryRow, ProfessionalRow)
        .join(ProfessionalRow, LedgerEntryRow.professional_id == ProfessionalRow.id)
        .where(LedgerEntryRow.cpts_id == cpts_id, LedgerEntryRow.period == period)
    ).all()
    per_pro: dict[int, Counter[str]] = defaultdict(Counter)
    counts: Counter[int] = Counter()
    pros: dict[int, ProfessionalRow] = {}
    for entry, pro in rows:
        per_pro[pro.id][entry.kind] += entry.amount_cents
        counts[pro.id] += 1
        pros[pro.id] = pro
    totals = [
        ProfessionalTotal(
            professional=_info(pros[pid]),
            by_kind_cents=dict(sorted(kinds.items())),
            total_cents=sum(kinds.values()),
            entries=counts[pid],
        )
        for pid, kinds in sorted(per_pro.items(), key=lambda kv: (pros[kv[0]].last_name, kv[0]))
    ]
    by_kind: Counter[str] = Counter()
    for kinds in per_pro.values():
        by_kind.update(kinds)
    return CptsTotals(
        cpts_id=cpts_id,
        cpts_code=cpts.code,
        period=period,
        professionals=totals,
        by_kind_cents=dict(sorted(by_kind.items())),
        total_cents=sum(t.total_cents for t in totals),
        entries=sum(counts.values()),
    )


# ----------------------------------------------------------------------------- exports

ENTRY_COLUMNS = (
    "entry_id",
    "period",
    "rpps",
    "professional",
    "kind",
    "amount_eur",
    "occurred_at",
    "posted_at",
    "source",
    "rule_version",
    "reverses",
    "caused_by",
    "note",
)


def _writer(buffer: io.StringIO, french: bool) -> csv.DictWriter[str]:
    # A French spreadsheet opens ";"-separated files with decimal commas.
    return csv.DictWriter(
        buffer, ENTRY_COLUMNS, delimiter=";" if french else ",", lineterminator="\n"
    )


def _row(e: EntryLine, period: str, pro: ProfessionalInfo, french: bool) -> dict[str, object]:
    return {
        "entry_id": e.entry_id,
        "period": period,
        "rpps": pro.rpps,
        "professional": pro.name,
        "kind": e.kind,
        "amount_eur": format_cents(e.amount_cents, french=french),
        "occurred_at": e.occurred_at.isoformat(),
        "posted_at": e.posted_at.isoformat(),
        "source": f"{e.source_kind}:{e.source_ref}",
        "rule_version": e.rule_version_id,
        "reverses": e.reverses_id or "",
        "caused_by": e.caused_by,
        "note": e.note,
    }


def statement_csv(statement: Statement, *, french: bool = False) -> str:
    buffer = io.StringIO()
    writer = _writer(buffer, french)
    writer.writeheader()
    for e in statement.entries:
        writer.writerow(_row(e, statement.period, statement.professional, french))
    return buffer.getvalue()


def accountant_export(session: Session, cpts_id: int, period: str, *, french: bool = False) -> str:
    """One line per ledger entry of the CPTS for the month (reversals included)."""
    buffer = io.StringIO()
    writer = _writer(buffer, french)
    writer.writeheader()
    rows = session.execute(
        select(LedgerEntryRow, ProfessionalRow)
        .join(ProfessionalRow, LedgerEntryRow.professional_id == ProfessionalRow.id)
        .where(LedgerEntryRow.cpts_id == cpts_id, LedgerEntryRow.period == period)
        .order_by(LedgerEntryRow.id)
    ).all()
    for entry, pro in rows:
        writer.writerow(_row(_line(entry), period, _info(pro), french))
    return buffer.getvalue()


def statement_html(statement: Statement) -> str:
    """A self-contained printable page (no script, no external asset)."""
    esc = html.escape
    pro = statement.professional

    def eur(cents: int) -> str:
        return f"{format_cents(cents, french=True)}&nbsp;€"

    rows = "\n".join(
        f"<tr><td>{e.occurred_at:%d/%m/%Y %H:%M}</td><td>{esc(e.kind)}</td>"
        f"<td>{esc(e.source_kind)} {esc(e.source_ref)}</td><td>{esc(e.note)}</td>"
        f'<td class="n">{eur(e.amount_cents)}</td></tr>'
        for e in statement.entries
    )
    kinds = "\n".join(
        f'<tr><td colspan="4">{esc(kind)}</td><td class="n">{eur(c)}</td></tr>'
        for kind, c in statement.by_kind_cents.items()
    )
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>Relevé {esc(statement.period)} — {esc(pro.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ccc; padding: .3em .5em; text-align: left; }}
.n {{ text-align: right; white-space: nowrap; }} tfoot td {{ font-weight: bold; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>Relevé de compensation SNP — {esc(statement.period)}</h1>
<p>CPTS {esc(statement.cpts_code)} · {esc(pro.name)} · RPPS {esc(pro.rpps)}</p>
<table><thead><tr><th>Date</th><th>Nature</th><th>Origine</th><th>Note</th>
<th class="n">Montant</th></tr></thead>
<tbody>
{rows}
</tbody><tfoot>
{kinds}
<tr><td colspan="4">Total</td><td class="n">{eur(statement.total_cents)}</td></tr>
</tfoot></table></body></html>
"""


# ----------------------------------------------------------------------------- national SAS list


class SasConsultation(BaseModel):
    """An SAS-regulated consultation and whether it qualifies for the majoration."""

    orientation_id: int
    professional_id: int
    rpps: str
    seen_at: datetime
    requested_at: datetime
    iso_week: int
    eligible: bool
    reason: str  # why not, or "eligible"
    amount_cents: int  # paid by the Assurance Maladie when eligible


def sas_consultations(
    session: Session, cpts_id: int, period: str, professional_id: int | None = None
) -> list[SasConsultation]:
    """Honoured SAS consultations of the month, each flagged against the national
    rules: doctor, not psychiatry, not the patient's médecin traitant, within
    48 h of the request, outside PDSA hours, at most 20 per doctor per week."""
    cpts = _cpts(session, cpts_id)
    tz = cpts_zone(session, cpts_id)
    start, end = period_bounds(period, tz)
    query = (
        select(
            OrientationRow.id,
            SlotRow.start_at,
            CareRequestRow.received_at,
            CareRequestRow.medecin_traitant_id,
            ProfessionalRow,
        )
        .join(SlotRow, OrientationRow.slot_id == SlotRow.id)
        .join(CareRequestRow, OrientationRow.request_id == CareRequestRow.id)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(
            SlotRow.cpts_id == cpts_id,
            SlotRow.start_at >= start,
            SlotRow.start_at < end,
            OrientationRow.status == OrientationStatus.HONOURED,
            CareRequestRow.origin == Origin.SAS,
        )
        .order_by(SlotRow.start_at, OrientationRow.id)
    )
    if professional_id is not None:
        query = query.where(SlotRow.professional_id == professional_id)
    weekly: Counter[tuple[int, int]] = Counter()
    result = []
    for oid, seen, requested, mt, pro in session.execute(query):
        week = local_iso_week(seen, tz)
        reason = "eligible"
        if pro.profession != Profession.MEDECIN:
            reason = "not a doctor"
        elif pro.specialty in PSYCHIATRY_SPECIALTIES:
            reason = "psychiatry is excluded"
        elif mt == pro.id:
            reason = "the patient's médecin traitant"
        elif seen - requested > SAS_MAX_DELAY:
            reason = "seen more than 48 h after the request"
        elif not is_office_time(seen, tz, holidays_of=cpts.departement_code):
            reason = "during PDSA hours"
        elif weekly[(pro.id, week)] >= SAS_WEEKLY_LIMIT:
            reason = f"beyond {SAS_WEEKLY_LIMIT} this week"
        eligible = reason == "eligible"
        if eligible:
            weekly[(pro.id, week)] += 1
        result.append(
            SasConsultation(
                orientation_id=oid,
                professional_id=pro.id,
                rpps=pro.rpps,
                seen_at=seen,
                requested_at=requested,
                iso_week=week,
                eligible=eligible,
                reason=reason,
                amount_cents=SAS_MAJORATION_CENTS if eligible else 0,
            )
        )
    return result
