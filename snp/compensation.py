"""Compensation of professionals: versioned rules per CPTS and an append-only ledger.

How posting works (and why it is idempotent). Every source of money — an
orientation, a professional's published hours on one local day, a duty shift,
and the monthly cap of a professional — has a *desired* state computed from the
records as they are now and from the rule version in force on the source's
local date. Posting compares it with the net of the entries already in the
ledger for the same (source, rule version, rule, kind) and appends only the
difference: a reversing entry for each live entry that no longer holds, then
one entry with the new amount. Replaying an event finds nothing to change, so it
posts nothing; a correction (cancellation after an honoured report, a no-show
reclassified, a rule corrected retroactively) shows as reversing entries.
Entries are never updated or deleted (the database refuses it too).

Caps. A ``monthly_cap`` bounds what one professional earns from one CPTS in one
month (local calendar month). The cap acts on the month's *net* total: after
each posting the cap reduction of the professional-month is recomputed as
``min(0, cap − gross)`` and posted the same way (a ``cap_reduction`` entry, and
its reversal when a later correction brings the gross under the cap again). So a
correction never leaves a professional paid more than the cap, nor less than
``min(gross, cap)``, whatever the order of events.

Money is integer cents everywhere. Hourly rates are prorated by the minute and
rounded down to the cent per source (one local day of one professional).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from snp.calendar import local_date, local_to_utc
from snp.errors import DomainError, NotFoundError
from snp.modalities import Origin
from snp.orientation import OrientationStatus
from snp.orm import (
    CareRequestRow,
    CompensationRuleVersionRow,
    CptsRow,
    DutyShiftRow,
    LedgerEntryRow,
    OrientationRow,
    ProfessionalRow,
    SlotRow,
)

# ----------------------------------------------------------------------------- rules


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    label: str = ""
    professions: tuple[int, ...] | None = None  # None: every profession

    def applies_to(self, profession: int) -> bool:
        return self.professions is None or profession in self.professions


class ConsultationRule(_Rule):
    """An amount per honoured SNP consultation. Several matching rules add up
    (a base amount plus an SAS bonus, say)."""

    kind: Literal["per_consultation"] = "per_consultation"
    amount_cents: int = Field(ge=0)
    origins: tuple[Origin, ...] | None = None  # None: CPTS line and SAS alike
    surnumeraire: bool | None = None  # True: only patients added beyond the agenda
    partner_requests: bool | None = None  # True: only requests of another (agreed) CPTS
    within_deadline_only: bool = True


class AvailabilityRule(_Rule):
    """An amount per hour of published SNP availability, used or not."""

    kind: Literal["per_available_hour"] = "per_available_hour"
    amount_cents_per_hour: int = Field(ge=0)


class ShiftRule(_Rule):
    """A flat amount per regulation or on-call shift."""

    kind: Literal["per_shift"] = "per_shift"
    amount_cents: int = Field(ge=0)
    shift_kinds: tuple[str, ...] | None = None  # None: every kind


class MonthlyCapRule(_Rule):
    """At most ``max_cents`` per professional per local month (the lowest cap wins)."""

    kind: Literal["monthly_cap"] = "monthly_cap"
    max_cents: int = Field(ge=0)


Rule = Annotated[
    ConsultationRule | AvailabilityRule | ShiftRule | MonthlyCapRule,
    Field(discriminator="kind"),
]
_RULES = TypeAdapter(list[Rule])


def parse_rules(raw: Iterable[object]) -> list[Rule]:
    """Validate rules given as dicts (from JSON, the API or a CSV importer)."""
    return _RULES.validate_python(list(raw))


@dataclass(frozen=True, slots=True)
class RuleVersion:
    id: int
    cpts_id: int
    valid_from: date
    rules: tuple[Rule, ...]
    replaces_id: int | None
    note: str


def _version(row: CompensationRuleVersionRow) -> RuleVersion:
    return RuleVersion(
        id=row.id,
        cpts_id=row.cpts_id,
        valid_from=row.valid_from,
        rules=tuple(parse_rules(row.rules.get("rules", []))),
        replaces_id=row.replaces_id,
        note=row.note,
    )


class Versions:
    """The versions in force for one CPTS: replaced ones are set aside."""

    def __init__(self, versions: Sequence[RuleVersion]) -> None:
        replaced = {v.replaces_id for v in versions if v.replaces_id is not None}
        self.live = sorted(
            (v for v in versions if v.id not in replaced), key=lambda v: (v.valid_from, v.id)
        )

    def at(self, day: date) -> RuleVersion | None:
        found = None
        for version in self.live:
            if version.valid_from <= day:
                found = version
        return found


def load_versions(session: Session, cpts_id: int) -> Versions:
    rows = session.scalars(
        select(CompensationRuleVersionRow).where(CompensationRuleVersionRow.cpts_id == cpts_id)
    ).all()
    return Versions([_version(r) for r in rows])


def _serialise(rules: Sequence[Rule]) -> dict[str, object]:
    return {"rules": [r.model_dump(mode="json") for r in _RULES.validate_python(list(rules))]}


def add_rule_version(
    session: Session,
    cpts_id: int,
    valid_from: date,
    rules: Sequence[Rule],
    *,
    at: datetime,
    note: str = "",
) -> int:
    """A new version applying from ``valid_from`` (a local date of the CPTS).

    Entries already posted keep the version that priced them, so a new version
    may not start on or before a day that already has entries: that would be
    a retroactive change, which :func:`correct_rule_version` makes explicit.
    """
    tz = cpts_zone(session, cpts_id)
    start = local_to_utc(valid_from, time(0), tz)
    priced_after = session.scalar(
        select(func.count(LedgerEntryRow.id)).where(
            LedgerEntryRow.cpts_id == cpts_id, LedgerEntryRow.occurred_at >= start
        )
    )
    if priced_after:
        raise DomainError(
            "valid_from",
            f"{priced_after} entries already priced events on or after {valid_from}",
            "Start the version later, or correct the version in force retroactively.",
        )
    row = CompensationRuleVersionRow(
        cpts_id=cpts_id, valid_from=valid_from, rules=_serialise(rules), note=note, created_at=at
    )
    session.add(row)
    session.flush()
    _recap_months_from(session, cpts_id, valid_from, at)
    return row.id


def _recap_months_from(session: Session, cpts_id: int, valid_from: date, at: datetime) -> None:
    """A month's cap is priced by the version in force on its last day, so a new
    version also caps the months already under way from ``valid_from`` on: the
    entries priced before it keep their version, but their month's cap may change."""
    touched = {
        (pro, period)
        for pro, period in session.execute(
            select(LedgerEntryRow.professional_id, LedgerEntryRow.period)
            .where(
                LedgerEntryRow.cpts_id == cpts_id,
                LedgerEntryRow.period >= valid_from.strftime("%Y-%m"),
            )
            .distinct()
        )
    }
    _apply_caps(session, _context(session, cpts_id), touched, at, "rule_version")


def correct_rule_version(
    session: Session, version_id: int, rules: Sequence[Rule], *, at: datetime, note: str = ""
) -> tuple[int, PostingResult]:
    """Replace a version retroactively: its entries are reversed and the events
    re-priced under the corrected rules (new entries, nothing edited)."""
    old = session.get(CompensationRuleVersionRow, version_id)
    if old is None:
        raise NotFoundError("compensation rule version", version_id)
    if session.scalar(
        select(CompensationRuleVersionRow.id).where(
            CompensationRuleVersionRow.replaces_id == version_id
        )
    ):
        raise DomainError(
            "version_id", f"version {version_id} was already corrected", "Correct the newest one."
        )
    row = CompensationRuleVersionRow(
        cpts_id=old.cpts_id,
        valid_from=old.valid_from,
        rules=_serialise(rules),
        replaces_id=old.id,
        note=note,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row.id, reprice(session, old.cpts_id, at, caused_by="rule_correction")


# ----------------------------------------------------------------------------- periods


def cpts_zone(session: Session, cpts_id: int) -> ZoneInfo:
    tz = session.scalar(select(CptsRow.timezone).where(CptsRow.id == cpts_id))
    if tz is None:
        raise NotFoundError("CPTS", cpts_id)
    return ZoneInfo(tz)


def period_of(instant: datetime, tz: ZoneInfo) -> str:
    """The local month ``YYYY-MM`` of an instant."""
    return local_date(instant, tz).strftime("%Y-%m")


def period_days(period: str) -> list[date]:
    first = parse_period(period)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [first + timedelta(days=i) for i in range((following - first).days)]


def parse_period(period: str) -> date:
    try:
        return datetime.strptime(period, "%Y-%m").date()
    except ValueError:
        raise DomainError("period", f"{period!r} is not a month", "Write it YYYY-MM.") from None


def period_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of the local month's start and of the next month's start."""
    days = period_days(period)
    return (
        local_to_utc(days[0], time(0), tz),
        local_to_utc(days[-1] + timedelta(days=1), time(0), tz),
    )


# ----------------------------------------------------------------------------- desired state


@dataclass(frozen=True, slots=True)
class Line:
    """One amount the records say is owed, before it is compared with the ledger."""

    cpts_id: int
    professional_id: int
    period: str
    kind: str  # consultation, availability, shift, cap_reduction
    amount_cents: int
    source_kind: str  # orientation, availability, shift, cap
    source_ref: str
    rule_version_id: int
    rule_index: int
    occurred_at: datetime
    note: str = ""

    @property
    def key(self) -> tuple[str, str, int, int, str]:
        return (self.source_kind, self.source_ref, self.rule_version_id, self.rule_index, self.kind)


@dataclass(frozen=True, slots=True)
class _Scope:
    everything: bool = False
    orientation_ids: frozenset[int] = frozenset()
    shift_ids: frozenset[int] = frozenset()
    availability: frozenset[tuple[int, str]] = frozenset()  # (professional, period)


@dataclass(frozen=True, slots=True)
class _Context:
    cpts_id: int
    tz: ZoneInfo
    versions: Versions
    profession: dict[int, int]  # professional id → profession code


def _context(session: Session, cpts_id: int) -> _Context:
    professions = {
        pid: code
        for pid, code in session.execute(
            select(ProfessionalRow.id, ProfessionalRow.profession).where(
                ProfessionalRow.cpts_id == cpts_id
            )
        )
    }
    return _Context(
        cpts_id, cpts_zone(session, cpts_id), load_versions(session, cpts_id), professions
    )


def _orientation_lines(
    session: Session, ctx: _Context, scope: _Scope
) -> tuple[list[Line], set[str]]:
    query = (
        select(
            OrientationRow.id,
            OrientationRow.status,
            OrientationRow.surnumeraire,
            SlotRow.start_at,
            SlotRow.professional_id,
            CareRequestRow.deadline,
            CareRequestRow.origin,
            CareRequestRow.cpts_id,
            ProfessionalRow.profession,
        )
        .join(SlotRow, OrientationRow.slot_id == SlotRow.id)
        .join(CareRequestRow, OrientationRow.request_id == CareRequestRow.id)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(SlotRow.cpts_id == ctx.cpts_id)
    )
    if not scope.everything:
        if not scope.orientation_ids:
            return [], set()
        query = query.where(OrientationRow.id.in_(sorted(scope.orientation_ids)))
    lines: list[Line] = []
    sources: set[str] = set()
    for (
        oid,
        status,
        surnumeraire,
        start,
        pro,
        deadline,
        origin,
        req_cpts,
        profession,
    ) in session.execute(query):
        sources.add(str(oid))
        if status != OrientationStatus.HONOURED:
            continue
        version = ctx.versions.at(local_date(start, ctx.tz))
        if version is None:
            continue
        for index, rule in enumerate(version.rules):
            if not isinstance(rule, ConsultationRule) or not rule.applies_to(profession):
                continue
            if rule.origins is not None and Origin(origin) not in rule.origins:
                continue
            if rule.surnumeraire is not None and rule.surnumeraire != surnumeraire:
                continue
            if rule.partner_requests is not None and rule.partner_requests != (
                req_cpts != ctx.cpts_id
            ):
                continue
            if rule.within_deadline_only and start > deadline:
                continue
            lines.append(
                Line(
                    ctx.cpts_id,
                    pro,
                    period_of(start, ctx.tz),
                    "consultation",
                    rule.amount_cents,
                    "orientation",
                    str(oid),
                    version.id,
                    index,
                    start,
                    rule.label,
                )
            )
    return lines, sources


def _merged_minutes(intervals: list[tuple[datetime, datetime]]) -> int:
    """Minutes covered by the union of intervals (parallel places count once)."""
    total = 0
    current_start: datetime | None = None
    current_end: datetime | None = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_start is not None and current_end is not None:
                total += int((current_end - current_start).total_seconds()) // 60
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_start is not None and current_end is not None:
        total += int((current_end - current_start).total_seconds()) // 60
    return total


def _availability_lines(
    session: Session, ctx: _Context, scope: _Scope
) -> tuple[list[Line], set[str]]:
    query = select(SlotRow.professional_id, SlotRow.start_at, SlotRow.end_at).where(
        SlotRow.cpts_id == ctx.cpts_id, SlotRow.cancelled.is_(False)
    )
    sources: set[str] = set()
    if not scope.everything:
        if not scope.availability:
            return [], set()
        clauses = []
        for pro, period in sorted(scope.availability):
            start, end = period_bounds(period, ctx.tz)
            clauses.append(
                and_(
                    SlotRow.professional_id == pro,
                    SlotRow.start_at >= start,
                    SlotRow.start_at < end,
                )
            )
            sources.update(f"{pro}:{day.isoformat()}" for day in period_days(period))
        query = query.where(or_(*clauses))
    by_day: dict[tuple[int, date], list[tuple[datetime, datetime]]] = defaultdict(list)
    for pro, start, end in session.execute(query):
        by_day[(pro, local_date(start, ctx.tz))].append((start, end))
    lines: list[Line] = []
    for (pro, day), intervals in sorted(by_day.items()):
        ref = f"{pro}:{day.isoformat()}"
        sources.add(ref)
        version = ctx.versions.at(day)
        profession = ctx.profession.get(pro)
        if version is None or profession is None:
            continue
        minutes = _merged_minutes(intervals)
        day_start = local_to_utc(day, time(0), ctx.tz)
        for index, rule in enumerate(version.rules):
            if isinstance(rule, AvailabilityRule) and rule.applies_to(profession):
                amount = rule.amount_cents_per_hour * minutes // 60
                if amount:
                    lines.append(
                        Line(
                            ctx.cpts_id,
                            pro,
                            day.strftime("%Y-%m"),
                            "availability",
                            amount,
                            "availability",
                            ref,
                            version.id,
                            index,
                            day_start,
                            f"{minutes} min published",
                        )
                    )
    return lines, sources


def _shift_lines(session: Session, ctx: _Context, scope: _Scope) -> tuple[list[Line], set[str]]:
    query = select(DutyShiftRow).where(DutyShiftRow.cpts_id == ctx.cpts_id)
    if not scope.everything:
        if not scope.shift_ids:
            return [], set()
        query = query.where(DutyShiftRow.id.in_(sorted(scope.shift_ids)))
    lines: list[Line] = []
    sources: set[str] = set()
    for shift in session.scalars(query):
        sources.add(str(shift.id))
        version = ctx.versions.at(local_date(shift.start_at, ctx.tz))
        profession = ctx.profession.get(shift.professional_id)
        if shift.cancelled or version is None or profession is None:
            continue
        for index, rule in enumerate(version.rules):
            if (
                isinstance(rule, ShiftRule)
                and rule.applies_to(profession)
                and (rule.shift_kinds is None or shift.kind in rule.shift_kinds)
            ):
                lines.append(
                    Line(
                        ctx.cpts_id,
                        shift.professional_id,
                        period_of(shift.start_at, ctx.tz),
                        "shift",
                        rule.amount_cents,
                        "shift",
                        str(shift.id),
                        version.id,
                        index,
                        shift.start_at,
                        f"{shift.kind} shift",
                    )
                )
    return lines, sources


def _cap_line(ctx: _Context, professional_id: int, period: str, gross: int) -> Line | None:
    """The cap reduction owed for a professional-month, priced by the version in
    force on the month's last day (the lowest applicable cap wins)."""
    days = period_days(period)
    version = ctx.versions.at(days[-1])
    profession = ctx.profession.get(professional_id)
    if version is None or profession is None:
        return None
    caps = [
        (rule.max_cents, index)
        for index, rule in enumerate(version.rules)
        if isinstance(rule, MonthlyCapRule) and rule.applies_to(profession)
    ]
    if not caps:
        return None
    cap, index = min(caps)
    if gross <= cap:
        return None
    return Line(
        ctx.cpts_id,
        professional_id,
        period,
        "cap_reduction",
        cap - gross,
        "cap",
        f"{professional_id}:{period}",
        version.id,
        index,
        local_to_utc(days[0], time(0), ctx.tz),
        f"monthly cap {cap} cents reached",
    )


def _desired(
    session: Session, ctx: _Context, scope: _Scope
) -> tuple[list[Line], set[tuple[str, str]]]:
    lines: list[Line] = []
    sources: set[tuple[str, str]] = set()
    for kind, compute in (
        ("orientation", _orientation_lines),
        ("availability", _availability_lines),
        ("shift", _shift_lines),
    ):
        found, refs = compute(session, ctx, scope)
        lines.extend(found)
        sources.update((kind, ref) for ref in refs)
    return lines, sources


# ----------------------------------------------------------------------------- posting


@dataclass
class PostingResult:
    """What one posting appended (empty when the event was already accounted for)."""

    entries: list[int] = field(default_factory=list)
    reversals: int = 0
    cap_adjustments: int = 0

    @property
    def posted(self) -> int:
        return len(self.entries)

    def merge(self, other: PostingResult) -> None:
        self.entries.extend(other.entries)
        self.reversals += other.reversals
        self.cap_adjustments += other.cap_adjustments


def _existing(
    session: Session, cpts_id: int, sources: Collection[tuple[str, str]] | None
) -> list[LedgerEntryRow]:
    query = select(LedgerEntryRow).where(LedgerEntryRow.cpts_id == cpts_id)
    if sources is None:
        return list(session.scalars(query.order_by(LedgerEntryRow.id)))
    found: list[LedgerEntryRow] = []
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, ref in sources:
        by_kind[kind].append(ref)
    for kind, refs in by_kind.items():
        refs.sort()
        for i in range(0, len(refs), 500):
            found.extend(
                session.scalars(
                    query.where(
                        LedgerEntryRow.source_kind == kind,
                        LedgerEntryRow.source_ref.in_(refs[i : i + 500]),
                    )
                )
            )
    found.sort(key=lambda e: e.id)
    return found


def _apply(
    session: Session,
    existing: list[LedgerEntryRow],
    wanted: list[Line],
    sources: set[tuple[str, str]],
    at: datetime,
    caused_by: str,
) -> PostingResult:
    """Append what turns the ledger's net per group into the wanted amounts."""
    groups: dict[tuple[str, str, int, int, str], list[LedgerEntryRow]] = defaultdict(list)
    for entry in existing:
        if (entry.source_kind, entry.source_ref) in sources:
            groups[
                (
                    entry.source_kind,
                    entry.source_ref,
                    entry.rule_version_id,
                    entry.rule_index,
                    entry.kind,
                )
            ].append(entry)
    targets = {line.key: line for line in wanted}
    if len(targets) != len(wanted):
        raise AssertionError("two desired lines share one ledger group")
    result = PostingResult()
    new_rows: list[LedgerEntryRow] = []
    for key in sorted(set(groups) | set(targets)):
        entries = groups.get(key, [])
        line = targets.get(key)
        want = line.amount_cents if line else 0
        if sum(e.amount_cents for e in entries) == want:
            continue
        reversed_ids = {e.reverses_id for e in entries if e.reverses_id is not None}
        live = [e for e in entries if e.reverses_id is None and e.id not in reversed_ids]
        sequence = len(entries)
        for entry in live:
            new_rows.append(
                LedgerEntryRow(
                    cpts_id=entry.cpts_id,
                    professional_id=entry.professional_id,
                    period=entry.period,
                    kind=entry.kind,
                    amount_cents=-entry.amount_cents,
                    source_kind=entry.source_kind,
                    source_ref=entry.source_ref,
                    rule_version_id=entry.rule_version_id,
                    rule_index=entry.rule_index,
                    event_key=_event_key(key, sequence),
                    reverses_id=entry.id,
                    caused_by=caused_by,
                    note=f"reverses entry {entry.id}",
                    occurred_at=entry.occurred_at,
                    posted_at=at,
                )
            )
            sequence += 1
            result.reversals += 1
        if line is not None and want:
            new_rows.append(
                LedgerEntryRow(
                    cpts_id=line.cpts_id,
                    professional_id=line.professional_id,
                    period=line.period,
                    kind=line.kind,
                    amount_cents=want,
                    source_kind=line.source_kind,
                    source_ref=line.source_ref,
                    rule_version_id=line.rule_version_id,
                    rule_index=line.rule_index,
                    event_key=_event_key(key, sequence),
                    reverses_id=None,
                    caused_by=caused_by,
                    note=line.note,
                    occurred_at=line.occurred_at,
                    posted_at=at,
                )
            )
        if key[0] == "cap":
            result.cap_adjustments += 1
    if new_rows:
        # The unique event_key turns a concurrent double posting into an error
        # (the loser retries and then finds nothing left to post).
        session.add_all(new_rows)
        session.flush()
        result.entries.extend(r.id for r in new_rows)
    return result


def _event_key(key: tuple[str, str, int, int, str], sequence: int) -> str:
    source_kind, ref, version, rule, kind = key
    return f"{source_kind}:{ref}:v{version}:r{rule}:{kind}:{sequence}"


def _post(
    session: Session, cpts_id: int, scope: _Scope, at: datetime, caused_by: str
) -> PostingResult:
    if at.tzinfo is None:
        raise DomainError("at", "naive datetime", "Give an aware (UTC) instant.")
    ctx = _context(session, cpts_id)
    wanted, sources = _desired(session, ctx, scope)
    existing = _existing(session, cpts_id, None if scope.everything else sources)
    sources |= {(e.source_kind, e.source_ref) for e in existing if scope.everything}
    touched = {(line.professional_id, line.period) for line in wanted}
    touched |= {
        (e.professional_id, e.period) for e in existing if (e.source_kind, e.source_ref) in sources
    }
    result = _apply(session, existing, wanted, {s for s in sources if s[0] != "cap"}, at, caused_by)
    result.merge(_apply_caps(session, ctx, touched, at, caused_by))
    return result


def _apply_caps(
    session: Session, ctx: _Context, touched: set[tuple[int, str]], at: datetime, caused_by: str
) -> PostingResult:
    if not touched:
        return PostingResult()
    gross: dict[tuple[int, str], int] = defaultdict(int)
    pros = sorted({pro for pro, _ in touched})
    periods = sorted({period for _, period in touched})
    for pro, period, amount in session.execute(
        select(
            LedgerEntryRow.professional_id,
            LedgerEntryRow.period,
            func.sum(LedgerEntryRow.amount_cents),
        )
        .where(
            LedgerEntryRow.cpts_id == ctx.cpts_id,
            LedgerEntryRow.source_kind != "cap",
            LedgerEntryRow.professional_id.in_(pros),
            LedgerEntryRow.period.in_(periods),
        )
        .group_by(LedgerEntryRow.professional_id, LedgerEntryRow.period)
    ):
        gross[(pro, period)] = int(amount or 0)
    sources = {("cap", f"{pro}:{period}") for pro, period in touched}
    wanted = [
        line
        for pro, period in sorted(touched)
        if (line := _cap_line(ctx, pro, period, gross[(pro, period)])) is not None
    ]
    existing = _existing(session, ctx.cpts_id, sources)
    return _apply(session, existing, wanted, sources, at, caused_by)


def post_orientation_event(
    session: Session, orientation_id: int, event_kind: str, at: datetime
) -> PostingResult:
    """Bring the ledger in line with one orientation after a status change.

    ``event_kind`` (``honoured``, ``no_show``, ``cancelled``, ``outcome_corrected``…)
    is recorded on the entries as their cause. Idempotent: calling it again, or
    for a change that moves no money, posts nothing.
    """
    cpts_id = session.scalar(
        select(SlotRow.cpts_id)
        .join(OrientationRow, OrientationRow.slot_id == SlotRow.id)
        .where(OrientationRow.id == orientation_id)
    )
    if cpts_id is None:
        raise NotFoundError("orientation", orientation_id)
    return _post(
        session, cpts_id, _Scope(orientation_ids=frozenset({orientation_id})), at, event_kind
    )


def post_orientation_events(
    session: Session, orientation_ids: Iterable[int], event_kind: str, at: datetime
) -> PostingResult:
    """:func:`post_orientation_event` for many orientations at once (a batch of
    outcomes reported at the end of a day), with one read of the ledger per CPTS."""
    ids = sorted(set(orientation_ids))
    by_cpts: dict[int, set[int]] = defaultdict(set)
    for i in range(0, len(ids), 500):
        for oid, cpts_id in session.execute(
            select(OrientationRow.id, SlotRow.cpts_id)
            .join(SlotRow, OrientationRow.slot_id == SlotRow.id)
            .where(OrientationRow.id.in_(ids[i : i + 500]))
        ):
            by_cpts[cpts_id].add(oid)
    result = PostingResult()
    for cpts_id, found in sorted(by_cpts.items()):
        scope = _Scope(orientation_ids=frozenset(found))
        result.merge(_post(session, cpts_id, scope, at, event_kind))
    return result


def post_availability(
    session: Session, professional_id: int, period: str, at: datetime
) -> PostingResult:
    """Price the hours the professional published in the local month ``period``
    (slots not cancelled, used or not); re-running after a slot was cancelled
    posts the reversal."""
    cpts_id = session.scalar(
        select(ProfessionalRow.cpts_id).where(ProfessionalRow.id == professional_id)
    )
    if cpts_id is None:
        raise NotFoundError("professional", professional_id)
    parse_period(period)
    scope = _Scope(availability=frozenset({(professional_id, period)}))
    return _post(session, cpts_id, scope, at, "availability")


def record_shift(
    session: Session,
    *,
    cpts_id: int,
    professional_id: int,
    kind: str,
    start: datetime,
    end: datetime,
    at: datetime,
) -> int:
    """Store a regulation/on-call shift and post it; returns the shift id."""
    row = DutyShiftRow(
        cpts_id=cpts_id,
        professional_id=professional_id,
        kind=kind,
        start_at=start,
        end_at=end,
        cancelled=False,
    )
    session.add(row)
    session.flush()
    post_shift(session, row.id, at)
    return row.id


def post_shift(
    session: Session, shift_id: int, at: datetime, event_kind: str = "shift"
) -> PostingResult:
    """Bring the ledger in line with one shift (done, or cancelled since)."""
    cpts_id = session.scalar(select(DutyShiftRow.cpts_id).where(DutyShiftRow.id == shift_id))
    if cpts_id is None:
        raise NotFoundError("duty shift", shift_id)
    return _post(session, cpts_id, _Scope(shift_ids=frozenset({shift_id})), at, event_kind)


def reprice(
    session: Session, cpts_id: int, at: datetime, caused_by: str = "reprice"
) -> PostingResult:
    """Reconcile every source of a CPTS with the ledger (after a retroactive rule
    correction, or as a nightly safety net). Posts nothing when all is in line."""
    return _post(session, cpts_id, _Scope(everything=True), at, caused_by)


# ----------------------------------------------------------------------------- balances


def ledger_balances(session: Session, cpts_id: int) -> dict[tuple[int, str], int]:
    """Net cents per (professional, period) as the ledger says."""
    return {
        (pro, period): int(total)
        for pro, period, total in session.execute(
            select(
                LedgerEntryRow.professional_id,
                LedgerEntryRow.period,
                func.sum(LedgerEntryRow.amount_cents),
            )
            .where(LedgerEntryRow.cpts_id == cpts_id)
            .group_by(LedgerEntryRow.professional_id, LedgerEntryRow.period)
        )
        if total
    }


def recompute_from_scratch(session: Session, cpts_id: int) -> dict[tuple[int, str], int]:
    """What every professional is owed per period, from the records and the rules
    alone (never reading the ledger): the reference the ledger must equal."""
    ctx = _context(session, cpts_id)
    lines, _ = _desired(session, ctx, _Scope(everything=True))
    gross: dict[tuple[int, str], int] = defaultdict(int)
    for line in lines:
        gross[(line.professional_id, line.period)] += line.amount_cents
    owed = {}
    for (pro, period), amount in gross.items():
        cap = _cap_line(ctx, pro, period, amount)
        total = amount + (cap.amount_cents if cap else 0)
        if total:
            owed[(pro, period)] = total
    return owed
