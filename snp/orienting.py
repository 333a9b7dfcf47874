"""The orientation service: from a care request to a booked slot, and after.

Every function takes the acting user, checks that the objects belong to the
actor's CPTS (a miss is a NotFoundError, never a hint that the object exists
elsewhere), works inside the caller's transaction, and appends each event to
the CPTS's audit chain. Places are only ever taken through :mod:`snp.booking`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from snp import audit, booking, compensation
from snp.actors import SYSTEM, Actor, Role
from snp.care_requests import RequestStatus
from snp.cpts import CptsSettings
from snp.errors import ConflictError, DomainError, NotFoundError
from snp.geo import CommuneDirectory, haversine_km
from snp.intake import IntakeForm, cpts_settings, parse_cpts_settings, receive
from snp.modalities import Modality, Origin
from snp.orientation import OUTCOMES, OrientationStatus
from snp.orm import (
    AgreementRow,
    CareRequestRow,
    CptsRow,
    OrientationRow,
    ProfessionalRow,
    SiteRow,
    SlotRow,
)
from snp.patients import PatientContact, contact_digest
from snp.pool import allowed_cpts, epoch, load_snapshot, solver_request
from snp.settings import get_settings
from solver import Ranking, Request, Weights, plan, rank
from solver.explain import unserved_reason

DEFAULT_K = 5


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class ProposalView:
    slot_id: int
    professional_id: int
    professional_name: str
    profession: int
    site_name: str
    insee_code: str
    start: datetime
    end: datetime
    modality: str
    distance_km: float | None
    wait_minutes: int
    cost: int
    terms: dict[str, int]
    explanation: str
    surnumeraire: bool


@dataclass(frozen=True, slots=True)
class Proposals:
    request_id: int
    proposals: list[ProposalView]
    excluded: dict[str, int]
    unserved_reason: str | None


@dataclass(frozen=True, slots=True)
class RequestView:
    id: int
    cpts_id: int
    origin: str
    profession: int
    priority: str
    received_at: datetime
    deadline: datetime
    insee_code: str | None
    lat: float
    lon: float
    radius_km: float
    modalities: list[str]
    status: str
    unserved_reason: str | None


@dataclass(frozen=True, slots=True)
class OrientationView:
    id: int
    request_id: int
    slot_id: int
    status: str
    surnumeraire: bool
    held_until: datetime | None
    booked_at: datetime | None
    rescheduled_from_id: int | None
    distance_km: float | None
    start: datetime
    end: datetime
    professional_id: int
    professional_name: str
    site_name: str
    insee_code: str


@dataclass(frozen=True, slots=True)
class IntakeResult:
    request: RequestView
    proposals: Proposals
    orientation: OrientationView | None  # set when the request was oriented on push


@dataclass(frozen=True, slots=True)
class PlanView:
    cpts_ids: list[int]
    held: list[OrientationView]
    unserved: dict[int, str]
    objective: int


def request_view(row: CareRequestRow) -> RequestView:
    return RequestView(
        id=row.id,
        cpts_id=row.cpts_id,
        origin=row.origin,
        profession=row.profession,
        priority=row.priority,
        received_at=row.received_at,
        deadline=row.deadline,
        insee_code=row.insee_code,
        lat=row.lat,
        lon=row.lon,
        radius_km=row.radius_km,
        modalities=row.modalities.split(","),
        status=row.status,
        unserved_reason=row.unserved_reason,
    )


def orientation_view(session: Session, row: OrientationRow) -> OrientationView:
    slot, pro, site = session.execute(
        select(SlotRow, ProfessionalRow, SiteRow)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .join(SiteRow, SlotRow.site_id == SiteRow.id)
        .where(SlotRow.id == row.slot_id)
    ).one()
    return _view(row, slot, pro, site)


def _view(
    row: OrientationRow, slot: SlotRow, pro: ProfessionalRow, site: SiteRow
) -> OrientationView:
    return OrientationView(
        id=row.id,
        request_id=row.request_id,
        slot_id=row.slot_id,
        status=row.status,
        surnumeraire=row.surnumeraire,
        held_until=row.held_until,
        booked_at=row.booked_at,
        rescheduled_from_id=row.rescheduled_from_id,
        distance_km=row.distance_km,
        start=slot.start_at,
        end=slot.end_at,
        professional_id=pro.id,
        professional_name=_name(pro),
        site_name=site.name,
        insee_code=site.insee_code,
    )


def _name(pro: ProfessionalRow) -> str:
    return f"{pro.first_name} {pro.last_name}".strip()


# ----------------------------------------------------------------------------- scoping


def _can_see_cpts(actor: Actor, cpts_id: int) -> bool:
    return (actor.cpts_id is None and actor.role is Role.ADMIN) or actor.cpts_id == cpts_id


def _request(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    lock: bool = False,
    exclusive: bool = False,
) -> CareRequestRow:
    query = select(CareRequestRow).where(CareRequestRow.id == request_id)
    if lock:
        cpts_of = select(CareRequestRow.cpts_id).where(CareRequestRow.id == request_id)
        booking.lock_cpts_of(session, cpts_of, exclusive=exclusive)
        # Re-read under the row lock: another hold may have just changed the status.
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(query).first()
    if row is None or not _can_see_cpts(actor, row.cpts_id):
        raise NotFoundError("request", request_id)
    return row


def _orientation(
    session: Session,
    actor: Actor,
    orientation_id: int,
    *,
    lock: bool = False,
    exclusive: bool = True,
) -> OrientationRow:
    """The orientation, scoped to the actor. ``lock`` takes its CPTS's write lock:
    exclusive for waiting-list writers (cancel, re-orientation, outcome);
    ``exclusive=False`` is for booking (see :func:`snp.booking.lock_cpts_for_booking`)."""
    if lock and exclusive:
        cpts_of = select(OrientationRow.cpts_id).where(OrientationRow.id == orientation_id)
        booking.lock_cpts_of(session, cpts_of, exclusive=True)
    elif lock:
        booking.lock_cpts_for_booking(session, orientation_id)
    row = session.get(OrientationRow, orientation_id)
    if row is None:
        raise NotFoundError("orientation", orientation_id)
    if actor.role is Role.PROFESSIONAL:
        slot = session.get(SlotRow, row.slot_id)
        if slot is None or slot.professional_id != actor.professional_id:
            raise NotFoundError("orientation", orientation_id)
    elif not _can_see_cpts(actor, row.cpts_id):
        raise NotFoundError("orientation", orientation_id)
    return row


def _settings(session: Session, cpts_id: int) -> CptsSettings:
    row = session.get(CptsRow, cpts_id)
    assert row is not None
    return cpts_settings(row)


def _weights(settings: CptsSettings) -> Weights:
    """The solver's defaults, overridden by the CPTS's own choices."""
    overrides: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in settings.solver_weights.items()
    }
    return replace(Weights(), **overrides)


def _audit(
    session: Session, cpts_id: int, actor: Actor, kind: str, at: datetime, **payload: Any
) -> None:
    audit.append(session, cpts_id=cpts_id, actor=actor.label, kind=kind, payload=payload, at=at)


# ----------------------------------------------------------------------------- intake


def receive_request(
    session: Session,
    actor: Actor,
    form: IntakeForm,
    patient: PatientContact | None,
    now: datetime,
    directory: CommuneDirectory | None = None,
) -> CareRequestRow:
    """Store a request in the actor's CPTS and trace its reception."""
    cpts = session.scalars(select(CptsRow).where(CptsRow.code == form.cpts_code)).first()
    if cpts is None or not _can_see_cpts(actor, cpts.id):
        raise NotFoundError("CPTS", form.cpts_code)
    row = receive(session, directory or _directory(), form, now, patient)
    patient_ref = contact_digest(get_settings().patient_key.encode(), patient) if patient else None
    _audit(
        session,
        row.cpts_id,
        actor,
        "request_received",
        now,
        request_id=row.id,
        origin=row.origin,
        profession=row.profession,
        priority=row.priority,
        deadline=row.deadline.isoformat(),
        insee_code=row.insee_code,
        patient_ref=patient_ref,
    )
    return row


def submit_request(
    session: Session,
    actor: Actor,
    form: IntakeForm,
    patient: PatientContact | None,
    now: datetime,
    directory: CommuneDirectory | None = None,
) -> IntakeResult:
    """Store the request and answer with ranked proposals (and, for SAS pushes in
    a CPTS that asks for it, the best proposal already booked)."""
    row = receive_request(session, actor, form, patient, now, directory)
    proposals = propose(session, actor, row.id, now)
    oriented = None
    settings = _settings(session, row.cpts_id)
    if form.origin is Origin.SAS and settings.auto_orient_sas and proposals.proposals:
        held = hold_slot(session, actor, row.id, proposals.proposals[0].slot_id, now)
        oriented = book(session, actor, held.id, now)
    return IntakeResult(request_view(row), proposals, oriented)


_DIRECTORY: CommuneDirectory | None = None
_DIRECTORY_LOCK = threading.Lock()


def _directory() -> CommuneDirectory:
    """The national commune table, loaded once: patients may live across a border.

    Loading takes seconds of CPU: under a lock, so that the first burst of
    requests of a worker loads it once, not once per thread (the app also
    loads it at start-up, see :func:`preload`)."""
    global _DIRECTORY
    if _DIRECTORY is None:
        with _DIRECTORY_LOCK:
            if _DIRECTORY is None:
                _DIRECTORY = CommuneDirectory.france()
    return _DIRECTORY


def preload() -> None:
    """Load what every intake needs before the first request (server start-up)."""
    _directory()


# ----------------------------------------------------------------------------- proposals


def _cpts_context(
    session: Session, cpts_id: int
) -> tuple[CptsSettings, frozenset[int], dict[int, ZoneInfo]]:
    """The CPTS's settings, the CPTS whose slots it may use (itself and its
    mutualisation partners) and their time zones: one query, read fresh."""
    partners = select(AgreementRow.partner_id).where(AgreementRow.cpts_id == cpts_id)
    rows = session.execute(
        select(CptsRow.id, CptsRow.departement_code, CptsRow.timezone, CptsRow.settings).where(
            or_(CptsRow.id == cpts_id, CptsRow.id.in_(partners))
        )
    ).all()
    own = next(r for r in rows if r.id == cpts_id)
    settings = parse_cpts_settings(own.departement_code, own.settings)
    return settings, frozenset(r.id for r in rows), {r.id: ZoneInfo(r.timezone) for r in rows}


def _ranking(session: Session, row: CareRequestRow, now: datetime, k: int) -> Ranking:
    settings, allowed, zones = _cpts_context(session, row.cpts_id)
    start = max(now, row.earliest or row.received_at)
    snapshot = load_snapshot(
        session,
        allowed,
        start,
        row.deadline + timedelta(seconds=1),
        profession=row.profession,
        zones=zones,
    )
    request = solver_request(
        row,
        priority_rank=settings.priority_rank(row.priority),
        allowed=allowed,
        now=now,
    )
    return rank(
        request,
        snapshot.pool,
        now=epoch(now),
        k=k,
        load=snapshot.load,
        weights=_weights(settings),
    )


def propose(
    session: Session, actor: Actor, request_id: int, now: datetime, k: int = DEFAULT_K
) -> Proposals:
    """The k best slots for the request now, with why they rank there."""
    row = _request(session, actor, request_id)
    if row.deadline <= now:
        return Proposals(row.id, [], {}, "the request's deadline has passed")
    return record_proposals(session, actor, row, _ranking(session, row, now, k), now)


def record_proposals(
    session: Session, actor: Actor, row: CareRequestRow, ranking: Ranking, now: datetime
) -> Proposals:
    """Trace the proposals shown for a request and describe them for a person."""
    views = _proposal_views(session, ranking)
    _audit(
        session,
        row.cpts_id,
        actor,
        "proposals_shown",
        now,
        request_id=row.id,
        proposals=[{"slot_id": p.slot_id, "cost": p.cost, "terms": p.terms} for p in views],
        excluded=ranking.excluded,
    )
    reason = None if views else unserved_reason(ranking.excluded, ranking.feasible)
    return Proposals(row.id, views, dict(ranking.excluded), reason)


def _proposal_views(session: Session, ranking: Ranking) -> list[ProposalView]:
    ids = [p.slot_id for p in ranking.proposals]
    if not ids:
        return []
    rows = {
        r.id: r
        for r in session.execute(
            select(
                SlotRow.id,
                SlotRow.profession,
                SlotRow.start_at,
                SlotRow.end_at,
                SlotRow.modality,
                ProfessionalRow.id.label("professional_id"),
                ProfessionalRow.first_name,
                ProfessionalRow.last_name,
                SiteRow.name.label("site_name"),
                SiteRow.insee_code,
            )
            .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
            .join(SiteRow, SlotRow.site_id == SiteRow.id)
            .where(SlotRow.id.in_(ids))
        )
    }
    views = []
    for p in ranking.proposals:
        r = rows[p.slot_id]
        views.append(
            ProposalView(
                slot_id=r.id,
                professional_id=r.professional_id,
                professional_name=f"{r.first_name} {r.last_name}".strip(),
                profession=r.profession,
                site_name=r.site_name,
                insee_code=r.insee_code,
                start=r.start_at,
                end=r.end_at,
                modality=r.modality,
                distance_km=None if p.km is None else round(p.km, 2),
                wait_minutes=p.wait_minutes,
                cost=p.cost,
                terms=dict(p.terms),
                explanation=p.explanation,
                surnumeraire=p.uses_surnumeraire,
            )
        )
    return views


# ----------------------------------------------------------------------------- hold & book


def _check_slot_fits(
    session: Session,
    row: CareRequestRow,
    slot: SlotRow,
    now: datetime,
    surnumeraire: bool,
    allowed: frozenset[int],
) -> float | None:
    """The hard rules of the matching model, for a slot the caller picked itself."""

    def refuse(problem: str, fix: str = "Choose one of the proposals.") -> DomainError:
        return DomainError("slot_id", problem, fix)

    if slot.cancelled:
        raise refuse("the slot was withdrawn")
    if slot.profession != row.profession:
        raise refuse("the slot is for another profession")
    if slot.modality not in row.modalities.split(","):
        raise refuse(f"the request does not accept {slot.modality}")
    if slot.cpts_id not in allowed:
        raise refuse("the slot belongs to a CPTS without a mutualisation agreement")
    if slot.sas_reserved and row.origin != Origin.SAS:
        raise refuse("the slot is reserved for SAS requests")
    if not max(now, row.earliest or row.received_at) <= slot.start_at <= row.deadline:
        raise refuse("the slot starts outside the request's window (now … deadline)")
    if surnumeraire:
        accepts = session.scalar(
            select(ProfessionalRow.accepts_surnumeraire).where(
                ProfessionalRow.id == slot.professional_id
            )
        )
        if not accepts:
            raise DomainError(
                "surnumeraire_reason",
                "this professional does not accept surnuméraire",
                "Choose a slot with a planned place left.",
            )
    if slot.modality == Modality.TELECONSULTATION:
        return None
    site = session.get(SiteRow, slot.site_id)
    assert site is not None
    km = float(haversine_km(row.lat, row.lon, site.lat, site.lon))
    if km > row.radius_km:
        raise refuse(f"the slot is {km:.1f} km away, beyond the {row.radius_km:g} km radius")
    return km


def hold_slot(
    session: Session,
    actor: Actor,
    request_id: int,
    slot_id: int,
    now: datetime,
    surnumeraire_reason: str | None = None,
    *,
    rescheduled_from_id: int | None = None,
) -> OrientationView:
    """Keep a place of the slot for the request for the CPTS's hold time."""
    # A plain hold only takes a place: it runs beside other holds (shared). A
    # re-orientation is a waiting-list writer (its caller holds the lock already).
    row = _request(session, actor, request_id, lock=True, exclusive=rescheduled_from_id is not None)
    if rescheduled_from_id is None and row.status != RequestStatus.PENDING:
        raise ConflictError(
            f"request {request_id} is {row.status}; cancel its orientation before another hold"
        )
    if row.deadline <= now:
        raise DomainError("request_id", "the request's deadline has passed", "Create a new one.")
    slot = session.get(SlotRow, slot_id)
    if slot is None:
        raise NotFoundError("slot", slot_id)
    settings, allowed, _ = _cpts_context(session, row.cpts_id)
    km = _check_slot_fits(session, row, slot, now, surnumeraire_reason is not None, allowed)

    def take() -> booking.Placement:
        return booking.hold(
            session,
            cpts_id=row.cpts_id,
            request_id=row.id,
            slot_id=slot_id,
            now=now,
            hold_for=settings.hold_for,
            cost=0,
            distance_km=km,
            surnumeraire_reason=surnumeraire_reason,
            rescheduled_from_id=rescheduled_from_id,
        )

    try:
        placement = take()
    except booking.SlotTakenError:
        # A lapsed hold the sweep has not reached yet still counts as taken:
        # expire this slot's lapsed holds, then try once more.
        if not _expire_holds_of_slot(session, slot_id, now, row.cpts_id):
            raise
        placement = take()
    row.status = str(RequestStatus.ORIENTED)
    _audit(
        session,
        row.cpts_id,
        actor,
        "held",
        now,
        request_id=row.id,
        orientation_id=placement.orientation_id,
        slot_id=slot_id,
        surnumeraire=placement.surnumeraire,
        surnumeraire_reason=surnumeraire_reason,
    )
    orientation = session.get(OrientationRow, placement.orientation_id)
    assert orientation is not None
    return orientation_view(session, orientation)


def book(session: Session, actor: Actor, orientation_id: int, now: datetime) -> OrientationView:
    """Confirm a live hold: the appointment the patient is told about."""
    row = _orientation(session, actor, orientation_id, lock=True, exclusive=False)
    booking.book(session, orientation_id, now)
    # The conditional UPDATE succeeded: these are the stored values (no re-read).
    set_committed_value(row, "status", str(OrientationStatus.BOOKED))
    set_committed_value(row, "booked_at", now)
    _audit(
        session,
        row.cpts_id,
        actor,
        "booked",
        now,
        orientation_id=row.id,
        request_id=row.request_id,
        slot_id=row.slot_id,
    )
    if row.rescheduled_from_id is not None:
        _release_replaced(session, actor, row.rescheduled_from_id, now)
    return orientation_view(session, row)


def _release_replaced(session: Session, actor: Actor, old_id: int, now: datetime) -> None:
    old = session.get(OrientationRow, old_id)
    if old is None or old.status not in (OrientationStatus.BOOKED, OrientationStatus.HELD):
        return
    booking.change_status(session, old_id, OrientationStatus.CANCELLED, now)
    _audit(
        session, old.cpts_id, actor, "cancelled", now, orientation_id=old_id, reason="re-oriented"
    )
    _offer_freed_place(session, old.slot_id, now)


# ----------------------------------------------------------------------------- after booking


def cancel(
    session: Session,
    actor: Actor,
    orientation_id: int,
    now: datetime,
    reason: str | None = None,
    *,
    close_request: bool = False,
) -> OrientationView:
    """Cancel a hold or booking; the place goes back to the pool at once.

    The request returns to the waiting list unless ``close_request`` (the
    patient no longer needs care).
    """
    row = _orientation(session, actor, orientation_id, lock=True)
    booking.change_status(session, orientation_id, OrientationStatus.CANCELLED, now)
    request = session.get(CareRequestRow, row.request_id)
    assert request is not None
    request.status = str(RequestStatus.CANCELLED if close_request else RequestStatus.PENDING)
    session.refresh(row)
    _audit(
        session,
        row.cpts_id,
        actor,
        "cancelled",
        now,
        orientation_id=row.id,
        request_id=row.request_id,
        reason=reason,
        request_closed=close_request,
    )
    compensation.post_orientation_event(session, row.id, "cancelled", now)
    _offer_freed_place(session, row.slot_id, now)
    return orientation_view(session, row)


def reorient(
    session: Session, actor: Actor, orientation_id: int, slot_id: int, now: datetime
) -> OrientationView:
    """Hold the new slot first; the old booking is released when the new one is booked."""
    old = _orientation(session, actor, orientation_id, lock=True)
    if old.status not in (OrientationStatus.HELD, OrientationStatus.BOOKED):
        raise DomainError(
            "orientation_id",
            f"a {old.status} orientation cannot be re-oriented",
            "Re-orient a held or booked orientation.",
        )
    new = hold_slot(session, actor, old.request_id, slot_id, now, rescheduled_from_id=old.id)
    _audit(
        session,
        old.cpts_id,
        actor,
        "reoriented",
        now,
        orientation_id=old.id,
        new_orientation_id=new.id,
        slot_id=slot_id,
    )
    return new


def record_outcome(
    session: Session, actor: Actor, orientation_id: int, outcome: OrientationStatus, now: datetime
) -> OrientationView:
    """Honoured, no-show, or redirected to the 15 / the emergency department."""
    if outcome not in OUTCOMES:
        raise DomainError(
            "outcome",
            f"{outcome} is not an outcome",
            "Use honoured, no_show, redirected_15 or redirected_ed.",
        )
    row = _orientation(session, actor, orientation_id, lock=True)
    previous = booking.change_status(session, orientation_id, outcome, now)
    session.refresh(row)
    _audit(
        session,
        row.cpts_id,
        actor,
        "outcome_recorded",
        now,
        orientation_id=row.id,
        outcome=str(outcome),
        previous=str(previous),
    )
    kind = "outcome_corrected" if previous in OUTCOMES else str(outcome)
    compensation.post_orientation_event(session, row.id, kind, now)
    return orientation_view(session, row)


# ----------------------------------------------------------------------------- waiting list


def release_expired(session: Session, now: datetime) -> int:
    """Expire lapsed holds, put their requests back on the waiting list, and offer
    each freed place to the next request that fits it."""
    expired = booking.release_expired_holds(session, now)
    _requeue_expired(session, expired, now, offer_freed_places=True)
    return len(expired)


def _expire_holds_of_slot(session: Session, slot_id: int, now: datetime, cpts_id: int) -> bool:
    """Expire the slot's lapsed holds for a hold of a request of ``cpts_id``.

    Lapsed holds of the hold's own CPTS are expired under its lock. Those of
    another CPTS (mutualisation) requeue that CPTS's requests: only when its
    write lock can be had at once, else the place waits for the sweep."""
    lapsed = select(OrientationRow.cpts_id).where(
        OrientationRow.slot_id == slot_id,
        OrientationRow.status == OrientationStatus.HELD,
        OrientationRow.held_until <= now,
    )
    others = set(session.scalars(lapsed.distinct()).all()) - {cpts_id}
    if not all(booking.lock_cpts(session, c, exclusive=True, wait=False) for c in sorted(others)):
        return False
    expired = booking.release_expired_holds(session, now, slot_id=slot_id)
    # The caller is about to take the freed place itself: offer it to no one else.
    _requeue_expired(session, expired, now, offer_freed_places=False)
    return bool(expired)


def _requeue_expired(
    session: Session, expired: list[int], now: datetime, *, offer_freed_places: bool
) -> None:
    """Put the requests of lapsed holds back on the waiting list and trace it."""
    for orientation_id in expired:
        row = session.get(OrientationRow, orientation_id)
        assert row is not None
        request = session.get(CareRequestRow, row.request_id)
        assert request is not None
        if request.status == RequestStatus.ORIENTED and not _has_live_orientation(
            session, request.id
        ):
            request.status = str(RequestStatus.PENDING)
        _audit(
            session,
            row.cpts_id,
            SYSTEM,
            "hold_expired",
            now,
            orientation_id=row.id,
            request_id=row.request_id,
            slot_id=row.slot_id,
        )
        if offer_freed_places:
            _offer_freed_place(session, row.slot_id, now, skip_request=row.request_id)


def _has_live_orientation(session: Session, request_id: int) -> bool:
    live = [str(s) for s in (OrientationStatus.HELD, OrientationStatus.BOOKED)]
    found = session.scalar(
        select(OrientationRow.id).where(
            OrientationRow.request_id == request_id, OrientationRow.status.in_(live)
        )
    )
    return found is not None


def _offer_freed_place(
    session: Session, slot_id: int, now: datetime, skip_request: int | None = None
) -> OrientationView | None:
    """Hold a freed place for the pending request that the batch model picks.

    The plan over pending requests against this single slot gives it to the
    request whose unserved penalty outweighs its cost the most (the most urgent
    that fits); the hold's expiry then moves it to the next one.
    """
    slot = session.get(SlotRow, slot_id)
    if slot is None or slot.start_at <= now:
        return None
    snapshot = load_snapshot(
        session, [slot.cpts_id], now, slot.start_at + timedelta(seconds=1), slot_ids=[slot_id]
    )
    if not len(snapshot.pool):
        return None
    candidates = _pending_for(session, slot, now, skip_request)
    if not candidates:
        return None
    settings = _settings(session, slot.cpts_id)
    result = plan(
        candidates, snapshot.pool, now=epoch(now), load=snapshot.load, weights=_weights(settings)
    )
    chosen = [rid for rid, sid in result.assignment.items() if sid == slot_id]
    if not chosen:
        return None
    # This transaction holds the slot's row: it may only *try* for the chosen
    # request's CPTS (exclusive: no hold of that CPTS is half-way), else the
    # place stays free for the next proposals.
    cpts_of = {r.request_id: r.cpts for r in candidates}
    if not booking.lock_cpts(session, cpts_of[chosen[0]], exclusive=True, wait=False):
        return None
    return hold_slot(session, SYSTEM, chosen[0], slot_id, now)


def _pending_for(
    session: Session, slot: SlotRow, now: datetime, skip_request: int | None
) -> list[Request]:
    rows = session.scalars(
        select(CareRequestRow).where(
            CareRequestRow.status == RequestStatus.PENDING,
            CareRequestRow.profession == slot.profession,
            CareRequestRow.deadline >= slot.start_at,
        )
    ).all()
    # The waiting list may hold many requests of a few CPTS: read each CPTS's
    # agreements and settings once, not once per request, inside this transaction.
    allowed_of: dict[int, frozenset[int]] = {}
    settings_of: dict[int, CptsSettings] = {}
    requests = []
    for row in rows:
        if row.cpts_id not in allowed_of:
            allowed_of[row.cpts_id] = allowed_cpts(session, row.cpts_id)
            settings_of[row.cpts_id] = _settings(session, row.cpts_id)
        allowed = allowed_of[row.cpts_id]
        if row.id == skip_request or slot.cpts_id not in allowed:
            continue
        requests.append(
            solver_request(
                row,
                priority_rank=settings_of[row.cpts_id].priority_rank(row.priority),
                allowed=allowed,
                now=now,
            )
        )
    return requests


# ----------------------------------------------------------------------------- batch plan


def plan_pending(session: Session, actor: Actor, now: datetime) -> PlanView:
    """Orient every pending request of the actor's CPTS jointly, holding the slots.

    All or nothing: if one planned place was taken meanwhile, the whole plan is
    rolled back (the caller's transaction fails) and can be re-run.
    """
    if actor.cpts_id is None:
        raise DomainError("cpts", "a plan is made for one CPTS", "Use a CPTS user's token.")
    booking.lock_cpts(session, actor.cpts_id, exclusive=True)  # a waiting-list writer
    allowed = allowed_cpts(session, actor.cpts_id)
    settings = _settings(session, actor.cpts_id)
    rows = session.scalars(
        select(CareRequestRow)
        .where(
            CareRequestRow.cpts_id == actor.cpts_id,
            CareRequestRow.status == RequestStatus.PENDING,
            CareRequestRow.deadline > now,
        )
        .order_by(CareRequestRow.id)
    ).all()
    if not rows:
        return PlanView(sorted(allowed), [], {}, 0)
    until = max(r.deadline for r in rows) + timedelta(seconds=1)
    snapshot = load_snapshot(session, allowed, now, until)
    requests = [
        solver_request(
            r,
            priority_rank=settings.priority_rank(r.priority),
            allowed=allowed,
            now=now,
        )
        for r in rows
    ]
    result = plan(
        requests, snapshot.pool, now=epoch(now), load=snapshot.load, weights=_weights(settings)
    )
    held: list[OrientationView] = []
    unserved: dict[int, str] = {}
    for rid in sorted(result.assignment):
        slot_id = result.assignment[rid]
        if slot_id is None:
            unserved[rid] = result.decisions[rid].reason_unserved or "unserved"
            continue
        try:
            held.append(
                hold_slot(session, actor, rid, slot_id, now, _plan_surnumeraire(session, slot_id))
            )
        except booking.SlotTakenError as error:
            raise ConflictError(
                f"slot {slot_id} was taken while planning; nothing was held, run the plan again"
            ) from error
    _audit(
        session,
        actor.cpts_id,
        actor,
        "plan_held",
        now,
        objective=result.objective,
        held=[v.id for v in held],
        unserved=sorted(unserved),
    )
    return PlanView(sorted(allowed), held, unserved, result.objective)


def _plan_surnumeraire(session: Session, slot_id: int) -> str | None:
    """The solver only plans surnuméraire on slots whose professional accepts it."""
    slot = session.get(SlotRow, slot_id)
    assert slot is not None
    full = slot.taken >= slot.capacity
    return "batch plan: planned places full, professional accepts surnuméraire" if full else None


# ----------------------------------------------------------------------------- reading


def get_request(session: Session, actor: Actor, request_id: int) -> RequestView:
    return request_view(_request(session, actor, request_id))


def list_requests(session: Session, actor: Actor, status: str | None = None) -> list[RequestView]:
    query = select(CareRequestRow).order_by(CareRequestRow.received_at, CareRequestRow.id)
    if actor.cpts_id is not None:
        query = query.where(CareRequestRow.cpts_id == actor.cpts_id)
    if status is not None:
        valid = [s.value for s in RequestStatus]
        if status not in valid:
            raise DomainError("status", f"unknown status {status!r}", f"Use one of {valid}.")
        query = query.where(CareRequestRow.status == status)
    return [request_view(r) for r in session.scalars(query)]


def get_orientation(session: Session, actor: Actor, orientation_id: int) -> OrientationView:
    return orientation_view(session, _orientation(session, actor, orientation_id))


def list_orientations(
    session: Session, actor: Actor, day: date | None = None
) -> list[OrientationView]:
    """Orientations of the actor's CPTS (or, for a professional, on their slots),
    optionally those whose appointment falls on a local day."""
    query = select(OrientationRow).join(SlotRow, OrientationRow.slot_id == SlotRow.id)
    if actor.role is Role.PROFESSIONAL:
        query = query.where(SlotRow.professional_id == actor.professional_id)
    elif actor.cpts_id is not None:
        query = query.where(OrientationRow.cpts_id == actor.cpts_id)
    if day is not None:
        tz = ZoneInfo("Europe/Paris")
        if actor.cpts_id is not None:
            tz = _settings(session, actor.cpts_id).calendar.tz
        start = datetime.combine(day, time(0), tz)
        query = query.where(SlotRow.start_at >= start, SlotRow.start_at < start + timedelta(days=1))
    rows = session.execute(
        query.add_columns(SlotRow, ProfessionalRow, SiteRow)
        .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
        .join(SiteRow, SlotRow.site_id == SiteRow.id)
        .order_by(SlotRow.start_at, OrientationRow.id)
    ).all()
    return [_view(o, slot, pro, site) for o, slot, pro, site in rows]
