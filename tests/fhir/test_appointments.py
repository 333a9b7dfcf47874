# mypy: disable-error-code="index, union-attr"
# (FHIR models make every element optional; the tests read the ones they just checked.)
"""Appointments (INT_R03), regulator accounts (INT_R02), metadata and errors."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.practitioner import Practitioner
from sqlalchemy import func, select

from snp.orm import CareRequestRow, OrientationRow, PatientContactRow, SlotRow
from tests.fhir.conftest import RPPS, T0, World, appointment_body, bundle_of, resources, slot_query

START = T0 + timedelta(hours=1)  # slot a[0]
CONDITIONAL = (
    "/fhir/Appointment?identifier=urn:oid:1.1.111.1.11.1.1.1|b6e39355-8a61-4556-b340-36f7b95fec6a"
)


def outcome(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    parsed = OperationOutcome.model_validate_json(response.text)
    return str(parsed.issue[0].diagnostics)


def taken(world: World, slot_id: int) -> int:
    with world.engine.connect() as conn:
        return int(conn.scalar(select(SlotRow.taken).where(SlotRow.id == slot_id)) or 0)


def test_create_books_the_slot_and_answers_201_with_location(world: World) -> None:
    response = world.send(
        "POST", "a.regulator", "/fhir/Appointment", appointment_body(RPPS["a"], START)
    )
    assert response.status_code == 201, response.text
    appointment = Appointment.model_validate_json(response.text)
    assert response.headers["location"].endswith(f"/fhir/Appointment/{appointment.id}")
    assert appointment.status == "booked"
    assert appointment.participant[0].actor.identifier.value == "8" + RPPS["a"]
    assert appointment.extension[0].valueReference.identifier.type.coding[0].code == "INTRN"
    assert taken(world, world.slots["a"][0]) == 1
    read = world.get("a.regulator", f"/fhir/Appointment/{appointment.id}")
    assert (
        Appointment.model_validate_json(read.text).identifier[0].value
        == appointment.identifier[0].value
    )
    # the slot is no longer free
    ids = {
        int(s.id) for s in resources(bundle_of(world.get("a.regulator", slot_query("a"))), "Slot")
    }
    assert world.slots["a"][0] not in ids
    # no patient data is stored for a SAS appointment
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PatientContactRow)) == 0
        assert conn.scalar(select(CareRequestRow.origin)) == "sas"


def test_regulator_books_a_slot_of_another_cpts_of_its_departement(world: World) -> None:
    response = world.send(
        "POST", "a.regulator", "/fhir/Appointment", appointment_body(RPPS["b"], START)
    )
    assert response.status_code == 201, response.text
    with world.engine.connect() as conn:
        assert conn.scalar(select(OrientationRow.cpts_id)) == world.cpts["b"]


def test_slot_of_another_departement_is_a_422(world: World) -> None:
    response = world.send(
        "POST", "a.regulator", "/fhir/Appointment", appointment_body(RPPS["c"], START)
    )
    assert "search free slots" in outcome(response, 422)


def test_conditional_update_is_idempotent_and_moves_the_lifecycle(world: World) -> None:
    body = appointment_body(RPPS["a"], START)
    created = world.send("PUT", "a.regulator", CONDITIONAL, body)
    assert created.status_code == 201, created.text  # unknown identifier: behaves as a create
    again = world.send("PUT", "a.regulator", CONDITIONAL, body)
    assert again.status_code == 200 and again.json()["meta"] == created.json()["meta"]
    for status in ("fulfilled", "fulfilled", "noshow", "noshow"):
        response = world.send(
            "PUT", "a.regulator", CONDITIONAL, appointment_body(RPPS["a"], START, status=status)
        )
        assert response.status_code == 200, response.text
        assert Appointment.model_validate_json(response.text).status == status
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OrientationRow)) == 1


def test_cancel_frees_the_place_once(world: World) -> None:
    assert (
        world.send(
            "PUT", "a.regulator", CONDITIONAL, appointment_body(RPPS["a"], START)
        ).status_code
        == 201
    )
    for _ in range(2):
        response = world.send(
            "PUT",
            "a.regulator",
            CONDITIONAL,
            appointment_body(RPPS["a"], START, status="cancelled"),
        )
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert taken(world, world.slots["a"][0]) == 0
    rebook = world.send("PUT", "a.regulator", CONDITIONAL, appointment_body(RPPS["a"], START))
    assert "cannot be booked again" in outcome(rebook, 422)


def test_post_replay_of_the_same_identifier_does_not_book_twice(world: World) -> None:
    body = appointment_body(RPPS["a"], START)
    assert world.send("POST", "a.regulator", "/fhir/Appointment", body).status_code == 201
    assert world.send("POST", "a.regulator", "/fhir/Appointment", body).status_code == 200
    assert taken(world, world.slots["a"][0]) == 1


def test_a_taken_slot_is_a_409(world: World) -> None:
    assert (
        world.send(
            "POST", "a.regulator", "/fhir/Appointment", appointment_body(RPPS["a"], START)
        ).status_code
        == 201
    )
    other = appointment_body(RPPS["a"], START, ident="another-appointment")
    assert "taken" in outcome(world.send("POST", "b.regulator", "/fhir/Appointment", other), 409)


def test_concurrent_fhir_and_json_bookings_never_double_book(world: World) -> None:
    """The FHIR create and the JSON API's hold race for the last place of one slot."""
    from snp import orienting
    from snp.actors import Actor, Role
    from snp.care_requests import PatientLocation
    from snp.db import make_session_factory, transaction
    from snp.intake import IntakeForm
    from snp.modalities import Modality, Origin
    from snp.professions import Profession

    factory = make_session_factory(world.engine)
    operator = Actor(user_id=999, name="op", role=Role.OPERATOR, cpts_id=world.cpts["a"])
    with transaction(factory) as session:
        form = IntakeForm(
            "a",
            Origin.CPTS,
            Profession.MEDECIN,
            "same_day",
            PatientLocation(None, 48.80, 2.12),
            frozenset({Modality.IN_PERSON}),
            radius_km=10.0,
        )
        request_id = orienting.receive_request(session, operator, form, None, T0, _directory()).id
    results: list[str] = []
    barrier = threading.Barrier(2)

    def fhir() -> None:
        barrier.wait()
        response = world.send(
            "POST", "a.regulator", "/fhir/Appointment", appointment_body(RPPS["a"], START)
        )
        results.append(f"fhir:{response.status_code}")

    def json_api() -> None:
        barrier.wait()
        try:
            with transaction(factory) as session:
                held = orienting.hold_slot(session, operator, request_id, world.slots["a"][0], T0)
                orienting.book(session, operator, held.id, T0)
            results.append("json:ok")
        except Exception as error:  # the loser sees SlotTakenError
            results.append(f"json:{type(error).__name__}")

    threads = [threading.Thread(target=fhir), threading.Thread(target=json_api)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) in (["fhir:201", "json:SlotTakenError"], ["fhir:409", "json:ok"]), (
        results
    )
    assert taken(world, world.slots["a"][0]) == 1


def _directory() -> Any:
    from api.fhir.appointments import _NO_COMMUNES

    return _NO_COMMUNES


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


@pytest.mark.parametrize(
    ("mutate", "fix"),
    [
        (lambda b: b | {"resourceType": "Patient"}, "resourceType"),
        (lambda b: _without(b, "identifier"), "identifier"),
        (lambda b: _without(b, "extension"), "appointmentOperator"),
        (lambda b: _without(b, "participant"), "participant"),
        (lambda b: _without(b, "status"), "status"),
        (lambda b: b | {"status": "bogus"}, "not an AppointmentStatus code"),
        (lambda b: b | {"start": "tomorrow"}, "start"),
        (
            lambda b: (
                b
                | {
                    "participant": [
                        {
                            "actor": {"identifier": {"system": "urn:x", "value": "1"}},
                            "status": "accepted",
                        }
                    ]
                }
            ),
            "urn:oid:1.2.250.1.71.4.2.1",
        ),
    ],
)
def test_bad_fhir_is_a_400_operation_outcome(world: World, mutate: Any, fix: str) -> None:
    body = mutate(appointment_body(RPPS["a"], START))
    assert fix in outcome(world.send("POST", "a.regulator", "/fhir/Appointment", body), 400)


def test_malformed_json_and_non_objects_are_400(world: World) -> None:
    headers = world.tokens["a.regulator"] | {"Content-Type": "application/fhir+json"}
    assert "JSON" in outcome(
        world.client.post("/fhir/Appointment", content=b"{nope", headers=headers), 400
    )
    assert "JSON object" in outcome(
        world.client.post("/fhir/Appointment", content=b"[]", headers=headers), 400
    )


@pytest.mark.parametrize(
    ("body", "fix"),
    [
        (appointment_body(RPPS["a"], START, status="pending"), "not used by the SAS"),
        (appointment_body(RPPS["a"], START, status="fulfilled"), "must be booked"),
        (appointment_body(RPPS["a"], START + timedelta(minutes=7)), "search free slots"),
        (appointment_body(RPPS["a"], START, minutes=30), "ends at"),
        (appointment_body("99999999999", START), "search free slots"),
    ],
)
def test_business_rules_are_422(world: World, body: dict[str, Any], fix: str) -> None:
    assert fix in outcome(world.send("POST", "a.regulator", "/fhir/Appointment", body), 422)


def test_unknown_fhir_path_is_an_operation_outcome(world: World) -> None:
    outcome(world.get("a.regulator", "/fhir/Patient"), 404)
    outcome(world.get("a.regulator", "/fhir/Appointment/999"), 404)


def test_metadata_is_a_capability_statement(world: World) -> None:
    response = world.client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = CapabilityStatement.model_validate_json(response.text)
    assert statement.fhirVersion == "4.0.1"
    kinds = {r.type: r for r in statement.rest[0].resource}
    assert {"Slot", "Appointment", "Practitioner"} <= set(kinds)
    assert kinds["Appointment"].conditionalUpdate is True


# ----------------------------------------------------------------------------- regulators


def regulator(
    active: bool = True, *, national: bool = False, family: str = "Loridon"
) -> dict[str, Any]:
    identifiers = [
        {
            "type": {
                "coding": [
                    {
                        "system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
                        "code": "INTRN",
                    }
                ]
            },
            "system": "urn:oid:1.2.250.1.213.3.6",
            "value": "4f2e0c3a-1111-4a4a-9b9b-0123456789ab",
        }
    ]
    if national:
        identifiers.append(
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
                            "code": "IDNPS",
                        }
                    ]
                },
                "system": "urn:oid:1.2.250.1.71.4.2.1",
                "value": "3456780581/11242343",
            }
        )
    return {
        "resourceType": "Practitioner",
        "meta": {"source": "urn:oid:1.2.250.1.213.3.6"},
        "identifier": identifiers,
        "active": active,
        "name": [{"family": family, "given": ["Sébastien"]}],
        "telecom": [{"system": "email", "value": "sebastien.loridon@test.com"}],
    }


REGULATOR_BY_SAS_ID = (
    "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.213.3.6|4f2e0c3a-1111-4a4a-9b9b-0123456789ab"
)


def test_regulator_accounts_create_update_disable(world: World) -> None:
    created = world.send("POST", "a.regulator", "/fhir/Practitioner", regulator())
    assert created.status_code == 201, created.text
    practitioner = Practitioner.model_validate_json(created.text)
    assert created.headers["location"].endswith(f"/Practitioner/{practitioner.id}")
    same = world.send("PUT", "a.regulator", REGULATOR_BY_SAS_ID, regulator())
    assert same.status_code == 200 and same.json()["meta"] == created.json()["meta"]
    linked = world.send("PUT", "a.regulator", REGULATOR_BY_SAS_ID, regulator(national=True))
    assert {i.system for i in Practitioner.model_validate_json(linked.text).identifier} == {
        "urn:oid:1.2.250.1.213.3.6",
        "urn:oid:1.2.250.1.71.4.2.1",
    }
    disabled = world.send(
        "PUT", "a.regulator", REGULATOR_BY_SAS_ID, regulator(active=False, national=True)
    )
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    from snp.orm import FhirRegulatorRow, UserRow

    with world.engine.connect() as conn:
        user_active = conn.scalar(
            select(UserRow.active).join(FhirRegulatorRow, FhirRegulatorRow.user_id == UserRow.id)
        )
    assert user_active is False


def test_unknown_regulator_put_creates(world: World) -> None:
    assert world.send("PUT", "a.regulator", REGULATOR_BY_SAS_ID, regulator()).status_code == 201


@pytest.mark.parametrize(
    ("mutate", "fix"),
    [
        (lambda b: _without(b, "active"), "active"),
        (lambda b: _without(b, "name"), "name"),
        (lambda b: b | {"identifier": [{"system": "urn:x", "value": "1"}]}, "identifier"),
        (lambda b: b | {"resourceType": "Appointment"}, "resourceType"),
        (lambda b: b | {"active": "maybe"}, "active"),
    ],
)
def test_bad_regulator_is_400(world: World, mutate: Any, fix: str) -> None:
    assert fix in outcome(
        world.send("POST", "a.regulator", "/fhir/Practitioner", mutate(regulator())), 400
    )


def test_operators_cannot_manage_regulators(world: World) -> None:
    outcome(world.send("POST", "a.operator", "/fhir/Practitioner", regulator()), 403)


def test_a_fhir_booking_shows_in_the_trace_and_the_ledger(world: World) -> None:
    from datetime import date

    from sqlalchemy.orm import Session

    from snp.compensation import add_rule_version, ledger_balances, parse_rules
    from snp.orm import AuditEventRow

    with Session(world.engine) as s, s.begin():
        rules = parse_rules([{"kind": "per_consultation", "amount_cents": 2500}])
        add_rule_version(s, world.cpts["a"], date(2026, 1, 1), rules, at=T0 - timedelta(days=1))
    created = world.send("PUT", "a.regulator", CONDITIONAL, appointment_body(RPPS["a"], START))
    assert created.status_code == 201, created.text
    done = world.send(
        "PUT", "a.regulator", CONDITIONAL, appointment_body(RPPS["a"], START, status="fulfilled")
    )
    assert done.status_code == 200, done.text
    with Session(world.engine) as s:
        kinds = s.scalars(
            select(AuditEventRow.kind)
            .where(AuditEventRow.cpts_id == world.cpts["a"])
            .order_by(AuditEventRow.seq)
        ).all()
        assert {"request_received", "held", "booked", "outcome_recorded"} <= set(kinds)
        assert sum(ledger_balances(s, world.cpts["a"]).values()) == 2500
