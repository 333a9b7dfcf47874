"""RFC 9457 problem details for every error the API returns.

Each 4xx names the field at fault and how to fix it, in ``errors: [{field,
problem, fix}]``, so a caller (or the web console) can show it next to the
input. A 500 says only that something went wrong and gives a reference; the
details stay in the server log, never in the response.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas.common import ProblemOut
from snp.booking import SlotTakenError
from snp.errors import ConflictError, DomainError, NotFoundError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://snp.example.org/problems/"
log = logging.getLogger("api.problems")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[dict[str, str]] = (),
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = list(errors)
    body.update(extra)
    return body


class ProblemError(Exception):
    """Raised by routes and dependencies to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        errors: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = problem_body(status, slug, title, detail, errors, **extra)
        self.headers = headers

    def response(self, request: Request) -> ProblemResponse:
        return ProblemResponse(
            self.body | {"instance": request.url.path}, self.status, headers=self.headers
        )


def field_error(field: str, problem: str, fix: str) -> dict[str, str]:
    return {"field": field, "problem": problem, "fix": fix}


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "forbidden", "Forbidden", detail)


def not_found(kind: str, key: object) -> ProblemError:
    return ProblemError(
        404,
        "not-found",
        "Not found",
        f"{kind} {key} does not exist or is not visible to your CPTS",
    )


def invalid(field: str, problem: str, fix: str) -> ProblemError:
    return ProblemError(
        422,
        "invalid-input",
        "Invalid input",
        f"{field}: {problem}",
        [field_error(field, problem, fix)],
    )


# ----------------------------------------------------------------------------- documentation

# What each error status means, as the OpenAPI document says it. One wording for the
# whole API, so the same status reads the same on every operation.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be parsed (not UTF-8 JSON)",
    401: "Missing or invalid bearer token, or the user was deactivated",
    403: "Your role cannot do this",
    404: "Not found, or not visible to your CPTS",
    409: "The object changed meanwhile (a concurrent change, an expired hold): read it again",
    413: "The body is larger than the server accepts (64 kB)",
    415: "The body is not JSON (Content-Type must be application/json or a +json type)",
    422: "Invalid input: each wrong field is named with the fix",
}
# Statuses the request guard (api.middleware) and the body parser can answer on any
# operation that takes a body, before the route runs: added by ProblemRoute.
BODY_ERRORS = (400, 413, 415)
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def problem_responses(
    *statuses: int,
    model: Any = ProblemOut,
    media_type: str = PROBLEM_JSON,
    descriptions: dict[int, str] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for error statuses answered as problem+json (or, with
    ``model`` and ``media_type``, as another error document: FHIR's OperationOutcome).

    FastAPI files a response ``model`` under the route's own media type
    (application/json); :func:`install` moves it under application/problem+json,
    the one these answers really carry (see :func:`_fix_media_types`).
    """
    return {
        status: {
            "model": model,
            "content": {media_type: {}},
            "description": (descriptions or {}).get(status, ERROR_DESCRIPTIONS[status]),
        }
        for status in statuses
    }


class ProblemRoute(APIRoute):
    """Documents the errors the guard answers before any route runs: an operation
    taking a body may get 413 (too large) and 415 (not JSON) whether or not it
    reads one, and 400 (unparsable) when it does."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        given = dict(kwargs.get("responses") or {})
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        if methods & WITH_BODY:
            kwargs["responses"] = problem_responses(*BODY_ERRORS) | given
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is None and 400 not in given:
            # No body parameter: FastAPI never parses one, so never answers 400.
            self.responses.pop(400, None)
            self.response_fields.pop(400, None)


def _fix_media_types(schema: dict[str, Any]) -> None:
    """Put each response's schema under the media type the response really has.

    FastAPI documents an additional response's model (and a plain Response's empty
    schema) under application/json even when the response declares another media
    type: an error's ProblemOut would sit under application/json, never sent, and
    application/problem+json would be documented without a schema, so nothing
    would check the bodies. When a response declares exactly one other media type
    without a schema, that one gets the schema and application/json goes.
    """
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                content = response.get("content") or {}
                bare = [m for m, v in content.items() if m != "application/json" and not v]
                if "application/json" in content and len(bare) == 1:
                    content[bare[0]] = content.pop("application/json")


def _drop_framework_422(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 HTTPValidationError on every operation with parameters
    that does not declare its own 422; this app never sends that shape (invalid input
    is a problem+json 422, or under /fhir an OperationOutcome 400), so it goes."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
    components = schema.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


def _document(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _fix_media_types(schema)
            _drop_framework_422(schema)
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]


# Hints for the pydantic error types callers meet most; others fall back on the message.
_FIXES = {
    "missing": "Add this field; it is required.",
    "extra_forbidden": "Remove this field: it is not in the schema (see the OpenAPI document).",
    "json_invalid": "Send a well-formed JSON document.",
    "int_parsing": "Give a whole number.",
    "int_type": "Give a whole number.",
    "float_parsing": "Give a number.",
    "bool_parsing": "Give true or false.",
    "string_type": "Give a string.",
    "enum": "Use one of the values listed in the message.",
    "literal_error": "Use one of the values listed in the message.",
    "datetime_parsing": "Give an ISO 8601 date-time with an offset: 2026-11-26T09:00:00+01:00.",
    "datetime_from_date_parsing": "Give an ISO 8601 date-time with an offset.",
    "timezone_aware": "Add the time zone offset, like +01:00 or Z.",
    "date_parsing": "Give a date like 2026-11-26.",
    "time_parsing": "Give a time like 09:00.",
    "greater_than": "Give a larger value.",
    "greater_than_equal": "Give a larger value.",
    "less_than": "Give a smaller value.",
    "less_than_equal": "Give a smaller value.",
    "string_too_short": "Give a longer value.",
    "string_too_long": "Give a shorter value.",
    "string_pattern_mismatch": "Follow the pattern given in the message.",
    "model_attributes_type": "Send a JSON object.",
    "dict_type": "Send a JSON object.",
    "list_type": "Send a JSON array.",
}


def _loc(loc: Sequence[str | int]) -> str:
    # "body" is where, not what: callers know their fields by name.
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    found = []
    for error in errors:
        kind = str(error.get("type", ""))
        message = str(error.get("msg", "invalid"))
        if kind == "value_error" and message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        fix = _FIXES.get(kind, "Correct the value as the message says.")
        found.append(field_error(_loc(error.get("loc", ())), message, fix))
    return found


def install(app: FastAPI) -> None:
    """Route every error the app can meet to a problem document, and document
    error responses under the media type they are sent with."""
    _document(app)

    @app.exception_handler(ProblemError)
    def _problem(request: Request, exc: ProblemError) -> ProblemResponse:
        return exc.response(request)

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = validation_errors(exc.errors())
        fields = ", ".join(e["field"] for e in errors)
        return ProblemError(
            422, "invalid-input", "Invalid input", f"invalid field(s): {fields}", errors
        ).response(request)

    @app.exception_handler(DomainError)
    def _domain(request: Request, exc: DomainError) -> ProblemResponse:
        return invalid(exc.field, exc.problem, exc.fix).response(request)

    @app.exception_handler(NotFoundError)
    def _not_found(request: Request, exc: NotFoundError) -> ProblemResponse:
        return not_found(exc.kind, exc.key).response(request)

    @app.exception_handler(SlotTakenError)
    def _slot_taken(request: Request, exc: SlotTakenError) -> ProblemResponse:
        # Routes that know the request attach next proposals themselves (see
        # api.routers.orientations); this is the fallback for the others.
        return ProblemError(
            409,
            "slot-taken",
            "Slot taken",
            str(exc),
            slot_id=exc.slot_id,
            next_proposals=[],
        ).response(request)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    def _overflow(request: Request, exc: Exception) -> ProblemResponse:
        # An id or number beyond 64 bits passes int validation, then the database
        # refuses it (SQLite: OverflowError; PostgreSQL: DataError "bigint out of
        # range"): the input is wrong, not the server.
        return invalid(
            "id", "a number is beyond the 64-bit range", "Use ids and numbers below 2**63."
        ).response(request)

    @app.exception_handler(StatementError)
    def _statement(request: Request, exc: Exception) -> ProblemResponse:
        # A value the driver cannot convert (a day whose UTC time falls outside
        # years 1-9999) comes wrapped: it is the input's fault. Anything else
        # wrapped is unexpected.
        if isinstance(getattr(exc, "orig", None), OverflowError):
            return invalid(
                "query", "a value is out of the supported range", "Give dates in 2000-2099."
            ).response(request)
        return _unexpected(request, exc)

    @app.exception_handler(ConflictError)
    def _conflict(request: Request, exc: ConflictError) -> ProblemResponse:
        return ProblemError(409, "conflict", "Conflict", str(exc)).response(request)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        titles = {
            400: "Bad request",
            401: "Unauthorized",
            404: "Not found",
            405: "Method not allowed",
        }
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; see /docs"
        headers = dict(exc.headers) if exc.headers else None
        return ProblemResponse(
            problem_body(
                exc.status_code,
                f"http-{exc.status_code}",
                titles.get(exc.status_code, "Error"),
                detail,
                instance=request.url.path,
            ),
            exc.status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
        reference = uuid.uuid4().hex[:12]
        # The frames help us; the exception's text may quote input (a database
        # error lists its parameters, patient contact included), so neither the
        # log nor the response gets it: only the type, the frames, a reference.
        log.error(
            "unexpected error %s on %s %s: %s\n%s",
            reference,
            request.method,
            request.url.path,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return ProblemResponse(
            problem_body(
                500,
                "internal",
                "Internal error",
                f"an unexpected error occurred; quote reference {reference}",
                instance=request.url.path,
            ),
            500,
        )
