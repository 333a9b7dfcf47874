"""Holding and booking slot places, safe under concurrency.

Every change of a slot's ``taken`` counter is one conditional UPDATE checked by
its row count (and the table's CHECK constraint as a last guard): two callers
racing for the last place cannot both win, on SQLite or PostgreSQL, whatever
the number of processes. There is no read-then-write in Python here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, Select, case, cast, func, select, text, update
from sqlalchemy.orm import Session

from snp.errors import ConflictError, DomainError, NotFoundError
from snp.orientation import OrientationStatus, check_transition, frees_capacity
from snp.orm import OrientationRow, SlotRow

# Namespace of the per-CPTS write locks ("SNPW"); the audit chain locks use "SNPA".
_PG_WRITE_NAMESPACE = 0x534E5057
_LOCK_FUNCTIONS = {
    (True, True): "pg_advisory_xact_lock",
    (False, True): "pg_advisory_xact_lock_shared",
    (True, False): "pg_try_advisory_xact_lock",
    (False, False): "pg_try_advisory_xact_lock_shared",
}


def lock_cpts(session: Session, cpts_id: int, *, exclusive: bool, wait: bool = True) -> bool:
    """Take the CPTS's write lock until the transaction ends; False when ``wait``
    is off and someone else holds it in a conflicting mode.

    Why: the waiting list (cancel, sweep, re-orientation, batch plan) locks a
    slot and *then* a request, the reverse of a hold. Those writers take the
    lock exclusively, before any row lock; plain holds and bookings take it
    shared, so they run side by side and never meet a waiting-list writer
    half-way. Any further CPTS lock a writer needs while it holds rows is only
    *tried* (``wait=False``), so no transaction waits for a CPTS lock while
    holding a row lock. SQLite needs nothing: BEGIN IMMEDIATE, one writer.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    got = session.scalar(
        text(f"SELECT {_LOCK_FUNCTIONS[(exclusive, wait)]}(:namespace, :key)"),
        {"namespace": _PG_WRITE_NAMESPACE, "key": cpts_id % 2**31},
    )
    return wait or bool(got)


def lock_cpts_of(session: Session, cpts_of: Select[int], *, exclusive: bool) -> None:
    """:func:`lock_cpts` (waiting) for the CPTS a scalar subquery names, in one
    round trip; nothing is locked when it names no row."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = cast(func.mod(cpts_of.scalar_subquery(), 2**31), Integer)
    function = getattr(func, _LOCK_FUNCTIONS[(exclusive, True)])
    session.execute(select(function(_PG_WRITE_NAMESPACE, key)))


def lock_cpts_for_booking(session: Session, orientation_id: int) -> None:
    """The write lock for booking this hold, in one round trip: shared for a plain
    hold, exclusive when booking it releases a replaced orientation (a
    waiting-list writer). ``rescheduled_from_id`` never changes after the hold."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = cast(func.mod(OrientationRow.cpts_id, 2**31), Integer)
    mode = case(
        (
            OrientationRow.rescheduled_from_id.is_(None),
            func.pg_advisory_xact_lock_shared(_PG_WRITE_NAMESPACE, key),
        ),
        else_=func.pg_advisory_xact_lock(_PG_WRITE_NAMESPACE, key),
    )
    session.execute(select(mode).where(OrientationRow.id == orientation_id))


class SlotTakenError(ConflictError):
    """The slot has no place left (someone else got it first)."""

    def __init__(self, slot_id: int) -> None:
        self.slot_id = slot_id
        super().__init__(f"slot {slot_id} was taken meanwhile; choose another proposal")


@dataclass(frozen=True, slots=True)
class Placement:
    orientation_id: int
    slot_id: int
    surnumeraire: bool


def _take_place(session: Session, slot_id: int, *, allow_surnumeraire: bool) -> bool:
    """Raise the slot's counter by one if a place is left; True when beyond plan."""
    limit = SlotRow.capacity + SlotRow.surnumeraire if allow_surnumeraire else SlotRow.capacity
    taken_after = session.execute(
        update(SlotRow)
        .where(SlotRow.id == slot_id, SlotRow.cancelled.is_(False), SlotRow.taken < limit)
        .values(taken=SlotRow.taken + 1)
        .returning(SlotRow.taken, SlotRow.capacity)
    ).first()
    if taken_after is None:
        if session.get(SlotRow, slot_id) is None:
            raise NotFoundError("slot", slot_id)
        raise SlotTakenError(slot_id)
    taken, capacity = taken_after
    return bool(taken > capacity)


def _give_back_place(session: Session, slot_id: int) -> None:
    session.execute(
        update(SlotRow)
        .where(SlotRow.id == slot_id, SlotRow.taken > 0)
        .values(taken=SlotRow.taken - 1)
    )


def hold(
    session: Session,
    *,
    cpts_id: int,
    request_id: int,
    slot_id: int,
    now: datetime,
    hold_for: timedelta,
    cost: int,
    distance_km: float | None,
    surnumeraire_reason: str | None = None,
    rescheduled_from_id: int | None = None,
) -> Placement:
    """Keep one place of the slot for the request until ``now + hold_for``.

    Beyond the planned capacity only with an explicit reason: surnuméraire is
    an audited exception, never a silent overflow.
    """
    beyond_plan = _take_place(session, slot_id, allow_surnumeraire=surnumeraire_reason is not None)
    if beyond_plan and not surnumeraire_reason:
        raise DomainError("surnumeraire_reason", "missing", "Say why the patient is added.")
    row = OrientationRow(
        cpts_id=cpts_id,
        request_id=request_id,
        slot_id=slot_id,
        status=OrientationStatus.HELD,
        surnumeraire=beyond_plan,
        surnumeraire_reason=surnumeraire_reason if beyond_plan else None,
        created_at=now,
        held_until=now + hold_for,
        cost=cost,
        distance_km=distance_km,
        rescheduled_from_id=rescheduled_from_id,
    )
    session.add(row)
    session.flush()
    return Placement(row.id, slot_id, beyond_plan)


def book(session: Session, orientation_id: int, now: datetime) -> None:
    """Confirm a live hold. A lapsed hold cannot be booked (its place is gone)."""
    confirmed = session.execute(
        update(OrientationRow)
        .where(
            OrientationRow.id == orientation_id,
            OrientationRow.status == OrientationStatus.HELD,
            OrientationRow.held_until > now,
        )
        .values(status=OrientationStatus.BOOKED, booked_at=now)
        .returning(OrientationRow.id)
    ).first()
    if confirmed is None:
        current = session.get(OrientationRow, orientation_id)
        if current is None:
            raise NotFoundError("orientation", orientation_id)
        status = OrientationStatus(current.status)
        # Lapsed but not yet swept, or already swept: the same answer either way.
        if status in (OrientationStatus.HELD, OrientationStatus.EXPIRED):
            raise ConflictError(f"the hold of orientation {orientation_id} has expired")
        check_transition(status, OrientationStatus.BOOKED)


def change_status(
    session: Session, orientation_id: int, target: OrientationStatus, now: datetime
) -> OrientationStatus:
    """Move an orientation along its lifecycle, giving the place back when due.

    The status update is conditional on the status read, so two concurrent
    cancellations free the place once.
    """
    current_row = session.get(OrientationRow, orientation_id)
    if current_row is None:
        raise NotFoundError("orientation", orientation_id)
    current = OrientationStatus(current_row.status)
    check_transition(current, target)
    changed = session.execute(
        update(OrientationRow)
        .where(OrientationRow.id == orientation_id, OrientationRow.status == current)
        .values(status=target)
        .returning(OrientationRow.id)
    ).first()
    if changed is None:
        raise ConflictError(f"orientation {orientation_id} changed meanwhile; reload it")
    if frees_capacity(current, target):
        _give_back_place(session, current_row.slot_id)
    session.expire(current_row)
    return current


def release_expired_holds(
    session: Session, now: datetime, *, slot_id: int | None = None
) -> list[int]:
    """Expire lapsed holds (of one slot, or all) and free their places; returns
    the orientations expired."""
    query = select(OrientationRow.id).where(
        OrientationRow.status == OrientationStatus.HELD, OrientationRow.held_until <= now
    )
    if slot_id is not None:
        query = query.where(OrientationRow.slot_id == slot_id)
    else:
        # The sweep requeues requests after freeing slots: it is a waiting-list
        # writer, exclusive in each CPTS concerned, locked before any row
        # (ascending, one order for every sweep).
        concerned = query.with_only_columns(OrientationRow.cpts_id).distinct()
        for cpts_id in sorted(session.scalars(concerned).all()):
            lock_cpts(session, cpts_id, exclusive=True)
    lapsed = session.scalars(query).all()
    expired = []
    for orientation_id in lapsed:
        slot_id = session.execute(
            update(OrientationRow)
            .where(
                OrientationRow.id == orientation_id,
                OrientationRow.status == OrientationStatus.HELD,
                OrientationRow.held_until <= now,
            )
            .values(status=OrientationStatus.EXPIRED)
            .returning(OrientationRow.slot_id)
        ).scalar_one_or_none()
        if slot_id is not None:
            _give_back_place(session, slot_id)
            expired.append(orientation_id)
    return expired
