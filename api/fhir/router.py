"""/fhir: the SAS national guide's editor interface over the orientation service."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.deps import DbSession, Now
from api.fhir import appointments, practitioners, slots
from api.fhir.capability import capability_statement
from api.fhir.common import (
    IDNPS,
    SAS,
    FhirActor,
    FhirError,
    FhirRoute,
    RawBody,
    bad_request,
    base_url,
    business_rule,
    fhir_errors,
    fhir_ok,
    fhir_response,
    parse_json,
    split_token,
)
from snp import fhir_links
from snp.actors import Role
from snp.orm import CptsRow

router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)
# What each interaction can answer besides success (the same OperationOutcome shape for all).
SEARCH_ERRORS = fhir_errors(400, 401, 403, 422)
READ_ERRORS = fhir_errors(401, 403, 404)
# Writes may also meet a taken slot or a concurrent change (409) and missing objects.
APPOINTMENT_ERRORS = fhir_errors(400, 401, 403, 404, 409, 422)
PRACTITIONER_ERRORS = fhir_errors(400, 401, 403, 409, 422)

# The route reads its query itself (FHIR search syntax: repeated start, prefixes, names
# with ':' and '.'); these declarations tell clients, and schemathesis, what it takes.
SLOT_SEARCH: dict[str, Any] = {
    "parameters": [
        {
            "name": "start",
            "in": "query",
            "required": True,
            "description": "The window: start=ge<date> and start=le<date> (ISO 8601; "
            "without an offset, French local time)",
            "schema": {
                "type": "array",
                "items": {"type": "string", "pattern": "^(ge|le)\\d{4}-\\d{2}-\\d{2}"},
                "minItems": 2,
                "maxItems": 2,
            },
            "style": "form",
            "explode": True,
            "example": ["ge2026-11-26T08:00:00+01:00", "le2026-11-28T20:00:00+01:00"],
        },
        {
            "name": slots.PRACTITIONER_PARAM,
            "in": "query",
            "required": True,
            "description": f"1 to {slots.MAX_PRACTITIONERS} IDNPS, comma-separated",
            "schema": {"type": "string"},
            "example": f"{IDNPS}|810000000009",
        },
        {
            "name": "status",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "enum": ["free"]},
        },
        {
            "name": "_include",
            "in": "query",
            "schema": {
                "type": "array",
                "items": {"type": "string", "enum": sorted(slots.INCLUDES)},
            },
            "style": "form",
            "explode": True,
        },
        {
            "name": "_include:iterate",
            "in": "query",
            "schema": {
                "type": "array",
                "items": {"type": "string", "enum": sorted(slots.ITERATES)},
            },
            "style": "form",
            "explode": True,
        },
    ]
}
# The conditional update's ?identifier=system|value, read by _identifier_query.
CONDITIONAL: dict[str, Any] = {
    "parameters": [
        {
            "name": "identifier",
            "in": "query",
            "required": True,
            "description": "system|value of the resource to create or update",
            "schema": {"type": "string"},
            "example": f"{SAS}|regulator-42",
        }
    ]
}


@router.get("/metadata", responses=fhir_ok(200))
def metadata() -> Response:
    """The CapabilityStatement (no authentication, as FHIR clients expect)."""
    return fhir_response(capability_statement())


@router.get("/Slot", responses=fhir_ok(200) | SEARCH_ERRORS, openapi_extra=SLOT_SEARCH)
def search_slots(request: Request, session: DbSession, now: Now, actor: FhirActor) -> Response:
    """INT_R01 / INT_R04: free SNP slots of 1-25 professionals, as a searchset Bundle."""
    search = slots.parse_search(request.query_params.multi_items())
    departement = fhir_links.sas_departement(session, actor)
    result = slots.find_slots(session, search, departement, now)
    finess = fhir_links.cpts_finess(session, result.cpts) if search.include_organization else {}
    body = slots.render_bundle(
        search, result, base=base_url(request), self_url=str(request.url), finess=finess
    )
    return fhir_response(body)


# ----------------------------------------------------------------------------- appointments


def _identifier_query(request: Request) -> tuple[str, str]:
    """The conditional update's ?identifier=system|value (the guide also writes Identifier)."""
    values = [v for k, v in request.query_params.multi_items() if k.lower() == "identifier"]
    if len(values) != 1:
        raise bad_request("give exactly one ?identifier=system|value", "identifier")
    return split_token(values[0], "identifier")


def _appointment_response(
    request: Request, session: DbSession, link_id: int, status: int, body: str
) -> Response:
    location = f"{base_url(request)}/Appointment/{link_id}"
    return fhir_response(body, status, {"Location": location})


@router.post("/Appointment", status_code=201, responses=fhir_ok(200, 201) | APPOINTMENT_ERRORS)
def create_appointment(
    request: Request, body: RawBody, session: DbSession, now: Now, actor: FhirActor
) -> Response:
    """INT_R03 create. A replay of a known identifier is answered like an update."""
    sent = appointments.parse(parse_json(body, "Appointment"))
    departement = fhir_links.sas_departement(session, actor)
    link = fhir_links.find_appointment(session, sent.system, sent.value)
    if link is not None:
        appointments.update(session, actor, link, sent, departement, now)
        status = 200
    else:
        link = appointments.create(session, actor, sent, departement, now)
        status = 201
    rendered = appointments.render(session, link)
    return _appointment_response(request, session, link.id, status, rendered)


@router.put(
    "/Appointment", responses=fhir_ok(200, 201) | APPOINTMENT_ERRORS, openapi_extra=CONDITIONAL
)
def update_appointment(
    request: Request, body: RawBody, session: DbSession, now: Now, actor: FhirActor
) -> Response:
    """INT_R03 conditional update: 200 when it existed, 201 when this created it."""
    system, value = _identifier_query(request)
    sent = appointments.parse(parse_json(body, "Appointment"))
    if (sent.system, sent.value) != (system, value) and (system or value != sent.value):
        raise bad_request(
            "the body's identifier differs from ?identifier=; send the same system|value",
            "Appointment.identifier",
        )
    departement = fhir_links.sas_departement(session, actor)
    link = fhir_links.find_appointment(session, sent.system, sent.value)
    if link is None:
        link = appointments.create(session, actor, sent, departement, now)
        status = 201
    else:
        appointments.update(session, actor, link, sent, departement, now)
        status = 200
    rendered = appointments.render(session, link)
    return _appointment_response(request, session, link.id, status, rendered)


@router.get("/Appointment/{appointment_id}", responses=fhir_ok(200) | READ_ERRORS)
def read_appointment(
    appointment_id: Annotated[str, Path()], session: DbSession, actor: FhirActor
) -> Response:
    # ASCII digits below 2**63 only: str.isdigit() also takes "²", and a longer id
    # is beyond the database's integer (both were 500s).
    if not re.fullmatch(r"[0-9]{1,18}", appointment_id):
        raise FhirError(404, "not-found", f"Appointment/{appointment_id} does not exist")
    departement = fhir_links.sas_departement(session, actor)
    link = appointments.find_visible(session, int(appointment_id), departement)
    return fhir_response(appointments.render(session, link))


# ----------------------------------------------------------------------------- regulators


def _regulator_cpts(session: DbSession, actor: FhirActor) -> str:
    """Accounts are created in the caller's CPTS: its SAS system account or coordinator."""
    if actor.role not in (Role.REGULATOR, Role.COORDINATOR) or actor.cpts_id is None:
        raise FhirError(403, "forbidden", f"the {actor.role} role cannot manage regulators")
    cpts = session.get(CptsRow, actor.cpts_id)
    assert cpts is not None
    return cpts.code


def _save_regulator(
    request: Request,
    session: DbSession,
    now: Now,
    actor: FhirActor,
    body: bytes,
    lookup: list[tuple[str, str]] | None,
) -> Response:
    cpts_code = _regulator_cpts(session, actor)
    account = practitioners.parse(parse_json(body, "Practitioner"))
    row = fhir_links.find_regulator(session, lookup or account.identifiers)
    if row is not None and row.cpts_id != actor.cpts_id:
        raise business_rule(
            "this regulator account belongs to another CPTS; manage it from there",
            "Practitioner.identifier",
        )
    if row is None:
        row = fhir_links.create_regulator(session, cpts_code, account, now)
        status = 201
    else:
        fhir_links.update_regulator(session, row, account, now)
        status = 200
    rendered = practitioners.render(row, fhir_links.regulator_identifiers(session, row.id))
    location = f"{base_url(request)}/Practitioner/{row.id}"
    return fhir_response(rendered, status, {"Location": location})


@router.post("/Practitioner", status_code=201, responses=fhir_ok(200, 201) | PRACTITIONER_ERRORS)
def create_regulator(
    request: Request, body: RawBody, session: DbSession, now: Now, actor: FhirActor
) -> Response:
    """INT_R02 create; a replay of a known identifier updates the account instead."""
    return _save_regulator(request, session, now, actor, body, None)


@router.put(
    "/Practitioner", responses=fhir_ok(200, 201) | PRACTITIONER_ERRORS, openapi_extra=CONDITIONAL
)
def update_regulator(
    request: Request, body: RawBody, session: DbSession, now: Now, actor: FhirActor
) -> Response:
    """INT_R02 conditional update (idempotent; an unknown identifier creates the account)."""
    system, value = _identifier_query(request)
    return _save_regulator(request, session, now, actor, body, [(system, value)])


@router.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def unsupported(path: str, request: Request) -> Response:
    """Anything else under /fhir answers an OperationOutcome, never a JSON-API problem."""
    raise FhirError(
        404,
        "not-supported",
        f"{request.method} /fhir/{path} is not supported; see /fhir/metadata",
    )
