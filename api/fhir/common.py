"""What every /fhir route shares: the FHIR media type, OperationOutcome errors,
the caller's identity, and the guide's identifier systems and profiles.

Errors under /fhir are never RFC 9457 problems: the SAS platform reads an
``OperationOutcome``. The app's global handlers would answer problem+json, so
every /fhir route runs inside :class:`FhirRoute`, which turns whatever escapes
the route (its dependencies included) into an OperationOutcome first.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from api.auth import bearer, current_actor
from api.deps import Ctx, DbSession
from api.problems import WITH_BODY, ProblemError, problem_responses
from snp.actors import Actor
from snp.booking import SlotTakenError
from snp.errors import ConflictError, DomainError, NotFoundError

FHIR_JSON = "application/fhir+json"
log = logging.getLogger("api.fhir")

# ----------------------------------------------------------------------------- systems

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"  # national identifiers of professionals (RPPS with "8")
FINESS = "urn:oid:1.2.250.1.71.4.2.2"  # structures (FINESS with "1")
SAS = "urn:oid:1.2.250.1.213.3.6"  # SAS technical ids of regulators without a national one
FR_V2_0203 = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
FR_LOCATION_ID_TYPE = "http://interopsante.org/fhir/CodeSystem/fr-location-identifier-type"
TYPE_CRENEAU = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
APPOINTMENT_REASON = "http://terminology.hl7.org/CodeSystem/v2-0276"
CATEGORIE_ETABLISSEMENT = (
    "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/TRE_R66-CategorieEtablissement"
)
SPECIALITE_ORDINALE = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
SLOT_SERVICE_TYPE_R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
APPOINTMENT_OPERATOR = "http://interopsante.org/fhir/StructureDefinition/FrAppointmentOperator"
# snp's own naming authority, for what the guide has no code for (no OID yet).
SNP = "https://snp.example.org/fhir"

# ----------------------------------------------------------------------------- profiles

_SAS_OLD = "http://sas.fr/fhir/StructureDefinition/"
_SAS_NEW = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"
PROFILE = {
    "bundle": _SAS_OLD + "BundleAgregateur",
    "bundle-cpts": _SAS_NEW + "sas-cpts-bundle-aggregator",
    "slot": _SAS_OLD + "FrSlotAgregateur",
    "slot-cpts": _SAS_NEW + "sas-cpts-slot-aggregator",
    "schedule": _SAS_OLD + "FrScheduleAgregateur",
    "practitioner": _SAS_OLD + "FrPractitionerAgregateur",
    "practitioner-role": _SAS_OLD + "FrPractitionerRoleExerciceAgregateur",
    "location": _SAS_OLD + "FrLocationAgregateur",
    "healthcare-service": _SAS_NEW + "sas-cpts-healthcareservice-aggregator",
    "organization": _SAS_NEW + "sas-cpts-organization-aggregator",
    # The guide's examples use this canonical (its validator page says sas.fr).
    "appointment": "http://interopsante.org/fhir/StructureDefinition/FrAppointmentSAS",
    "regulator": _SAS_NEW + "sas-practitioner-aggregator-regul",
}


def idnps_of_rpps(rpps: str) -> str:
    """The IDNPS form of an RPPS: the 11 digits prefixed by "8"."""
    return "8" + rpps


# ----------------------------------------------------------------------------- errors


class FhirError(Exception):
    """An error answered as an OperationOutcome; ``diagnostics`` says what to fix."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        expression: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = headers

    def response(self) -> Response:
        issue: dict[str, Any] = {
            "severity": "error",
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = [self.expression]
        outcome = OperationOutcome.model_validate(
            {"resourceType": "OperationOutcome", "issue": [issue]}
        )
        return fhir_response(outcome.model_dump_json(), self.status, self.headers)


def bad_request(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(400, "invalid", diagnostics, expression=expression)


def business_rule(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(422, "business-rule", diagnostics, expression=expression)


def fhir_response(
    body: str | bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(body, status, headers=headers, media_type=FHIR_JSON)


def _outcome_for(error: Exception) -> FhirError:
    """Map what the service and the framework raise onto the guide's status codes."""
    if isinstance(error, FhirError):
        return error
    if isinstance(error, SlotTakenError):
        return FhirError(
            409,
            "conflict",
            f"slot {error.slot_id} was taken by another booking meanwhile; search free slots "
            "again and book another one",
        )
    if isinstance(error, ConflictError):
        return FhirError(409, "conflict", f"{error}; read the resource again and retry")
    if isinstance(error, DomainError):
        return business_rule(f"{error.field}: {error.problem}. {error.fix}", error.field)
    if isinstance(error, NotFoundError):
        return FhirError(
            404, "not-found", f"{error.kind} {error.key} does not exist or is not visible to you"
        )
    if isinstance(error, PermissionError):
        return FhirError(403, "forbidden", str(error))
    if isinstance(error, IntegrityError):
        # Two requests with the same identifier raced; the loser retries and finds it.
        return FhirError(
            409, "conflict", "a concurrent request changed the same resource; send it again"
        )
    if isinstance(error, OperationalError) and "could not serialize" in str(error.orig):
        return FhirError(409, "transient", "a concurrent request interfered; send it again")
    if isinstance(error, OverflowError | DataError) or isinstance(
        getattr(error, "orig", None), OverflowError
    ):
        # A number beyond 64 bits or a date beyond years 1-9999 once in UTC: the
        # database or the driver refuses it; the input is wrong, not the server.
        return bad_request("a number or date in the request is out of the supported range")
    if isinstance(error, ProblemError):
        return FhirError(
            error.status,
            "login" if error.status == 401 else "forbidden",
            str(error.body.get("detail", error)),
            headers=error.headers,
        )
    if isinstance(error, RequestValidationError):
        return bad_request("; ".join(str(e.get("msg")) for e in error.errors()))
    if isinstance(error, HTTPException):
        return FhirError(error.status_code, "processing", str(error.detail))
    reference = uuid.uuid4().hex[:12]
    # The frames only: an exception's text may quote input.
    log.error(
        "unexpected FHIR error %s: %s\n%s",
        reference,
        type(error).__name__,
        "".join(traceback.format_tb(error.__traceback__)),
    )
    return FhirError(500, "exception", f"unexpected error; quote reference {reference}")


class OutcomeIssue(BaseModel):
    model_config = ConfigDict(title="OperationOutcomeIssue")

    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    diagnostics: str | None = None
    expression: list[str] | None = None


class OperationOutcomeOut(BaseModel):
    """The OperationOutcome of every /fhir error: the part of the R4 resource snp
    fills in (one issue saying what to fix). Documentation only: the answers are
    built by :class:`FhirError` with fhir.resources, whose own model would put the
    whole R4 type system in the OpenAPI document."""

    model_config = ConfigDict(title="OperationOutcome")

    resource_type: Literal["OperationOutcome"] = Field(alias="resourceType")
    issue: list[OutcomeIssue]


FHIR_ERROR_DESCRIPTIONS = {
    400: "The request is not a valid FHIR interaction (OperationOutcome says why)",
    401: "Missing or invalid bearer token (OperationOutcome, code login)",
    403: "Your role cannot do this (OperationOutcome, code forbidden)",
    404: "Not found, or not visible to you",
    409: "Conflict: the slot was taken or the resource changed meanwhile; search or read again",
    422: "A business rule of the SAS guide refuses the resource (OperationOutcome, "
    "code business-rule)",
}


def fhir_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for errors answered as OperationOutcome (application/fhir+json)."""
    return problem_responses(
        *statuses,
        model=OperationOutcomeOut,
        media_type=FHIR_JSON,
        descriptions=FHIR_ERROR_DESCRIPTIONS,
    )


def fhir_ok(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Success answers: FHIR resources as application/fhir+json."""
    return {status: {"content": {FHIR_JSON: {}}} for status in statuses}


class FhirRoute(APIRoute):
    """Every error of a /fhir route, from its dependencies too, as an OperationOutcome.

    Except two the request guard (api.middleware) answers before routing, for every
    path, as problem+json: 413 (body too large) and 415 (body not JSON). They are
    documented as what they are on the operations that take a body.
    """

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        if methods & WITH_BODY:
            kwargs["responses"] = problem_responses(413, 415) | dict(kwargs.get("responses") or {})
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:
                return _outcome_for(error).response()

        return fhir_handler


# ----------------------------------------------------------------------------- inputs


def fhir_actor(
    ctx: Ctx,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The JSON API's bearer authentication, reused as is (its 401 becomes an
    OperationOutcome in :class:`FhirRoute`)."""
    return current_actor(ctx, session, credentials)


FhirActor = Annotated[Actor, Depends(fhir_actor)]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


def parse_json(body: bytes, resource_type: str) -> dict[str, Any]:
    """The body as a JSON object of the expected resourceType, or a 400."""
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise bad_request(f"send one {resource_type} resource as a JSON object")
    if data.get("resourceType") != resource_type:
        raise bad_request(
            f"resourceType is {data.get('resourceType')!r}; this endpoint takes {resource_type}",
            "resourceType",
        )
    return data


def validation_diagnostics(error: Any) -> str:
    """pydantic's errors as 'path: message' for the OperationOutcome."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ())) or "(resource)"
        parts.append(f"{where}: {item.get('msg')}")
    return "invalid FHIR resource: " + "; ".join(parts[:10])


def base_url(request: Request) -> str:
    """[base] of the guide: this server's /fhir root, as the caller reached it."""
    return str(request.base_url).rstrip("/") + "/fhir"


def split_token(text: str, parameter: str) -> tuple[str, str]:
    """``system|value`` (FHIR token search) → (system, value); a bare value has no system."""
    system, bar, value = text.strip().partition("|")
    if not bar:
        system, value = "", system
    if not value.strip():
        raise bad_request(f"{parameter}: give system|value, got {text!r}", parameter)
    return system.strip(), value.strip()
