"""``snp demo``: a day of SNP orientation on the real Yvelines territory.

It sets up the territory (CPTS, their communes, a seeded roster of professionals
and their slots for the next 48 hours) idempotently, then replays a stream of
care requests in arrival order on a simulated clock: each request goes through
intake (deadline from the CPTS's priority rules), the solver's online ranking,
and a hold + booking of the best proposal through the concurrency-safe path.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from snp import audit, orienting
from snp.actors import Actor, Role
from snp.audit_cli import audit_key
from snp.care_requests import PatientLocation, RequestStatus
from snp.cpts import default_settings
from snp.db import make_engine, make_session_factory, transaction
from snp.errors import DomainError
from snp.intake import IntakeForm, cpts_settings
from snp.migrate import upgrade
from snp.modalities import Modality, Origin
from snp.orm import AgreementRow, Base, CptsCommuneRow, CptsRow, ProfessionalRow, SiteRow, SlotRow
from snp.pool import PoolSnapshot, allowed_cpts, epoch, load_snapshot, solver_request
from snp.professions import Profession
from snp.scenario import PRIORITY_CLASSES, Scenario, generate
from solver.explain import unserved_reason
from solver.index import SlotIndex
from solver.rank import rank
from solver.types import Load

MODALITY_NAMES = {0: Modality.IN_PERSON, 1: Modality.HOME_VISIT, 2: Modality.TELECONSULTATION}
SURNAMES = (
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefebvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
)
FIRST_NAMES = ("Camille", "Louise", "Hugo", "Léa", "Lucas", "Chloé", "Jules", "Inès", "Adam")


@dataclass
class DemoSummary:
    communes: int = 0
    cpts: int = 0
    professionals: int = 0
    slots: int = 0
    requests: int = 0
    by_origin: Counter[str] = field(default_factory=Counter)
    oriented: Counter[str] = field(default_factory=Counter)
    within_deadline: int = 0
    waits_minutes: list[float] = field(default_factory=list)
    distances_km: list[float] = field(default_factory=list)
    unserved: Counter[str] = field(default_factory=Counter)
    by_priority: Counter[str] = field(default_factory=Counter)
    oriented_by_priority: Counter[str] = field(default_factory=Counter)
    audit_events: int = 0
    audit_ok: bool = False


def run_demo(
    url: str, *, size: str = "M", seed: int = 0, reset: bool = False, console: Console | None = None
) -> DemoSummary:
    console = console or Console()
    engine = make_engine(url)
    if reset:
        _drop_everything(engine)
    upgrade(engine)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with console.status(f"generating the {size} scenario on real communes"):
        scenario = generate(size, seed, now=now)
    summary = DemoSummary(communes=len(scenario.communes.codes))
    factory = make_session_factory(engine)
    with console.status("setting up CPTS, professionals and slots"), transaction(factory) as s:
        cpts_ids = _set_up_cpts(s, scenario)
        pro_ids = _set_up_professionals(s, scenario, cpts_ids)
        summary.slots = _publish_slots(s, scenario, cpts_ids, pro_ids)
        summary.cpts, summary.professionals = len(cpts_ids), len(pro_ids)
    _orient_stream(factory, scenario, cpts_ids, pro_ids, summary, console)
    with console.status("verifying the audit trail"), transaction(factory) as s:
        report = audit.verify(s, checkpoint_key=audit_key(), at=datetime.now(UTC))
        summary.audit_events = sum(chain.events for chain in report.chains)
        summary.audit_ok = report.ok
    engine.dispose()
    return summary


def _drop_everything(engine: Engine) -> None:
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _set_up_cpts(s: Session, scenario: Scenario) -> dict[int, int]:
    """Scenario CPTS id → database id, creating the CPTS and their territory once."""
    ids: dict[int, int] = {}
    table = scenario.cpts
    for index, sid in enumerate(table.cpts_id.tolist()):
        code = f"cpts-{table.departement[index]}-{sid}"
        row = s.scalars(select(CptsRow).where(CptsRow.code == code)).first()
        if row is None:
            departement = str(table.departement[index])
            settings = default_settings(departement)
            row = CptsRow(
                code=code,
                name=str(table.name[index]),
                departement_code=departement,
                timezone=str(settings.calendar.tz),
                settings={},
            )
            s.add(row)
            s.flush()
            communes = scenario.communes.codes[scenario.commune_cpts == sid].tolist()
            s.execute(
                insert(CptsCommuneRow), [{"cpts_id": row.id, "insee_code": c} for c in communes]
            )
        ids[sid] = row.id
    _share_orientation_platform(s, list(ids.values()))
    return ids


def _share_orientation_platform(s: Session, cpts_ids: list[int]) -> None:
    """The demo's CPTS share one orientation platform (the seed allows it): each
    may orient its patients to the others' slots, its own being preferred."""
    existing = set(s.execute(select(AgreementRow.cpts_id, AgreementRow.partner_id)).all())
    pairs = [
        {"cpts_id": a, "partner_id": b}
        for a in cpts_ids
        for b in cpts_ids
        if a != b and (a, b) not in existing
    ]
    if pairs:
        s.execute(insert(AgreementRow), pairs)


def _set_up_professionals(
    s: Session, scenario: Scenario, cpts_ids: dict[int, int]
) -> dict[int, int]:
    """Scenario professional id → database id; existing RPPS are reused."""
    pros = scenario.professionals
    known = dict(s.execute(select(ProfessionalRow.rpps, ProfessionalRow.id)).all())
    ids: dict[int, int] = {}
    for i, pid in enumerate(pros.professional_id.tolist()):
        rpps = str(pros.rpps[i])
        if rpps in known:
            ids[pid] = known[rpps]
            continue
        cpts_id = cpts_ids[int(pros.cpts[i])]
        surname = SURNAMES[pid % len(SURNAMES)]
        site = SiteRow(
            cpts_id=cpts_id,
            name=f"Cabinet {surname}",
            address="",
            insee_code=str(pros.commune[i]),
            lat=float(pros.lat[i]),
            lon=float(pros.lon[i]),
        )
        s.add(site)
        s.flush()
        row = ProfessionalRow(
            cpts_id=cpts_id,
            rpps=rpps,
            last_name=surname,
            first_name=FIRST_NAMES[pid % len(FIRST_NAMES)],
            profession=int(pros.profession[i]),
            specialty=str(pros.specialty[i]) or None,
            accepts_surnumeraire=bool(pros.accepts_surnumeraire[i]),
            main_site_id=site.id,
        )
        s.add(row)
        s.flush()
        ids[pid] = row.id
    return ids


def _publish_slots(
    s: Session, scenario: Scenario, cpts_ids: dict[int, int], pro_ids: dict[int, int]
) -> int:
    """Insert the scenario's slots, skipping any a previous run already published."""
    site_of = dict(s.execute(select(ProfessionalRow.id, ProfessionalRow.main_site_id)).all())
    existing = set(
        s.execute(
            select(SlotRow.professional_id, SlotRow.start_at).where(
                SlotRow.start_at >= scenario.now
            )
        ).all()
    )
    sl = scenario.slots
    rows = []
    for i in range(len(sl)):
        pro = pro_ids[int(sl.professional[i])]
        start = datetime.fromtimestamp(int(sl.start[i]), UTC)
        if (pro, start) in existing:
            continue
        rows.append(
            {
                "cpts_id": cpts_ids[int(sl.cpts[i])],
                "professional_id": pro,
                "site_id": site_of[pro],
                "profession": int(sl.profession[i]),
                "start_at": start,
                "end_at": datetime.fromtimestamp(int(sl.end[i]), UTC),
                "modality": str(MODALITY_NAMES[int(sl.modality[i])]),
                "capacity": int(sl.capacity[i]),
                "surnumeraire": int(sl.surnumeraire[i]),
                "taken": 0,
                "sas_reserved": bool(sl.sas_reserved[i]),
                "cancelled": False,
            }
        )
    if rows:
        s.execute(insert(SlotRow), rows)
    return len(rows)


def _orient_stream(
    factory: sessionmaker[Session],
    scenario: Scenario,
    cpts_ids: dict[int, int],
    pro_ids: dict[int, int],
    summary: DemoSummary,
    console: Console,
) -> None:
    req = scenario.requests
    order = sorted(range(len(req)), key=lambda i: (int(req.earliest[i]), int(req.request_id[i])))
    with factory() as s:
        snapshot = load_snapshot(s, cpts_ids.values(), scenario.now, scenario.horizon_end)
    live = _LivePool(snapshot)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("orienting requests", total=len(order))
        for i in order:
            _orient_one(factory, scenario, i, cpts_ids, pro_ids, live, summary)
            progress.advance(task)


class _LivePool:
    """The demo's in-memory view of free places, kept in step with each booking.

    Re-reading the database for every request would cost a query of 20,000
    rows; the database stays the authority (the booking UPDATE would refuse a
    place that is gone) and this view only decides what to propose.
    """

    def __init__(self, snapshot: PoolSnapshot) -> None:
        self.pool = snapshot.pool
        self.daily = dict(snapshot.load.daily)
        self.weekly_sas = dict(snapshot.load.weekly_sas)
        self.position = {int(sid): i for i, sid in enumerate(self.pool.slot_id.tolist())}
        self.index = SlotIndex.build(self.pool)

    def load(self) -> Load:
        return Load(daily=dict(self.daily), weekly_sas=dict(self.weekly_sas))

    def take(self, slot_id: int, surnumeraire: bool, sas: bool) -> None:
        i = self.position[slot_id]
        self.index.take(i, surnumeraire=surnumeraire)  # in place: no rebuild per booking
        self.pool = self.index.pool
        key = (int(self.pool.professional[i]), int(self.pool.day[i]))
        self.daily[key] = self.daily.get(key, 0) + 1
        if sas:
            week_key = (int(self.pool.professional[i]), int(self.pool.week[i]))
            self.weekly_sas[week_key] = self.weekly_sas.get(week_key, 0) + 1


def _intake_form(scenario: Scenario, i: int, cpts_code: str, mt_rpps: str | None) -> IntakeForm:
    req = scenario.requests
    mask = int(req.modalities[i])
    return IntakeForm(
        cpts_code=cpts_code,
        origin=Origin.SAS if int(req.origin[i]) == 1 else Origin.CPTS,
        profession=Profession(int(req.profession[i])),
        priority=PRIORITY_CLASSES[int(req.priority[i])],
        location=PatientLocation(
            insee_code=str(req.commune[i]), lat=float(req.lat[i]), lon=float(req.lon[i])
        ),
        modalities=frozenset(m for bit, m in MODALITY_NAMES.items() if mask & (1 << bit)),
        medecin_traitant_rpps=mt_rpps,
    )


def _orient_one(
    factory: sessionmaker[Session],
    scenario: Scenario,
    i: int,
    cpts_ids: dict[int, int],
    pro_ids: dict[int, int],
    live: _LivePool,
    summary: DemoSummary,
) -> None:
    req = scenario.requests
    now = datetime.fromtimestamp(int(req.earliest[i]), UTC)
    priority = PRIORITY_CLASSES[int(req.priority[i])]
    origin = "SAS" if int(req.origin[i]) == 1 else "CPTS"
    summary.requests += 1
    summary.by_origin[origin] += 1
    summary.by_priority[priority] += 1
    with transaction(factory) as s:
        cpts_row = s.get(CptsRow, cpts_ids[int(req.cpts[i])])
        assert cpts_row is not None
        role = Role.REGULATOR if origin == "SAS" else Role.OPERATOR
        actor = Actor(user_id=0, name="demo", role=role, cpts_id=cpts_row.id)
        mt = int(req.medecin_traitant[i])
        mt_rpps = str(scenario.professionals.rpps[mt]) if mt >= 0 else None
        form = _intake_form(scenario, i, cpts_row.code, mt_rpps)
        try:
            row = orienting.receive_request(s, actor, form, None, now, scenario.communes)
        except DomainError as error:
            summary.unserved[_short_reason(error)] += 1
            return
        settings = cpts_settings(cpts_row)
        request = solver_request(
            row,
            priority_rank=settings.priority_rank(row.priority),
            allowed=allowed_cpts(s, row.cpts_id),
            now=now,
        )
        ranking = rank(request, live.index, now=epoch(now), k=3, load=live.load())
        orienting.record_proposals(s, actor, row, ranking, now)
        if not ranking.proposals:
            row.status = str(RequestStatus.UNSERVED)
            row.unserved_reason = unserved_reason(ranking.excluded, ranking.feasible)
            summary.unserved[row.unserved_reason] += 1
            return
        best = ranking.proposals[0]
        reason = "demo: planned places full" if best.uses_surnumeraire else None
        held = orienting.hold_slot(s, actor, row.id, best.slot_id, now, reason)
        orienting.book(s, actor, held.id, now)
    live.take(best.slot_id, best.uses_surnumeraire, origin == "SAS")
    summary.oriented[origin] += 1
    summary.oriented_by_priority[priority] += 1
    if best.start <= epoch(row.deadline):
        summary.within_deadline += 1
    summary.waits_minutes.append((best.start - epoch(now)) / 60)
    if best.km is not None:
        summary.distances_km.append(best.km)


def _short_reason(error: DomainError) -> str:
    if "PDSA" in error.problem or "15" in error.problem:
        return "outside office hours: PDSA / 15"
    return f"refused at intake ({error.field})"


def print_summary(summary: DemoSummary, console: Console) -> None:
    console.print(
        f"Territory: {summary.communes} communes, {summary.cpts} CPTS, "
        f"{summary.professionals} professionals, {summary.slots} new slots over 48 h"
    )
    table = Table(title="SNP orientation — demo run", show_lines=False)
    table.add_column("indicator")
    table.add_column("value", justify="right")
    oriented = sum(summary.oriented.values())
    share = 100 * summary.within_deadline / summary.requests if summary.requests else 0.0
    table.add_row(
        "requests (CPTS line / SAS)",
        f"{summary.requests} ({summary.by_origin['CPTS']} / {summary.by_origin['SAS']})",
    )
    table.add_row("oriented", str(oriented))
    table.add_row("oriented within deadline", f"{summary.within_deadline} ({share:.1f} %)")
    for priority in PRIORITY_CLASSES:
        total = summary.by_priority[priority]
        if total:
            done = summary.oriented_by_priority[priority]
            table.add_row(f"  {priority}", f"{done}/{total} ({100 * done / total:.1f} %)")
    table.add_row("median wait until the appointment", _median(summary.waits_minutes, "min"))
    table.add_row("median distance (in person / home visit)", _median(summary.distances_km, "km"))
    table.add_row("unserved", str(sum(summary.unserved.values())))
    for reason, count in summary.unserved.most_common():
        table.add_row(f"  {escape(reason)}", str(count))
    console.print(table)
    verdict = "verified" if summary.audit_ok else "[red]BROKEN[/]"
    console.print(f"Audit trail: {summary.audit_events} chained events, {verdict}")


def _median(values: list[float], unit: str) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} {unit}"
