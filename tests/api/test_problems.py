"""Every 4xx is problem+json naming the wrong field and the fix; bad input never 500s."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import World, request_body


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    return body


def _fields(body: dict[str, Any]) -> set[str]:
    for error in body["errors"]:
        assert error["problem"] and error["fix"]
    return {e["field"] for e in body["errors"]}


def test_unknown_field_is_named(world: World) -> None:
    body = _problem(world.post("a.operator", "/requests", request_body(priorty="same_day")), 422)
    assert "priorty" in _fields(body)
    nested = request_body(location={"insee_code": "78646", "altitude": 3})
    assert "location.altitude" in _fields(
        _problem(world.post("a.operator", "/requests", nested), 422)
    )


def test_missing_and_mistyped_fields(world: World) -> None:
    body = _problem(world.post("a.operator", "/requests", {"profession": "x" * 3}), 422)
    assert {"priority", "location"} <= _fields(body)
    body = _problem(world.post("a.operator", "/requests/abc/holds", {"slot_id": "one"}), 422)
    assert {"request_id", "slot_id"} <= _fields(body)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"priority": "whenever"}, "priority"),
        ({"profession": "plombier"}, "profession"),
        ({"location": {"insee_code": "99999"}}, "location.insee_code"),
        ({"location": {"lat": 48.8}}, "location"),
        ({"earliest": "2026-11-26T10:00:00"}, "earliest"),
        ({"modalities": []}, "modalities"),
        ({"modalities": ["by_pigeon"]}, "modalities.0"),
        ({"radius_km": -1}, "radius_km"),
        ({"medecin_traitant_rpps": "123"}, "medecin_traitant_rpps"),
        ({"patient": {"display_name": " ", "phone": "call me"}}, "patient.display_name"),
        ({"profession": 10**30}, "profession"),
    ],
)
def test_domain_and_schema_errors_name_the_field(
    world: World, change: dict[str, Any], field: str
) -> None:
    body = _problem(world.post("a.operator", "/requests", request_body(**change)), 422)
    assert field in _fields(body)


def test_malformed_json_wrong_type_and_size(world: World) -> None:
    headers = world.as_("a.operator")
    r = world.client.post(
        "/requests",
        content=b'{"profession": 10,',
        headers=headers | {"Content-Type": "application/json"},
    )
    _problem(r, 422)
    r = world.client.post(
        "/requests",
        content=b"profession=10",
        headers=headers | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "Content-Type" in _fields(_problem(r, 415))
    r = world.client.post(
        "/requests",
        content=b"[" + b"1," * 40_000 + b"1]",
        headers=headers | {"Content-Type": "application/json"},
    )
    _problem(r, 413)
    r = world.client.post("/requests", json=[1, 2], headers=headers)
    _problem(r, 422)


def test_unknown_route_and_method(world: World) -> None:
    _problem(world.client.get("/nowhere"), 404)
    _problem(world.client.delete("/requests", headers=world.as_("a.operator")), 405)


def test_unexpected_errors_are_500_problems_without_internals(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: Zoé Secretname")

    with TestClient(app, raise_server_exceptions=False) as client:
        body = _problem(client.get("/boom"), 500)
    assert "Secretname" not in str(body) and "reference" in body["detail"]


def test_openapi_has_an_example_for_every_request_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media["schema"].get("$ref") or next(
                    (s["$ref"] for s in media["schema"].get("anyOf", []) if "$ref" in s), None
                )
                schema = schemas[ref.rsplit("/", 1)[1]] if ref else media["schema"]
                if not (schema.get("examples") or media.get("examples") or media.get("example")):
                    missing.append(f"{method.upper()} {path}")
            assert "security" in operation or path in ("/healthz", "/fhir/metadata"), (
                f"{method} {path} unsecured"
            )
    assert missing == []


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_openapi_documents_every_error_with_its_media_type_and_schema(
    client: TestClient,
) -> None:
    """What schemathesis checks at length (tests/reliability), pinned here cheaply:
    a secured operation documents 401 and 403 (not /console/api/me: any role may
    call it), an operation taking a body documents 413 and 415, and every error is
    documented under the media type it is sent with and with that document's schema
    (problem+json, or an OperationOutcome under /fhir), never as application/json."""
    document = client.get("/openapi.json").json()
    wrong = []
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        expected = set()
        if "security" in operation:
            expected |= {"401"} if path == "/console/api/me" else {"401", "403"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        if method in ("POST", "PUT", "PATCH"):
            expected |= {"413", "415"}
        if missing := expected - set(responses):
            wrong.append(f"{method} {path}: {sorted(missing)} not documented")
        for status, response in responses.items():
            if not status.startswith("4"):
                continue
            content = response.get("content", {})
            fhir = path.startswith("/fhir") and status not in ("413", "415")
            media, schema = (
                ("application/fhir+json", "OperationOutcomeOut")
                if fhir
                else ("application/problem+json", "ProblemOut")
            )
            refs = str(content.get(media, {}).get("schema"))
            if set(content) != {media} or schema not in refs:
                wrong.append(f"{method} {path} {status}: {content}")
    assert wrong == []
    assert "HTTPValidationError" not in str(document)


def test_self_deactivation_is_refused(world: World) -> None:
    """An admin cannot lock themselves out (the last admin would lock everyone out)."""
    me = world.get("admin", "/console/api/me").json()["user_id"]
    answer = world.client.patch(f"/users/{me}", json={"active": False}, headers=world.as_("admin"))
    body = _problem(answer, 422)
    assert _fields(body) == {"active"}
    assert world.get("admin", "/users").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/slots?day=0001-01-01",
        "/slots?day=9999-12-31",
        "/orientations?day=0001-01-01",
        "/orientations?day=9999-12-31",
    ],
)
def test_days_out_of_range_are_422_not_500(world: World, path: str) -> None:
    """Year 1 or 9999 overflowed when placed in UTC (schemathesis found the 500s)."""
    who = "a.professional" if path.startswith("/slots") else "a.operator"
    assert _fields(_problem(world.get(who, path), 422)) == {"day"}


@pytest.mark.parametrize("appointment_id", ["99999999999999999999999999", "²", "00012"])
def test_fhir_appointment_ids_beyond_the_database_are_404(
    world: World, appointment_id: str
) -> None:
    r = world.get("a.regulator", f"/fhir/Appointment/{appointment_id}")
    assert r.status_code == 404, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


def test_plage_times_with_an_offset_are_422_not_500(world: World) -> None:
    """A weekly plage is local clock time; "00:01:00+00:00" was a 500 (schemathesis)."""
    body = {"weekday": 1, "start": "09:00:00+00:00", "end": "12:00", "valid_from": "2026-11-24"}
    assert _fields(_problem(world.post("a.professional", "/plages", body), 422)) == {"start"}
