"""Posting: idempotent, corrections as reversing entries, caps, rule versions."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from snp.booking import change_status
from snp.compensation import (
    AvailabilityRule,
    ConsultationRule,
    MonthlyCapRule,
    Rule,
    ShiftRule,
    add_rule_version,
    correct_rule_version,
    ledger_balances,
    post_availability,
    post_orientation_event,
    post_shift,
    recompute_from_scratch,
    record_shift,
    reprice,
)
from snp.errors import DomainError
from snp.modalities import Origin
from snp.orientation import OrientationStatus
from snp.orm import DutyShiftRow, LedgerEntryRow, SlotRow
from tests.ledger.builders import (
    add_cpts,
    add_orientation,
    add_professional,
    add_slot,
    paris,
)

AT = paris("2026-03-31", 21)
BASE = [
    ConsultationRule(amount_cents=2500),
    ConsultationRule(amount_cents=1000, origins=(Origin.SAS,), label="SAS bonus"),
]


def _entries(session: Session) -> list[LedgerEntryRow]:
    return list(session.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.id)))


def _honour(
    session: Session, oid: int, target: OrientationStatus = OrientationStatus.HONOURED
) -> None:
    change_status(session, oid, target, AT)
    post_orientation_event(session, oid, str(target), AT)


def test_honoured_consultation_is_posted_once_and_corrections_reverse(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        pro = add_professional(s, cpts)
        add_rule_version(s, cpts, date(2026, 3, 1), BASE, at=AT)
        oid = add_orientation(
            s, cpts, add_slot(s, cpts, pro, paris("2026-03-10", 10)), origin="sas"
        )

        _honour(s, oid)
        assert [e.amount_cents for e in _entries(s)] == [2500, 1000]
        assert post_orientation_event(s, oid, "honoured", AT).posted == 0  # replay
        _honour(s, oid, OrientationStatus.NO_SHOW)  # reclassified
        amounts = [e.amount_cents for e in _entries(s)]
        assert amounts == [2500, 1000, -2500, -1000]
        assert {e.reverses_id for e in _entries(s)[2:]} == {e.id for e in _entries(s)[:2]}
        _honour(s, oid)  # and back
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 3500}
        assert ledger_balances(s, cpts) == recompute_from_scratch(s, cpts)
        assert reprice(s, cpts, AT).posted == 0


def test_eligibility_deadline_origin_surnumeraire_and_partner(engine: Engine) -> None:
    rules: list[Rule] = [
        ConsultationRule(amount_cents=100),
        ConsultationRule(amount_cents=10, surnumeraire=True),
        ConsultationRule(amount_cents=1, partner_requests=True, within_deadline_only=False),
        ConsultationRule(amount_cents=1000, professions=(60,)),
    ]
    with Session(engine) as s, s.begin():
        cpts, partner = add_cpts(s), add_cpts(s)
        pro = add_professional(s, cpts)
        add_rule_version(s, cpts, date(2026, 3, 1), rules, at=AT)
        late = add_orientation(s, cpts, add_slot(s, cpts, pro, paris("2026-03-10", 10)), late=True)
        extra = add_orientation(
            s, cpts, add_slot(s, cpts, pro, paris("2026-03-10", 11)), surnumeraire=True
        )
        other = add_orientation(
            s,
            cpts,
            add_slot(s, cpts, pro, paris("2026-03-10", 12)),
            request_cpts_id=partner,
            late=True,
        )
        for oid in (late, extra, other):
            _honour(s, oid)
        # late: nothing; extra: 100 + 10; other (late, from the partner): 1 only
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 111}


def test_monthly_cap_reduces_and_a_correction_releases_it(engine: Engine) -> None:
    rules: list[Rule] = [ConsultationRule(amount_cents=4000), MonthlyCapRule(max_cents=10000)]
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        pro = add_professional(s, cpts)
        add_rule_version(s, cpts, date(2026, 3, 1), rules, at=AT)
        oids = [
            add_orientation(s, cpts, add_slot(s, cpts, pro, paris("2026-03-1" + str(d), 10)))
            for d in range(3)
        ]
        for oid in oids:
            _honour(s, oid)
        caps = [e for e in _entries(s) if e.kind == "cap_reduction"]
        assert [e.amount_cents for e in caps] == [-2000]
        assert "cap" in caps[0].note
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 10000}
        _honour(s, oids[0], OrientationStatus.NO_SHOW)
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 8000}
        amounts = [e.amount_cents for e in _entries(s) if e.kind == "cap_reduction"]
        assert amounts == [-2000, 2000]  # the reduction was reversed, not edited
        assert ledger_balances(s, cpts) == recompute_from_scratch(s, cpts)


def test_retroactive_correction_reverses_and_reprices(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        pro = add_professional(s, cpts)
        v1 = add_rule_version(
            s, cpts, date(2026, 3, 1), [ConsultationRule(amount_cents=2000)], at=AT
        )
        oid = add_orientation(s, cpts, add_slot(s, cpts, pro, paris("2026-03-10", 10)))
        _honour(s, oid)
        with pytest.raises(DomainError):  # would silently re-price March
            add_rule_version(s, cpts, date(2026, 3, 5), [ConsultationRule(amount_cents=1)], at=AT)
        v2 = add_rule_version(
            s, cpts, date(2026, 4, 1), [ConsultationRule(amount_cents=9999)], at=AT
        )
        v1b, result = correct_rule_version(s, v1, [ConsultationRule(amount_cents=2200)], at=AT)
        assert result.reversals == 1 and result.posted == 2
        entries = _entries(s)
        assert [(e.amount_cents, e.rule_version_id) for e in entries] == [
            (2000, v1),
            (-2000, v1),
            (2200, v1b),
        ]
        assert v2 not in {e.rule_version_id for e in entries}
        assert ledger_balances(s, cpts) == recompute_from_scratch(s, cpts)


def test_availability_hours_and_shifts(engine: Engine) -> None:
    rules: list[Rule] = [
        AvailabilityRule(amount_cents_per_hour=3000),
        ShiftRule(amount_cents=9000, shift_kinds=("regulation",)),
    ]
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        pro = add_professional(s, cpts)
        add_rule_version(s, cpts, date(2026, 3, 1), rules, at=AT)
        first = add_slot(s, cpts, pro, paris("2026-03-10", 10), minutes=30)
        add_slot(
            s, cpts, pro, paris("2026-03-10", 10), minutes=30
        )  # a parallel place: counted once
        add_slot(s, cpts, pro, paris("2026-03-10", 10, 30), minutes=20)
        post_availability(s, pro, "2026-03", AT)
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 2500}  # 50 min at 30 €/h
        assert post_availability(s, pro, "2026-03", AT).posted == 0
        s.get_one(SlotRow, first).cancelled = True
        s.flush()
        post_availability(s, pro, "2026-03", AT)
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 2500}  # the twin still covers it
        shift = record_shift(
            s,
            cpts_id=cpts,
            professional_id=pro,
            kind="regulation",
            start=paris("2026-03-12", 9),
            end=paris("2026-03-12", 13),
            at=AT,
        )
        record_shift(
            s,
            cpts_id=cpts,
            professional_id=pro,
            kind="astreinte",
            start=paris("2026-03-13", 9),
            end=paris("2026-03-13", 13),
            at=AT,
        )
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 11500}
        s.get_one(DutyShiftRow, shift).cancelled = True
        s.flush()
        post_shift(s, shift, AT, "shift_cancelled")
        assert ledger_balances(s, cpts) == {(pro, "2026-03"): 2500}
        assert ledger_balances(s, cpts) == recompute_from_scratch(s, cpts)


def test_the_database_refuses_to_edit_or_delete_entries(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        cpts = add_cpts(s)
        pro = add_professional(s, cpts)
        add_rule_version(s, cpts, date(2026, 3, 1), BASE, at=AT)
        _honour(s, add_orientation(s, cpts, add_slot(s, cpts, pro, paris("2026-03-10", 10))))
    for statement in ("UPDATE ledger_entry SET amount_cents = 1", "DELETE FROM ledger_entry"):
        with pytest.raises(DatabaseError), engine.begin() as conn:
            conn.execute(text(statement))
    with Session(engine) as s:
        assert s.scalar(select(func.sum(LedgerEntryRow.amount_cents))) == 2500
