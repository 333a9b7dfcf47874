"""Command line of the ledger, the indicators and the territorial diagnosis, and
the generator of a month of demo activity they are shown on.

``ledger_app`` is a typer sub-app (``snp ledger …``); ``indicators_command`` and
``diagnose_command`` are meant to be registered as ``snp indicators`` and
``snp diagnose``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console, Group
from rich.markup import escape
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
from snp.diagnosis import Diagnosis, diagnose, unmet_demand_map
from snp.indicators import IndicatorReport, compute_indicators, indicators_csv, resolve_cpts
from snp.migrate import upgrade
from snp.modalities import Origin
from snp.orientation import OrientationStatus
from snp.orm import CareRequestRow, CptsRow, OrientationRow, ProfessionalRow, SlotRow
from snp.pool import load_snapshot
from snp.scenario import PARIS, Requests, Scenario, Slots, generate
from snp.settings import get_settings
from snp.statements import (
    SAS_MAJORATION_CENTS,
    accountant_export,
    cpts_totals,
    format_cents,
    professional_statement,
    sas_consultations,
    statement_csv,
    statement_html,
)
from snp.svg import bar_chart, histogram

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
HONOURED_RECLASSIFIED = 0.02  # honoured reports found wrong (the patient never came)


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
        honoured = list(
            s.scalars(
                select(OrientationRow.id)
                .where(OrientationRow.status == OrientationStatus.HONOURED)
                .order_by(OrientationRow.id)
            )
        )
        corrections = [(oid, OrientationStatus.HONOURED, NO_SHOW_RECLASSIFIED) for oid in no_shows]
        corrections += [(oid, OrientationStatus.NO_SHOW, HONOURED_RECLASSIFIED) for oid in honoured]
        for oid, target, share in corrections:
            if chooser.random() < share:
                booking.change_status(s, oid, target, end)
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


def _session(database: str | None) -> Session:
    engine = make_engine(_url(database))
    upgrade(engine)
    return Session(engine)


CptsOption = Annotated[list[str], typer.Option("--cpts", help="CPTS code (repeat for several)")]


@ledger_app.command("statements")
def statements_command(
    cpts: Annotated[str, typer.Option(help="CPTS code")],
    period: Annotated[str, typer.Option(help="Month YYYY-MM")],
    rpps: Annotated[str | None, typer.Option(help="One professional's statement")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or html")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
    database: DatabaseOption = None,
) -> None:
    """Per-CPTS totals, or one professional's statement, for a month."""
    with _session(database) as s:
        (cpts_id,) = resolve_cpts(s, [cpts])
        if rpps is None:
            totals = cpts_totals(s, cpts_id, period)
            if fmt == "json":
                _emit(totals.model_dump_json(indent=2), out)
                return
            table = Table(title=f"{cpts} — {period}: {format_cents(totals.total_cents)} €")
            for column in ("RPPS", "professional", "entries", "total €"):
                table.add_column(column, justify="right" if column != "professional" else "left")
            for p in totals.professionals:
                table.add_row(
                    p.professional.rpps,
                    p.professional.name,
                    str(p.entries),
                    format_cents(p.total_cents),
                )
            console.print(table)
            return
        pro_id = s.scalar(select(ProfessionalRow.id).where(ProfessionalRow.rpps == rpps))
        if pro_id is None:
            raise typer.BadParameter(f"no professional with RPPS {rpps}")
        statement = professional_statement(s, pro_id, period)
        if fmt == "json":
            _emit(statement.model_dump_json(indent=2), out)
        elif fmt == "csv":
            _emit(statement_csv(statement), out)
        elif fmt == "html":
            _emit(statement_html(statement), out)
        else:
            table = Table(title=f"{statement.professional.name} — {period}")
            for column in ("date", "kind", "source", "note", "€"):
                table.add_column(column)
            for e in statement.entries:
                table.add_row(
                    f"{e.occurred_at:%Y-%m-%d %H:%M}",
                    e.kind,
                    f"{e.source_kind}:{e.source_ref}",
                    e.note,
                    format_cents(e.amount_cents),
                )
            table.add_row("", "", "", "total", format_cents(statement.total_cents))
            console.print(table)


@ledger_app.command("export")
def export_command(
    cpts: Annotated[str, typer.Option(help="CPTS code")],
    period: Annotated[str, typer.Option(help="Month YYYY-MM")],
    french: Annotated[bool, typer.Option(help="';' separator and decimal commas")] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
    database: DatabaseOption = None,
) -> None:
    """The accountant's CSV: one line per ledger entry of the month."""
    with _session(database) as s:
        (cpts_id,) = resolve_cpts(s, [cpts])
        _emit(accountant_export(s, cpts_id, period, french=french), out)


@ledger_app.command("sas")
def sas_command(
    cpts: Annotated[str, typer.Option(help="CPTS code")],
    period: Annotated[str, typer.Option(help="Month YYYY-MM")],
    database: DatabaseOption = None,
) -> None:
    """Consultations qualifying for the national SAS majoration, per doctor."""
    with _session(database) as s:
        (cpts_id,) = resolve_cpts(s, [cpts])
        listed = sas_consultations(s, cpts_id, period)
    per_doctor: dict[str, list[int]] = {}
    for c in listed:
        counts = per_doctor.setdefault(c.rpps, [0, 0])
        counts[0 if c.eligible else 1] += 1
    table = Table(title=f"SAS majoration — {cpts} {period}")
    for column in ("RPPS", "eligible", "not eligible", "amount €"):
        table.add_column(column, justify="right")
    for rpps, (yes, no) in sorted(per_doctor.items()):
        table.add_row(rpps, str(yes), str(no), format_cents(yes * SAS_MAJORATION_CENTS))
    console.print(table)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


def indicators_command(
    cpts: CptsOption,
    date_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"])],
    date_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="exclusive")],
    with_partners: Annotated[bool, typer.Option(help="Include agreed CPTS")] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the CSV here")] = None,
    svg_dir: Annotated[Path | None, typer.Option("--svg", help="Write SVG plots here")] = None,
    french: Annotated[bool, typer.Option(help="French CSV format")] = False,
    database: DatabaseOption = None,
) -> None:
    """SNP indicators of one or more CPTS over [from, to)."""
    with _session(database) as s:
        ids = resolve_cpts(s, cpts, with_partners=with_partners)
        report = compute_indicators(s, ids, date_from.date(), date_to.date())
    console.print(indicators_table(report))
    if csv_out:
        csv_out.write_text(indicators_csv(report, french=french), encoding="utf-8")
        console.print(f"wrote {csv_out}")
    if svg_dir:
        for path in write_indicator_plots(report, svg_dir):
            console.print(f"wrote {path}")


def indicators_table(report: IndicatorReport) -> Table:
    o = report.overall
    table = Table(
        title=f"SNP indicators {', '.join(report.cpts_codes)} {report.date_from} – {report.date_to}"
    )
    table.add_column("indicator")
    table.add_column("value", justify="right")

    def share(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f} %"

    rows = [
        ("consultations registered in the SNP organisation", str(report.consultations_registered)),
        ("doctors participating in the SAS", str(report.sas_doctors)),
        (
            "SAS requests ending in an appointment",
            f"{report.sas_requests_with_appointment} / {report.sas_requests}",
        ),
        ("requests", str(o.requests)),
        ("oriented within deadline", f"{o.within_deadline} ({share(o.within_deadline_share)})"),
        *((f"  {k}", share(v)) for k, v in report.within_deadline_by_priority.items()),
        ("time to appointment, median / p90", f"{o.median_wait_min} / {o.p90_wait_min} min"),
        ("travel distance, median", f"{o.median_km} km"),
        ("no-shows", str(o.no_shows)),
        ("holds expired", str(report.expired_holds)),
        ("load spread: Gini / max÷mean", f"{report.load_gini} / {report.load_max_over_mean}"),
        ("compensation posted", f"{format_cents(report.ledger_total_cents)} €"),
        ("unserved", str(o.unserved)),
        *((f"  {k}", str(v)) for k, v in report.unserved_by_cause.items()),
    ]
    for name, value in rows:
        table.add_row(escape(name), value)
    return table


def write_indicator_plots(report: IndicatorReport, folder: Path) -> list[Path]:
    """SVG plots for the web console (waits, deadline shares, unserved causes)."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = {
        "waits.svg": histogram("Time from request to appointment", report.waits_min, unit=" min"),
        "within_deadline.svg": bar_chart(
            "Share oriented within deadline, by priority",
            list(report.within_deadline_by_priority),
            [round(100 * (v or 0), 1) for v in report.within_deadline_by_priority.values()],
            unit=" %",
        ),
        "unserved.svg": bar_chart(
            "Unserved requests by cause",
            list(report.unserved_by_cause),
            [float(v) for v in report.unserved_by_cause.values()],
        ),
    }
    paths = []
    for name, svg in plots.items():
        path = folder / name
        path.write_text(svg, encoding="utf-8")
        paths.append(path)
    return paths


def diagnose_command(
    cpts: CptsOption,
    weeks: Annotated[int, typer.Option(min=1, max=26, help="Weeks replayed")] = 4,
    to: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="End (exclusive); default today")
    ] = None,
    with_partners: Annotated[bool, typer.Option(help="Include agreed CPTS")] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the gaps CSV here")] = None,
    svg_out: Annotated[Path | None, typer.Option("--svg", help="Write the SVG map here")] = None,
    database: DatabaseOption = None,
) -> None:
    """Replay the demand against the published plages; name the gaps and a what-if."""
    end = to.date() if to else date.today()
    start = end - timedelta(weeks=weeks)
    with _session(database) as s, console.status("replaying the demand with the batch solver"):
        ids = resolve_cpts(s, cpts, with_partners=with_partners)
        result = diagnose(s, ids, start, end)
    console.print(diagnosis_tables(result))
    if csv_out:
        csv_out.write_text(diagnosis_csv(result), encoding="utf-8")
        console.print(f"wrote {csv_out}")
    if svg_out:
        svg_out.write_text(unmet_demand_map(result), encoding="utf-8")
        console.print(f"wrote {svg_out}")


def diagnosis_tables(result: Diagnosis) -> Group:
    figures = Table(title=f"Replay {result.date_from} – {result.date_to} ({result.demand_source})")
    for column in ("", "requests", "served", "unserved", "within deadline", "median km", "p90 km"):
        figures.add_column(column, justify="right")
    for label, f in (("published plages", result.before), ("with suggestions", result.after)):
        figures.add_row(
            label,
            str(f.requests),
            str(f.served),
            str(f.unserved),
            f"{100 * (f.within_deadline_share or 0):.1f} %",
            str(f.median_km),
            str(f.p90_km),
        )
    communes = Table(title="Communes short of plages")
    for column in ("commune", "requests", "unserved", "median km", "max km"):
        communes.add_column(column, justify="right" if column != "commune" else "left")
    for c in [c for c in result.communes if c.unserved][:15]:
        communes.add_row(
            f"{c.commune_name} ({c.commune})",
            str(c.requests),
            str(c.unserved),
            str(c.median_km),
            str(c.max_km),
        )
    plages = Table(title="Suggested plages (what-if)")
    for column in ("commune", "profession", "modality", "from", "to", "places", "hours"):
        plages.add_column(column)
    for p in result.suggestions[:25]:
        plages.add_row(
            p.commune_name,
            p.profession,
            p.modality,
            f"{p.starts_at:%Y-%m-%d %H:%M}Z",
            f"{p.ends_at:%H:%M}Z",
            str(p.places),
            f"{p.hours:g}",
        )
    hours = ", ".join(f"{k} {v:g} h" for k, v in result.suggested_hours_by_profession.items())
    return Group(figures, communes, plages, f"plage-hours to add: {hours or 'none'}")


def diagnosis_csv(result: Diagnosis) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["commune", "commune_name", "profession", "half_day", "requests", "unserved"])
    for g in result.gaps:
        writer.writerow(
            [g.commune, g.commune_name, g.profession, g.half_day, g.requests, g.unserved]
        )
    writer.writerow([])
    writer.writerow(
        ["suggested_commune", "profession", "modality", "starts_at", "ends_at", "places", "hours"]
    )
    for p in result.suggestions:
        writer.writerow(
            [
                p.commune,
                p.profession,
                p.modality,
                p.starts_at.isoformat(),
                p.ends_at.isoformat(),
                p.places,
                p.hours,
            ]
        )
    return buffer.getvalue()
