"""The orientation service end to end on a real database (both backends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from snp import audit, orienting
from snp.actors import Actor, Role
from snp.booking import SlotTakenError
from snp.care_requests import PatientLocation, RequestStatus
from snp.errors import ConflictError, DomainError, NotFoundError
from snp.geo import CommuneDirectory
from snp.intake import IntakeForm
from snp.modalities import Modality, Origin
from snp.orientation import OrientationStatus
from snp.orm import (
    AgreementRow,
    AuditEventRow,
    CareRequestRow,
    CptsRow,
    ProfessionalRow,
    SiteRow,
    SlotRow,
)
from snp.patients import PatientContact
from snp.professions import Profession

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=PARIS)  # a Tuesday, not a holiday
VERSAILLES = "78646"
KEY = b"test-key"


@dataclass
class World:
    engine: Engine
    c1: int
    c2: int
    gp: int
    slots: list[int]
    operator: Actor
    other_operator: Actor
    professional: Actor


@pytest.fixture(scope="module")
def directory() -> CommuneDirectory:
    return CommuneDirectory.from_csv()


def _slot(
    s: Session, cpts_id: int, pro: int, site: int, hour: int, minute: int = 0, **extra: object
) -> int:
    start = NOW.replace(hour=hour, minute=minute)
    row = SlotRow(
        cpts_id=cpts_id,
        professional_id=pro,
        site_id=site,
        profession=10,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        modality="in_person",
        capacity=1,
        surnumeraire=0,
        taken=0,
        sas_reserved=False,
        cancelled=False,
    )
    for name, value in extra.items():
        setattr(row, name, value)
    s.add(row)
    s.flush()
    return row.id


@pytest.fixture
def world(engine: Engine) -> World:
    with Session(engine) as s, s.begin():
        c1 = CptsRow(
            code="c1",
            name="CPTS Versailles",
            departement_code="78",
            timezone="Europe/Paris",
            settings={},
        )
        c2 = CptsRow(
            code="c2",
            name="CPTS Rambouillet",
            departement_code="78",
            timezone="Europe/Paris",
            settings={},
        )
        s.add_all([c1, c2])
        s.flush()
        site = SiteRow(
            cpts_id=c1.id,
            name="Cabinet Martin",
            address="1 rue",
            insee_code=VERSAILLES,
            lat=48.8049,
            lon=2.1301,
        )
        s.add(site)
        s.flush()
        gp = ProfessionalRow(
            cpts_id=c1.id,
            rpps="10000000009",
            last_name="Martin",
            first_name="Anne",
            profession=10,
            accepts_surnumeraire=True,
            main_site_id=site.id,
        )
        s.add(gp)
        s.flush()
        slots = [_slot(s, c1.id, gp.id, site.id, h) for h in (10, 11, 12)]
        return World(
            engine,
            c1.id,
            c2.id,
            gp.id,
            slots,
            Actor(1, "op", Role.OPERATOR, c1.id),
            Actor(2, "op2", Role.OPERATOR, c2.id),
            Actor(3, "pro", Role.PROFESSIONAL, c1.id, professional_id=gp.id),
        )


def _form(cpts: str = "c1", origin: Origin = Origin.CPTS, priority: str = "same_day") -> IntakeForm:
    return IntakeForm(
        cpts_code=cpts,
        origin=origin,
        profession=Profession.MEDECIN,
        priority=priority,
        location=PatientLocation(insee_code=VERSAILLES),
        modalities=frozenset({Modality.IN_PERSON, Modality.TELECONSULTATION}),
    )


def _submit(
    w: World, directory: CommuneDirectory, now: datetime = NOW, origin: Origin = Origin.CPTS
) -> orienting.IntakeResult:
    with Session(w.engine) as s, s.begin():
        return orienting.submit_request(
            s,
            w.operator,
            _form(origin=origin),
            PatientContact("Jeanne Dupont", "0612345678"),
            now,
            directory,
        )


def test_a_call_from_intake_to_honoured(world: World, directory: CommuneDirectory) -> None:
    w = world
    result = _submit(w, directory)
    assert result.request.deadline == NOW.replace(hour=20)
    assert [p.slot_id for p in result.proposals.proposals] == w.slots  # nearest wait first
    best = result.proposals.proposals[0]
    assert best.professional_name == "Anne Martin"
    assert best.distance_km is not None and best.distance_km < 1
    assert best.explanation
    with Session(w.engine) as s, s.begin():
        held = orienting.hold_slot(s, w.operator, result.request.id, best.slot_id, NOW)
        assert held.status == OrientationStatus.HELD
        assert held.held_until == NOW + timedelta(minutes=5)
    with Session(w.engine) as s, s.begin():
        booked = orienting.book(s, w.operator, held.id, NOW + timedelta(minutes=1))
        assert booked.status == OrientationStatus.BOOKED
    with Session(w.engine) as s, s.begin():
        done = orienting.record_outcome(
            s, w.professional, held.id, OrientationStatus.HONOURED, NOW.replace(hour=11)
        )
        assert done.status == OrientationStatus.HONOURED
    with Session(w.engine) as s, s.begin():
        kinds = s.scalars(
            select(AuditEventRow.kind)
            .where(AuditEventRow.cpts_id == w.c1)
            .order_by(AuditEventRow.seq)
        ).all()
        assert kinds == [
            "request_received",
            "proposals_shown",
            "held",
            "booked",
            "outcome_recorded",
        ]
        payloads = s.scalars(select(AuditEventRow.payload)).all()
        assert "Dupont" not in repr(payloads) and "0612345678" not in repr(payloads)
        assert audit.verify(s, checkpoint_key=KEY).ok


def test_another_cpts_sees_nothing(world: World, directory: CommuneDirectory) -> None:
    w = world
    result = _submit(w, directory)
    with Session(w.engine) as s, s.begin():
        held = orienting.hold_slot(s, w.operator, result.request.id, w.slots[0], NOW)
    with Session(w.engine) as s:
        with pytest.raises(NotFoundError):
            orienting.get_request(s, w.other_operator, result.request.id)
        with pytest.raises(NotFoundError):
            orienting.get_orientation(s, w.other_operator, held.id)
        with pytest.raises(NotFoundError):
            orienting.propose(s, w.other_operator, result.request.id, NOW)
        assert orienting.list_requests(s, w.other_operator) == []
        assert orienting.list_orientations(s, w.other_operator) == []
        assert len(orienting.list_orientations(s, w.professional)) == 1


def test_slots_of_another_cpts_need_an_agreement(world: World, directory: CommuneDirectory) -> None:
    w = world
    with Session(w.engine) as s, s.begin():
        site = SiteRow(
            cpts_id=w.c2, name="MSP", address="", insee_code=VERSAILLES, lat=48.80, lon=2.13
        )
        s.add(site)
        s.flush()
        pro = ProfessionalRow(
            cpts_id=w.c2,
            rpps="10000000017",
            last_name="Roux",
            first_name="Léa",
            profession=10,
            main_site_id=site.id,
        )
        s.add(pro)
        s.flush()
        other_slot = _slot(s, w.c2, pro.id, site.id, 9, 30)
    result = _submit(w, directory)
    assert other_slot not in [p.slot_id for p in result.proposals.proposals]
    with Session(w.engine) as s, s.begin(), pytest.raises(DomainError, match="mutualisation"):
        orienting.hold_slot(s, w.operator, result.request.id, other_slot, NOW)
    with Session(w.engine) as s, s.begin():
        s.add(AgreementRow(cpts_id=w.c1, partner_id=w.c2))
    with Session(w.engine) as s, s.begin():
        proposals = orienting.propose(s, w.operator, result.request.id, NOW)
        shown = {p.slot_id: p for p in proposals.proposals}
        assert other_slot in shown
        # the partner's slot is usable but the own CPTS is preferred, other things equal
        assert shown[other_slot].terms["other_cpts"] > 0
        assert shown[w.slots[0]].terms["other_cpts"] == 0


def test_holding_a_slot_that_does_not_fit_is_refused(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    with Session(w.engine) as s, s.begin():
        site_id = s.scalars(select(SiteRow.id)).one()
        sas_only = _slot(s, w.c1, w.gp, site_id, 13, sas_reserved=True)
        too_late = _slot(s, w.c1, w.gp, site_id, 20, 30)
    request_id = _submit(w, directory).request.id
    for slot_id, message in ((sas_only, "reserved for SAS"), (too_late, "outside the request")):
        with Session(w.engine) as s, s.begin(), pytest.raises(DomainError, match=message):
            orienting.hold_slot(s, w.operator, request_id, slot_id, NOW)


def test_the_last_place_goes_once_and_surnumeraire_needs_a_reason(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    first, second = _submit(w, directory).request.id, _submit(w, directory).request.id
    with Session(w.engine) as s, s.begin():
        orienting.hold_slot(s, w.operator, first, w.slots[0], NOW)
    with Session(w.engine) as s, s.begin(), pytest.raises(SlotTakenError):
        orienting.hold_slot(s, w.operator, second, w.slots[0], NOW)
    with Session(w.engine) as s, s.begin():
        s.execute(update(SlotRow).where(SlotRow.id == w.slots[0]).values(surnumeraire=1))
    with Session(w.engine) as s, s.begin():
        extra = orienting.hold_slot(
            s, w.operator, second, w.slots[0], NOW, surnumeraire_reason="nourrisson fébrile"
        )
        assert extra.surnumeraire


def test_expired_hold_goes_back_and_the_place_is_offered_to_the_next(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    first = _submit(w, directory).request.id
    with Session(w.engine) as s, s.begin():
        for slot_id in w.slots[1:]:  # leave a single slot in the pool
            s.execute(update(SlotRow).where(SlotRow.id == slot_id).values(cancelled=True))
        orienting.hold_slot(s, w.operator, first, w.slots[0], NOW)
    waiting = _submit(w, directory, NOW + timedelta(minutes=1)).request.id
    later = NOW + timedelta(minutes=6)
    with Session(w.engine) as s, s.begin():
        assert orienting.release_expired(s, later) == 1
    with Session(w.engine) as s:
        statuses = dict(s.execute(select(CareRequestRow.id, CareRequestRow.status)).all())
        assert statuses == {first: RequestStatus.PENDING, waiting: RequestStatus.ORIENTED}
        assert s.scalar(select(SlotRow.taken).where(SlotRow.id == w.slots[0])) == 1


def test_reorientation_books_the_new_slot_before_releasing_the_old(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    request_id = _submit(w, directory).request.id
    with Session(w.engine) as s, s.begin():
        old = orienting.hold_slot(s, w.operator, request_id, w.slots[0], NOW)
        orienting.book(s, w.operator, old.id, NOW)
    with Session(w.engine) as s, s.begin():
        new = orienting.reorient(s, w.operator, old.id, w.slots[2], NOW)
        assert new.rescheduled_from_id == old.id
        assert orienting.get_orientation(s, w.operator, old.id).status == OrientationStatus.BOOKED
        orienting.book(s, w.operator, new.id, NOW)
        assert (
            orienting.get_orientation(s, w.operator, old.id).status == OrientationStatus.CANCELLED
        )
        assert s.scalar(select(SlotRow.taken).where(SlotRow.id == w.slots[0])) == 0


def test_cancelled_booking_frees_the_place_and_cannot_be_cancelled_twice(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    request_id = _submit(w, directory).request.id
    with Session(w.engine) as s, s.begin():
        held = orienting.hold_slot(s, w.operator, request_id, w.slots[0], NOW)
        orienting.cancel(s, w.operator, held.id, NOW, "patient unreachable", close_request=True)
    with Session(w.engine) as s, s.begin(), pytest.raises(DomainError, match="cancelled cannot"):
        orienting.cancel(s, w.operator, held.id, NOW)
    with Session(w.engine) as s:
        assert s.scalar(select(SlotRow.taken).where(SlotRow.id == w.slots[0])) == 0
        assert orienting.get_request(s, w.operator, request_id).status == RequestStatus.CANCELLED


def test_batch_plan_holds_the_best_joint_assignment(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    ids = [_submit(w, directory).request.id for _ in range(4)]
    with Session(w.engine) as s, s.begin():
        result = orienting.plan_pending(s, w.operator, NOW)
    assert len(result.held) == 3  # three slots for four requests
    assert len(result.unserved) == 1
    assert set(result.unserved) < set(ids)
    with Session(w.engine) as s, s.begin():
        again = orienting.plan_pending(s, w.operator, NOW)
        assert again.held == []


def test_sas_push_is_auto_oriented_when_the_cpts_asks(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    with Session(w.engine) as s, s.begin():
        row = s.get(CptsRow, w.c1)
        assert row is not None
        row.settings = {"auto_orient_sas": True}
    result = _submit(w, directory, origin=Origin.SAS)
    assert result.orientation is not None
    assert result.orientation.status == OrientationStatus.BOOKED
    cpts_line = _submit(w, directory)
    assert cpts_line.orientation is None


def test_a_second_hold_for_an_oriented_request_conflicts(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    request_id = _submit(w, directory).request.id
    with Session(w.engine) as s, s.begin():
        orienting.hold_slot(s, w.operator, request_id, w.slots[0], NOW)
    with Session(w.engine) as s, s.begin(), pytest.raises(ConflictError, match="oriented"):
        orienting.hold_slot(s, w.operator, request_id, w.slots[1], NOW)


def test_a_lapsed_hold_does_not_block_the_slot_before_the_sweep(
    world: World, directory: CommuneDirectory
) -> None:
    w = world
    first, second = _submit(w, directory).request.id, _submit(w, directory).request.id
    with Session(w.engine) as s, s.begin():
        orienting.hold_slot(s, w.operator, first, w.slots[0], NOW)
    later = NOW + timedelta(minutes=6)
    with Session(w.engine) as s, s.begin():
        taken = orienting.hold_slot(s, w.operator, second, w.slots[0], later)
        assert taken.status == OrientationStatus.HELD
    with Session(w.engine) as s:
        assert orienting.get_request(s, w.operator, first).status == RequestStatus.PENDING


def test_outcomes_post_to_the_ledger_and_corrections_reverse(
    world: World, directory: CommuneDirectory
) -> None:
    from datetime import date

    from snp.compensation import add_rule_version, ledger_balances, parse_rules

    w = world
    with Session(w.engine) as s, s.begin():
        rules = parse_rules([{"kind": "per_consultation", "amount_cents": 2500}])
        add_rule_version(s, w.c1, date(2026, 11, 1), rules, at=NOW - timedelta(days=1))
    request_id = _submit(w, directory).request.id
    with Session(w.engine) as s, s.begin():
        held = orienting.hold_slot(s, w.operator, request_id, w.slots[0], NOW)
        orienting.book(s, w.operator, held.id, NOW)
    seen = NOW.replace(hour=11)
    with Session(w.engine) as s, s.begin():
        orienting.record_outcome(s, w.professional, held.id, OrientationStatus.HONOURED, seen)
    with Session(w.engine) as s:
        assert ledger_balances(s, w.c1) == {(w.gp, "2026-12"): 2500}
    with Session(w.engine) as s, s.begin():
        orienting.record_outcome(s, w.professional, held.id, OrientationStatus.NO_SHOW, seen)
    with Session(w.engine) as s, s.begin():
        orienting.record_outcome(s, w.professional, held.id, OrientationStatus.HONOURED, seen)
        orienting.cancel(s, w.operator, held.id, seen, "recorded by mistake", close_request=True)
    with Session(w.engine) as s:
        assert ledger_balances(s, w.c1).get((w.gp, "2026-12"), 0) == 0
