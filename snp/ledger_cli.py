"""Command line of the ledger, the indicators and the territorial diagnosis, and
the generator of a month of demo activity they are shown on.

``ledger_app`` is a typer sub-app (``snp ledger …``); ``indicators_command`` and
``diagnose_command`` are meant to be registered as ``snp indicators`` and
``snp diagnose``.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from snp import booking
from snp.calendar import is_public_holiday, local_to_utc
from snp.compensation import (
    AvailabilityRule,
    ConsultationRule,
    MonthlyCapRule,
    Rule,
    ShiftRule,
    add_rule_version,
    load_versions,
    parse_period,
    period_days,
    post_orientation_event,
    post_orientation_events,
    record_shift,
    reprice,
)
from snp.db import make_engine, make_session_factory, transaction
from snp.demo import DemoSummary, _LivePool, _orient_one, _publish_slots, _set_up_cpts
from snp.demo import _set_up_professionals as _set_up_pros
from snp.migrate import upgrade
from snp.modalities import Origin
from snp.orientation import OrientationStatus
from snp.orm import CareRequestRow, CptsRow, OrientationRow, ProfessionalRow, SlotRow
from snp.pool import load_snapshot
from snp.scenario import PARIS, Requests, Scenario, Slots, generate
from snp.settings import get_settings

console = Console()

# ----------------------------------------------------------------------------- demo month

# Demo compensation rules (our choice, not a national figure): 25 € per honoured
# consultation, +10 € for SAS requests, +5 € for a surnuméraire patient, 3 € per
# published hour, 360 € per 4-hour regulation shift (90 €/h), at most 1,500 € a
# month per professional.
DEMO_RULES: tuple[Rule, ...] = (
    ConsultationRule(amount_cents=2500, label="consultation SNP"),
    ConsultationRule(amount_cents=1000, origins=(Origin.SAS,), label="bonus SAS"),
    ConsultationRule(amount_cents=500, surnumeraire=True, label="bonus surnuméraire"),
    AvailabilityRule(amount_cents_per_hour=300, label="disponibilité publiée"),
    ShiftRule(amount_cents=36000, shift_kinds=("regulation",), label="régulation"),
    MonthlyCapRule(max_cents=150000, label="plafond mensuel"),
)
OUTCOME_MIX = (
    (OrientationStatus.HONOURED, 0.86),
    (OrientationStatus.NO_SHOW, 0.07),
    (OrientationStatus.CANCELLED, 0.05),
    (OrientationStatus.REDIRECTED_ED, 0.02),
)
REQUEST_SHARE = 0.35  # of the scenario's 48-h stream, each day: keeps a month fast
HOLD_LAPSE_SHARE = 0.02  # requests whose operator also held a second slot, then let it lapse
NO_SHOW_RECLASSIFIED = 0.25  # no-shows found honoured at month end (a correction)


@dataclass
class DemoMonth:
    period: str
    cpts: dict[str, int] = field(default_factory=dict)  # code → id
    days: int = 0
    requests: int = 0
    oriented: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    corrections: int = 0
    expired_holds: int = 0
    shifts: int = 0
    entries: int = 0


def _subsample(scenario: Scenario, rng: np.random.Generator, day: date) -> Scenario:
    req = scenario.requests
    local_day = np.array(
        [datetime.fromtimestamp(int(t), PARIS).date() == day for t in req.earliest.tolist()]
    )
    keep = local_day & (rng.random(len(req)) < REQUEST_SHARE)
    fields = {f.name: getattr(req, f.name)[keep] for f in dataclasses.fields(Requests)}
    return dataclasses.replace(scenario, requests=Requests(**fields))


def run_demo_month(url: str, period: str = "2026-03", *, seed: int = 0) -> DemoMonth:
    """A month of SNP activity on the Yvelines S territory: each working day the
    day's slots are published, a request stream is oriented (intake, online
    ranking, hold, booking), outcomes are reported and posted to the ledger,
    regulation shifts are recorded; at month end some no-shows are corrected
    and the published hours are posted. Deterministic for a seed."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    rng = np.random.default_rng(seed)
    chooser = random.Random(seed)
    month = DemoMonth(period)
    first = parse_period(period)
    base = generate("S", seed, now=local_to_utc(first, time(8), PARIS))
    with transaction(factory) as s:
        cpts_ids = _set_up_cpts(s, base)
        pro_ids = _set_up_pros(s, base, cpts_ids)
        for cid in cpts_ids.values():
            if not load_versions(s, cid).live:
                add_rule_version(s, cid, first, DEMO_RULES, at=local_to_utc(first, time(0), PARIS))
        month.cpts = {row.code: row.id for row in s.scalars(select(CptsRow))}
    for day in period_days(period):
        if day.weekday() == 6 or is_public_holiday(day, "78"):
            continue  # Sundays and holidays are PDSA
        month.days += 1
        _one_day(factory, base, day, cpts_ids, pro_ids, rng, chooser, month)
    end = local_to_utc(period_days(period)[-1], time(23), PARIS)
    with transaction(factory) as s:
        no_shows = list(
            s.scalars(
                select(OrientationRow.id)
                .where(OrientationRow.status == OrientationStatus.NO_SHOW)
                .order_by(OrientationRow.id)
            )
        )
        for oid in no_shows:
            if chooser.random() < NO_SHOW_RECLASSIFIED:
                booking.change_status(s, oid, OrientationStatus.HONOURED, end)
                post_orientation_event(s, oid, "outcome_corrected", end)
                month.corrections += 1
        # Month end: the published hours (and anything not yet posted) are priced.
        for cid in cpts_ids.values():
            month.entries += reprice(s, cid, end, caused_by="month_end").posted
    engine.dispose()
    return month


def _one_day(
    factory: sessionmaker[Session],
    base: Scenario,
    day: date,
    cpts_ids: dict[int, int],
    pro_ids: dict[int, int],
    rng: np.random.Generator,
    chooser: random.Random,
    month: DemoMonth,
) -> None:
    now = local_to_utc(day, time(8), PARIS)
    scenario = generate("S", base.seed, now=now)
    day_end = local_to_utc(day + timedelta(days=1), time(0), PARIS)
    today = dataclasses.replace(scenario, slots=_slots_between(scenario, now, day_end))
    with transaction(factory) as s:
        _publish_slots(s, today, cpts_ids, pro_ids)
        snapshot = load_snapshot(s, cpts_ids.values(), now, now + timedelta(hours=48))
    live = _LivePool(snapshot)
    stream = _subsample(scenario, rng, day)
    req = stream.requests
    summary = DemoSummary()
    for i in sorted(range(len(req)), key=lambda k: (int(req.earliest[k]), int(req.request_id[k]))):
        _orient_one(factory, stream, i, cpts_ids, pro_ids, live, summary)
    month.requests += summary.requests
    month.oriented += sum(summary.oriented.values())
    evening = local_to_utc(day, time(21), PARIS)
    with transaction(factory) as s:
        booked = list(
            s.execute(
                select(OrientationRow.id, OrientationRow.request_id, SlotRow.start_at)
                .join(SlotRow, OrientationRow.slot_id == SlotRow.id)
                .where(
                    OrientationRow.status == OrientationStatus.BOOKED,
                    SlotRow.start_at < day_end,
                )
                .order_by(OrientationRow.id)
            )
        )
        statuses = [s_ for s_, _ in OUTCOME_MIX]
        weights = [w for _, w in OUTCOME_MIX]
        reported: dict[OrientationStatus, list[int]] = {status: [] for status in statuses}
        for oid, _request_id, _start in booked:
            outcome = chooser.choices(statuses, weights)[0]
            booking.change_status(s, oid, outcome, evening)
            reported[outcome].append(oid)
        for outcome, ids in reported.items():
            post_orientation_events(s, ids, str(outcome), evening)
            month.outcomes[str(outcome)] = month.outcomes.get(str(outcome), 0) + len(ids)
        _lapsed_holds(s, booked, chooser, evening, month)
        _regulation_shift(s, day, cpts_ids, chooser, month)


def _slots_between(scenario: Scenario, start: datetime, end: datetime) -> Slots:
    sl = scenario.slots
    keep = (sl.start >= int(start.timestamp())) & (sl.start < int(end.timestamp()))
    return dataclasses.replace(
        sl, **{f.name: getattr(sl, f.name)[keep] for f in dataclasses.fields(sl)}
    )


def _lapsed_holds(
    s: Session,
    booked: Sequence[tuple[int, int, datetime]],
    chooser: random.Random,
    evening: datetime,
    month: DemoMonth,
) -> None:
    """Some operators held a second slot for a patient and let the hold lapse."""
    for _oid, request_id, start in booked:
        if chooser.random() >= HOLD_LAPSE_SHARE:
            continue
        free = s.scalar(
            select(SlotRow.id)
            .where(
                SlotRow.start_at > start,
                SlotRow.taken < SlotRow.capacity,
                SlotRow.cancelled.is_(False),
            )
            .order_by(SlotRow.start_at)
            .limit(1)
        )
        if free is None:
            continue
        request = s.get_one(CareRequestRow, request_id)
        booking.hold(
            s,
            cpts_id=request.cpts_id,
            request_id=request_id,
            slot_id=free,
            now=evening - timedelta(minutes=30),
            hold_for=timedelta(minutes=5),
            cost=0,
            distance_km=None,
        )
    month.expired_holds += len(booking.release_expired_holds(s, evening))


def _regulation_shift(
    s: Session, day: date, cpts_ids: dict[int, int], chooser: random.Random, month: DemoMonth
) -> None:
    """One 4-hour regulation shift a weekday per CPTS, by one of its doctors."""
    if day.weekday() >= 5:
        return
    for cid in cpts_ids.values():
        doctors = list(
            s.scalars(
                select(ProfessionalRow.id)
                .where(ProfessionalRow.cpts_id == cid, ProfessionalRow.profession == 10)
                .order_by(ProfessionalRow.id)
            )
        )
        if not doctors:
            continue
        record_shift(
            s,
            cpts_id=cid,
            professional_id=chooser.choice(doctors),
            kind="regulation",
            start=local_to_utc(day, time(14), PARIS),
            end=local_to_utc(day, time(18), PARIS),
            at=local_to_utc(day, time(19), PARIS),
        )
        month.shifts += 1


# ----------------------------------------------------------------------------- commands

ledger_app = typer.Typer(help="Compensation ledger: statements, exports, demo month.")
DatabaseOption = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL; default $SNP_DATABASE_URL or var/snp.db")
]


def _url(database: str | None) -> str:
    return database or get_settings().database_url


@ledger_app.command("demo-month")
def demo_month_command(
    period: Annotated[str, typer.Option(help="Month YYYY-MM")] = "2026-03",
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    database: DatabaseOption = None,
) -> None:
    """Generate a month of demo SNP activity and post it to the ledger."""
    with console.status(f"simulating {period}"):
        month = run_demo_month(_url(database), period, seed=seed)
    table = Table(title=f"demo month {period}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in dataclasses.asdict(month).items():
        table.add_row(name, str(value))
    console.print(table)
