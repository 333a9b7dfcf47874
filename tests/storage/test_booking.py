"""The booking path never gives a place twice, on either backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from snp import booking
from snp.errors import ConflictError, DomainError
from snp.orientation import OrientationStatus
from snp.orm import OrientationRow, SlotRow
from tests import factories as f

HOLD = timedelta(minutes=5)
NOW = f.T0 - timedelta(hours=1)


def _setup(
    engine: Engine, *, capacity: int, surnumeraire: int = 0, requests: int = 1
) -> tuple[int, int, list[int]]:
    with Session(engine) as s, s.begin():
        c = f.cpts(s)
        pro = f.professional(s, c.id)
        site = f.site(s, c.id)
        slot = f.slot(s, c.id, pro.id, site.id, capacity=capacity, surnumeraire=surnumeraire)
        request_ids = [f.care_request(s, c.id).id for _ in range(requests)]
        return c.id, slot.id, request_ids


def _hold(
    s: Session,
    cpts_id: int,
    request_id: int,
    slot_id: int,
    now: datetime = NOW,
    reason: str | None = None,
) -> booking.Placement:
    return booking.hold(
        s,
        cpts_id=cpts_id,
        request_id=request_id,
        slot_id=slot_id,
        now=now,
        hold_for=HOLD,
        cost=0,
        distance_km=1.0,
        surnumeraire_reason=reason,
    )


def test_concurrent_holds_get_exactly_the_capacity(engine: Engine) -> None:
    cpts_id, slot_id, requests = _setup(engine, capacity=3, requests=24)
    factory = sessionmaker(engine)

    def attempt(request_id: int) -> str:
        try:
            with factory() as s, s.begin():
                placement = _hold(s, cpts_id, request_id, slot_id)
                booking.book(s, placement.orientation_id, NOW)
            return "booked"
        except booking.SlotTakenError:
            return "conflict"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, requests))

    assert outcomes.count("booked") == 3
    assert outcomes.count("conflict") == 21
    with Session(engine) as s:
        assert s.scalar(select(SlotRow.taken).where(SlotRow.id == slot_id)) == 3
        booked = s.scalar(
            select(func.count())
            .select_from(OrientationRow)
            .where(OrientationRow.status == OrientationStatus.BOOKED)
        )
        assert booked == 3


def test_surnumeraire_needs_a_reason_and_is_flagged(engine: Engine) -> None:
    cpts_id, slot_id, requests = _setup(engine, capacity=1, surnumeraire=1, requests=3)
    with Session(engine) as s, s.begin():
        assert not _hold(s, cpts_id, requests[0], slot_id).surnumeraire
    with Session(engine) as s, s.begin(), pytest.raises(booking.SlotTakenError):
        _hold(s, cpts_id, requests[1], slot_id)
    with Session(engine) as s, s.begin():
        extra = _hold(
            s, cpts_id, requests[1], slot_id, reason="patient fragile, vu en fin de plage"
        )
        assert extra.surnumeraire
    with Session(engine) as s, s.begin(), pytest.raises(booking.SlotTakenError):
        _hold(s, cpts_id, requests[2], slot_id, reason="encore un")


def test_expired_holds_free_their_place_and_cannot_be_booked(engine: Engine) -> None:
    cpts_id, slot_id, requests = _setup(engine, capacity=1, requests=2)
    with Session(engine) as s, s.begin():
        first = _hold(s, cpts_id, requests[0], slot_id)
    later = NOW + HOLD + timedelta(seconds=1)
    with Session(engine) as s, s.begin():
        assert booking.release_expired_holds(s, later) == [first.orientation_id]
        assert booking.release_expired_holds(s, later) == []
    with Session(engine) as s, s.begin(), pytest.raises(ConflictError, match="expired"):
        booking.book(s, first.orientation_id, later)
    with Session(engine) as s, s.begin():
        second = _hold(s, cpts_id, requests[1], slot_id, now=later)
        booking.book(s, second.orientation_id, later)


def test_a_live_hold_past_its_expiry_cannot_be_booked(engine: Engine) -> None:
    cpts_id, slot_id, requests = _setup(engine, capacity=1)
    with Session(engine) as s, s.begin():
        placement = _hold(s, cpts_id, requests[0], slot_id)
    with Session(engine) as s, s.begin(), pytest.raises(ConflictError, match="expired"):
        booking.book(s, placement.orientation_id, NOW + HOLD)


def test_cancelling_frees_the_place_once(engine: Engine) -> None:
    cpts_id, slot_id, requests = _setup(engine, capacity=1, requests=2)
    with Session(engine) as s, s.begin():
        placement = _hold(s, cpts_id, requests[0], slot_id)
        booking.book(s, placement.orientation_id, NOW)
    with Session(engine) as s, s.begin():
        booking.change_status(s, placement.orientation_id, OrientationStatus.CANCELLED, NOW)
    with Session(engine) as s, s.begin(), pytest.raises(DomainError, match="cancelled cannot"):
        booking.change_status(s, placement.orientation_id, OrientationStatus.CANCELLED, NOW)
    with Session(engine) as s:
        assert s.scalar(select(SlotRow.taken).where(SlotRow.id == slot_id)) == 0
