"""The orientation flow: intake, proposals, holds, booking, cancellation,
re-orientation, outcome, batch plan and SAS pushes.

Routes translate HTTP to :mod:`snp.orienting` and back; the service enforces
tenancy (404) and the rules (422/409). Losing a race for a slot answers 409
with the next proposals, computed after the failed transaction is rolled back
so they reflect the slot that was just taken.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from api.auth import roles
from api.deps import DbSession, Now
from api.problems import PROBLEM_JSON, ProblemError, ProblemRoute, problem_responses
from api.schemas.common import ProblemOut, day_query
from api.schemas.orientation import (
    CancellationIn,
    CareRequestCreate,
    HoldCreate,
    IntakeOut,
    OrientationOut,
    OutcomeIn,
    PlanOut,
    ProposalOut,
    ProposalsOut,
    ReorientationIn,
    RequestOut,
    SlotTakenOut,
)
from snp import idempotency, orienting
from snp.actors import Actor, Role
from snp.booking import SlotTakenError
from snp.care_requests import PatientLocation
from snp.intake import IntakeForm
from snp.modalities import Origin
from snp.orientation import OrientationStatus
from snp.patients import PatientContact
from snp.professions import parse_profession

# Every operation here needs a token and a role, and names what it acts on.
ERRORS = problem_responses(401, 403, 404, 422)
router = APIRouter(tags=["orientation"], responses=ERRORS, route_class=ProblemRoute)

Intake = Annotated[Actor, roles(Role.OPERATOR, Role.REGULATOR)]
Reader = Annotated[Actor, roles(Role.OPERATOR, Role.REGULATOR, Role.COORDINATOR)]
OrientationReader = Annotated[
    Actor, roles(Role.OPERATOR, Role.REGULATOR, Role.COORDINATOR, Role.PROFESSIONAL)
]
Canceller = Annotated[
    Actor, roles(Role.OPERATOR, Role.REGULATOR, Role.COORDINATOR, Role.PROFESSIONAL)
]
# The professional reports what happened; the orientation staff record it too
# when the patient calls back or is redirected to the 15 / the emergency department.
OutcomeReporter = Annotated[
    Actor,
    roles(Role.PROFESSIONAL, Role.COORDINATOR, Role.OPERATOR, Role.REGULATOR),
]
Planner = Annotated[Actor, roles(Role.OPERATOR, Role.REGULATOR, Role.COORDINATOR)]
Regulator = Annotated[Actor, roles(Role.REGULATOR)]

# A hold or re-orientation loses the slot (slot-taken, with next proposals) or finds
# the request or orientation changed meanwhile (a plain conflict problem).
SLOT_TAKEN = problem_responses(
    409,
    model=SlotTakenOut | ProblemOut,
    descriptions={
        409: "The slot was taken meanwhile (the body offers the next proposals), or the "
        "request or orientation changed meanwhile"
    },
)
CONFLICT = problem_responses(
    409, descriptions={409: "The orientation changed meanwhile (e.g. the hold expired)"}
)


def _cpts_code(session: DbSession, actor: Actor) -> str:
    from snp.orm import CptsRow  # local: only intake needs the code

    row = session.get(CptsRow, actor.cpts_id)
    assert row is not None
    return row.code


def _form(session: DbSession, actor: Actor, body: CareRequestCreate) -> IntakeForm:
    return IntakeForm(
        cpts_code=_cpts_code(session, actor),
        # The channel follows from who calls: SAS regulators push SAS requests.
        origin=Origin.SAS if actor.role is Role.REGULATOR else Origin.CPTS,
        profession=parse_profession(body.profession),
        priority=body.priority,
        location=PatientLocation(body.location.insee_code, body.location.lat, body.location.lon),
        modalities=frozenset(body.modalities),
        earliest=body.earliest,
        radius_km=body.radius_km,
        medecin_traitant_rpps=body.medecin_traitant_rpps,
    )


def _patient(body: CareRequestCreate) -> PatientContact | None:
    if body.patient is None:
        return None
    return PatientContact(body.patient.display_name, body.patient.phone, body.patient.birth_year)


def _intake(session: DbSession, actor: Actor, body: CareRequestCreate, now: Any) -> IntakeOut:
    result = orienting.submit_request(
        session, actor, _form(session, actor, body), _patient(body), now
    )
    return IntakeOut.model_validate(result)


def _slot_taken(
    session: DbSession, actor: Actor, error: SlotTakenError, request_id: int, now: Any
) -> NoReturn:
    """Answer 409 with what is still available, in a fresh transaction."""
    session.rollback()
    proposals = orienting.propose(session, actor, request_id, now)
    # Keep the fresh transaction's audit of the proposals shown: the operator sees them.
    session.commit()
    raise ProblemError(
        409,
        "slot-taken",
        "Slot taken",
        f"slot {error.slot_id} was taken by another orientation; choose one of next_proposals",
        slot_id=error.slot_id,
        next_proposals=[
            ProposalOut.model_validate(p).model_dump(mode="json") for p in proposals.proposals
        ],
    )


# ----------------------------------------------------------------------------- requests


@router.post("/requests", status_code=201, response_model=IntakeOut, tags=["requests"])
def create_request(
    body: CareRequestCreate, session: DbSession, now: Now, actor: Intake
) -> IntakeOut:
    """Receive a care request: validated, deadline set from its priority class, patient
    contact stored apart; the answer ranks the best slots with their explanation."""
    return _intake(session, actor, body, now)


@router.get("/requests", response_model=list[RequestOut], tags=["requests"])
def list_requests(
    session: DbSession,
    actor: Reader,
    status: Annotated[
        str | None, Query(description="pending (the waiting list), oriented, unserved, cancelled")
    ] = None,
) -> list[RequestOut]:
    return [RequestOut.model_validate(v) for v in orienting.list_requests(session, actor, status)]


@router.get("/requests/{request_id}", response_model=RequestOut, tags=["requests"])
def get_request(request_id: int, session: DbSession, actor: Reader) -> RequestOut:
    return RequestOut.model_validate(orienting.get_request(session, actor, request_id))


@router.get("/requests/{request_id}/proposals", response_model=ProposalsOut, tags=["requests"])
def get_proposals(
    request_id: int,
    session: DbSession,
    now: Now,
    actor: Intake,
    k: Annotated[int, Query(ge=1, le=20, description="how many proposals")] = 5,
) -> ProposalsOut:
    return ProposalsOut.model_validate(orienting.propose(session, actor, request_id, now, k))


@router.post(
    "/requests/{request_id}/holds",
    status_code=201,
    response_model=OrientationOut,
    responses=SLOT_TAKEN,
    tags=["requests"],
)
def hold(
    request_id: int, body: HoldCreate, session: DbSession, now: Now, actor: Intake
) -> OrientationOut:
    """Keep a place of the slot for a few minutes (CPTS setting, default 5) while the
    patient agrees; book it before it lapses."""
    try:
        view = orienting.hold_slot(
            session, actor, request_id, body.slot_id, now, body.surnumeraire_reason
        )
    except SlotTakenError as error:
        _slot_taken(session, actor, error, request_id, now)
    return OrientationOut.model_validate(view)


# ----------------------------------------------------------------------------- orientations


@router.post(
    "/orientations/{orientation_id}/booking",
    response_model=OrientationOut,
    responses=CONFLICT,
    tags=["orientations"],
)
def book(orientation_id: int, session: DbSession, now: Now, actor: Intake) -> OrientationOut:
    """Turn a live hold into a booked orientation (the appointment)."""
    return OrientationOut.model_validate(orienting.book(session, actor, orientation_id, now))


@router.post(
    "/orientations/{orientation_id}/cancellation",
    response_model=OrientationOut,
    responses=CONFLICT,
    tags=["orientations"],
)
def cancel(
    orientation_id: int,
    session: DbSession,
    now: Now,
    actor: Canceller,
    body: CancellationIn | None = None,
) -> OrientationOut:
    """Cancel; the place goes back to the pool (and to the waiting list's next request)."""
    body = body or CancellationIn()
    view = orienting.cancel(
        session, actor, orientation_id, now, body.reason, close_request=body.close_request
    )
    return OrientationOut.model_validate(view)


@router.post(
    "/orientations/{orientation_id}/reorientation",
    status_code=201,
    response_model=OrientationOut,
    responses=SLOT_TAKEN,
    tags=["orientations"],
)
def reorient(
    orientation_id: int, body: ReorientationIn, session: DbSession, now: Now, actor: Intake
) -> OrientationOut:
    """Hold the new slot (linked by ``rescheduled_from_id``); booking it releases the old one."""
    try:
        view = orienting.reorient(session, actor, orientation_id, body.slot_id, now)
    except SlotTakenError as error:
        session.rollback()
        request_id = orienting.get_orientation(session, actor, orientation_id).request_id
        _slot_taken(session, actor, error, request_id, now)
    return OrientationOut.model_validate(view)


@router.post(
    "/orientations/{orientation_id}/outcome",
    response_model=OrientationOut,
    responses=CONFLICT,
    tags=["orientations"],
)
def record_outcome(
    orientation_id: int, body: OutcomeIn, session: DbSession, now: Now, actor: OutcomeReporter
) -> OrientationOut:
    """Honoured, no-show, or redirected to the 15 / the emergency department."""
    view = orienting.record_outcome(
        session, actor, orientation_id, OrientationStatus(body.outcome), now
    )
    return OrientationOut.model_validate(view)


@router.get("/orientations", response_model=list[OrientationOut], tags=["orientations"])
def list_orientations(
    session: DbSession,
    actor: OrientationReader,
    day: Annotated[date | None, day_query("appointments on this local day")] = None,
) -> list[OrientationOut]:
    views = orienting.list_orientations(session, actor, day)
    return [OrientationOut.model_validate(v) for v in views]


@router.get("/orientations/{orientation_id}", response_model=OrientationOut, tags=["orientations"])
def get_orientation(
    orientation_id: int, session: DbSession, actor: OrientationReader
) -> OrientationOut:
    return OrientationOut.model_validate(orienting.get_orientation(session, actor, orientation_id))


# ----------------------------------------------------------------------------- plan


@router.post("/plan", response_model=PlanOut, responses=CONFLICT, tags=["plan"])
def plan(session: DbSession, now: Now, actor: Planner) -> PlanOut:
    """Orient every pending request of your CPTS jointly and hold the planned slots."""
    return PlanOut.model_validate(orienting.plan_pending(session, actor, now))


# ----------------------------------------------------------------------------- SAS push


@router.post(
    "/sas/requests",
    status_code=201,
    response_model=IntakeOut,
    tags=["sas"],
    response_description="The request and its proposals; a replay of a key gets the first "
    "answer again, with the header Idempotent-Replayed: true",
)
def sas_push(
    body: CareRequestCreate,
    session: DbSession,
    now: Now,
    actor: Regulator,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="unique per request (a UUID); a retry with the same key and body "
            "gets the first answer, kept at least 72 h",
        ),
    ] = None,
) -> Any:
    """A request pushed by SAS regulation software; retries are safe with Idempotency-Key.
    With the CPTS's ``auto_orient_sas`` setting, the best proposal is booked at once."""
    assert actor.cpts_id is not None
    key = idempotency.check_key(idempotency_key)
    digest = idempotency.body_hash(body.model_dump(mode="json"))
    stored = idempotency.replay(session, actor.cpts_id, key, digest)
    if stored is not None:
        return _replayed(*stored)
    answer = _intake(session, actor, body, now).model_dump(mode="json")
    try:
        idempotency.remember(session, actor.cpts_id, key, digest, 201, answer, now)
    except IntegrityError:
        # A concurrent retry with the same key committed first: undo ours, answer theirs.
        session.rollback()
        stored = idempotency.replay(session, actor.cpts_id, key, digest)
        if stored is None:
            raise
        return _replayed(*stored)
    return answer


def _replayed(status: int, answer: dict[str, Any]) -> JSONResponse:
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(answer, status, headers={"Idempotent-Replayed": "true"}, media_type=media)
