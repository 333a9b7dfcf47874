"""Property: whatever the sequence of events — outcomes and their corrections,
cancellations, slot withdrawals, shifts, new rule versions, retroactive
corrections, replays — the ledger's balance of every professional and month
equals a from-scratch recomputation, and a final replay posts nothing."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
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
    load_versions,
    post_availability,
    post_orientation_event,
    post_shift,
    recompute_from_scratch,
    record_shift,
    reprice,
)
from snp.errors import DomainError
from snp.modalities import Origin
from snp.orientation import OrientationStatus, check_transition
from snp.orm import DutyShiftRow, LedgerEntryRow, OrientationRow, SlotRow
from tests.ledger.builders import add_cpts, add_orientation, add_professional, add_slot, paris

AT = paris("2026-04-30", 21)
DAYS = ("2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02")
PERIODS = ("2026-03", "2026-04")
RULE_SETS: tuple[list[Rule], ...] = (
    [
        ConsultationRule(amount_cents=2500),
        AvailabilityRule(amount_cents_per_hour=1500),
        ShiftRule(amount_cents=9000),
        MonthlyCapRule(max_cents=9000),
    ],
    [
        ConsultationRule(amount_cents=3000, origins=(Origin.SAS,)),
        ConsultationRule(amount_cents=700, surnumeraire=True, within_deadline_only=False),
        MonthlyCapRule(max_cents=4000, professions=(10,)),
    ],
    [
        ConsultationRule(amount_cents=1234, professions=(60,)),
        AvailabilityRule(amount_cents_per_hour=999),
        ShiftRule(amount_cents=5000, shift_kinds=("regulation",)),
    ],
    [],
)
STATUSES = (
    OrientationStatus.HONOURED,
    OrientationStatus.NO_SHOW,
    OrientationStatus.CANCELLED,
    OrientationStatus.REDIRECTED_15,
)

events = st.lists(
    st.one_of(
        st.tuples(st.just("outcome"), st.integers(0, 7), st.sampled_from(STATUSES)),
        st.tuples(st.just("replay"), st.integers(0, 7)),
        st.tuples(st.just("withdraw_slot"), st.integers(0, 7)),
        st.tuples(
            st.just("shift"),
            st.integers(0, 2),
            st.integers(0, 3),
            st.sampled_from(["regulation", "astreinte"]),
        ),
        st.tuples(st.just("cancel_shift"), st.integers(0, 5)),
        st.tuples(st.just("new_version"), st.integers(0, 3), st.integers(0, len(RULE_SETS) - 1)),
        st.tuples(st.just("correct"), st.integers(0, 3), st.integers(0, len(RULE_SETS) - 1)),
        st.tuples(st.just("availability"), st.integers(0, 2)),
    ),
    max_size=14,
)


def _setup(s: Session) -> tuple[int, list[int], list[int]]:
    cpts = add_cpts(s)
    pros = [
        add_professional(s, cpts, 10),
        add_professional(s, cpts, 10),
        add_professional(s, cpts, 60, None),
    ]
    add_rule_version(s, cpts, date(2026, 3, 1), RULE_SETS[0], at=AT)
    orientations = []
    for i in range(8):
        pro = pros[i % 3]
        slot = add_slot(s, cpts, pro, paris(DAYS[i % 4], 9 + i), minutes=30)
        orientations.append(
            add_orientation(
                s,
                cpts,
                slot,
                origin="sas" if i % 2 else "cpts",
                late=i == 5,
                surnumeraire=i % 3 == 1,
            )
        )
    return cpts, pros, orientations


def _step(
    s: Session, cpts: int, pros: list[int], orientations: list[int], event: tuple[Any, ...]
) -> None:
    kind = event[0]
    if kind == "outcome":
        oid, target = orientations[event[1]], event[2]
        current = OrientationStatus(s.get_one(OrientationRow, oid).status)
        try:
            check_transition(current, target)
        except DomainError:
            return
        change_status(s, oid, target, AT)
        post_orientation_event(s, oid, str(target), AT)
    elif kind == "replay":
        assert post_orientation_event(s, orientations[event[1]], "replay", AT).posted == 0
    elif kind == "withdraw_slot":
        slot = s.get_one(SlotRow, s.get_one(OrientationRow, orientations[event[1]]).slot_id)
        slot.cancelled = True
        s.flush()
        for period in PERIODS:
            post_availability(s, slot.professional_id, period, AT)
    elif kind == "shift":
        day = DAYS[event[2]]
        record_shift(
            s,
            cpts_id=cpts,
            professional_id=pros[event[1]],
            kind=event[3],
            start=paris(day, 8),
            end=paris(day, 12),
            at=AT,
        )
    elif kind == "cancel_shift":
        shifts = list(
            s.scalars(
                select(DutyShiftRow).where(DutyShiftRow.cpts_id == cpts).order_by(DutyShiftRow.id)
            )
        )
        if shifts:
            shift = shifts[event[1] % len(shifts)]
            shift.cancelled = True
            s.flush()
            post_shift(s, shift.id, AT, "shift_cancelled")
    elif kind == "new_version":
        with contextlib.suppress(DomainError):  # refused when entries priced those days
            add_rule_version(
                s, cpts, date.fromisoformat(DAYS[event[1]]), RULE_SETS[event[2]], at=AT
            )
    elif kind == "correct":
        version = load_versions(s, cpts).at(date.fromisoformat(DAYS[event[1]]))
        assert version is not None
        correct_rule_version(s, version.id, RULE_SETS[event[2]], at=AT)
    elif kind == "availability":
        for period in PERIODS:
            post_availability(s, pros[event[1]], period, AT)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=events)
@example(  # a version added mid-month lowers the cap of the month under way
    sequence=[("shift", 1, 2, "regulation"), ("new_version", 3, 1)]
)
@example(  # the cap of the first rule set is hit, then released by a correction
    sequence=[
        ("outcome", 0, OrientationStatus.HONOURED),
        ("outcome", 3, OrientationStatus.HONOURED),
        ("shift", 0, 0, "regulation"),
        ("outcome", 3, OrientationStatus.NO_SHOW),
        ("correct", 0, 1),
    ]
)
def test_ledger_balance_equals_recomputation(
    engine: Engine, sequence: list[tuple[Any, ...]]
) -> None:
    with Session(engine) as s, s.begin():
        cpts, pros, orientations = _setup(s)
        entries_before = 0
        for event in sequence:
            _step(s, cpts, pros, orientations, event)
            count = (
                s.scalar(
                    select(func.count(LedgerEntryRow.id)).where(LedgerEntryRow.cpts_id == cpts)
                )
                or 0
            )
            assert count >= entries_before  # append-only
            entries_before = count
        for pro in pros:  # closing the months: published hours are owed too
            for period in PERIODS:
                post_availability(s, pro, period, AT)
        assert ledger_balances(s, cpts) == recompute_from_scratch(s, cpts)
        assert reprice(s, cpts, AT).posted == 0
