# mypy: disable-error-code="index, union-attr"
# (FHIR models make every element optional; the tests read the ones they just checked.)
"""Slot search (INT_R01 / INT_R04) with every documented parameter combination."""

from __future__ import annotations

import pytest

from tests.fhir.conftest import IDNPS, RPPS, World, bundle_of, resources, slot_query

TYPE_CRENEAU = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"


def test_individual_search_answers_a_searchset_with_slots_schedules_and_actors(
    world: World,
) -> None:
    response = world.get("a.regulator", slot_query("a"))
    bundle = bundle_of(response)
    slots = resources(bundle, "Slot")
    assert bundle.total == len(slots) == 4
    assert bundle.meta.profile == ["http://sas.fr/fhir/StructureDefinition/BundleAgregateur"]
    assert bundle.link[0].relation == "self"
    assert {s.meta.profile[0] for s in slots} == {
        "http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur"
    }
    # SNP only in the individual flow (its value set has no CPTS code)
    assert {c.code for s in slots for c in s.meta.security} == {"SNP"}
    assert {c.system for s in slots for c in s.meta.security} == {TYPE_CRENEAU}
    assert [s.serviceType[0].coding[0].code for s in slots] == ["AMB", "HH", "VR", "AMB"]
    assert {s.appointmentType.coding[0].code for s in slots} == {"ROUTINE"}
    assert {s.status for s in slots} == {"free"}
    assert slots[0].specialty[0].coding[0].code == "SM54"
    extensions = {e.url.rsplit("/", 1)[1]: e.valueInteger for e in slots[0].extension}
    assert extensions == {"slot-places-left": 1, "slot-surnumeraire": 1}
    assert slots[0].start.isoformat() == "2026-11-26T10:00:00+01:00"
    (schedule,) = resources(bundle, "Schedule")
    assert slots[0].schedule.reference == f"Schedule/{schedule.id}"
    (practitioner,) = resources(bundle, "Practitioner")
    assert practitioner.identifier[0].system == IDNPS
    assert practitioner.identifier[0].value == "8" + RPPS["a"]
    assert practitioner.identifier[0].type.coding[0].code == "IDNPS"
    (role,) = resources(bundle, "PractitionerRole")
    assert {a.reference for a in schedule.actor} == {
        f"Practitioner/{practitioner.id}",
        f"PractitionerRole/{role.id}",
    }
    assert role.contained[0].get_resource_type() == "Location"
    assert role.location[0].reference == "#site"
    assert not resources(bundle, "HealthcareService")
    modes = {e.resource.get_resource_type(): e.search.mode for e in bundle.entry}
    assert modes["Slot"] == "match" and modes["Schedule"] == "include"


def test_cpts_search_adds_healthcare_service_604_and_organization_with_finess(world: World) -> None:
    bundle = bundle_of(world.get("a.regulator", slot_query("a", "b", cpts=True)))
    slots = resources(bundle, "Slot")
    assert bundle.total == 8
    assert bundle.meta.profile == [
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-bundle-aggregator"
    ]
    # open slots are SNP and CPTS; the SAS-reserved ones SNP only
    codes = [sorted(c.code for c in s.meta.security) for s in slots]
    assert codes.count(["CPTS", "SNP"]) == 6 and codes.count(["SNP"]) == 2
    services = {h.id: h for h in resources(bundle, "HealthcareService")}
    organizations = {o.id: o for o in resources(bundle, "Organization")}
    assert len(services) == len(organizations) == 2
    for slot in slots:
        ref = slot.serviceType[1]
        assert ref.coding[0].code == "604"
        assert (
            ref.extension[0].url
            == "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
        )
        service = services[ref.extension[0].valueReference.reference.split("/")[1]]
        assert service.providedBy.reference.split("/")[1] in organizations
    finess = [
        o.identifier[0]
        for o in organizations.values()
        if o.identifier[0].system == "urn:oid:1.2.250.1.71.4.2.2"
    ]
    assert [(f.value, f.type.coding[0].code) for f in finess] == [("1780000001", "IDNST")]


@pytest.mark.parametrize(
    ("includes", "expected"),
    [
        ("", {"Slot"}),
        ("&_include=Slot:schedule", {"Slot", "Schedule"}),
        (
            "&_include=Slot:schedule&_include:iterate=Schedule:actor",
            {"Slot", "Schedule", "Practitioner", "PractitionerRole"},
        ),
        ("&_include=Slot:service-type-reference", {"Slot", "HealthcareService"}),
        (
            "&_include=Slot:service-type-reference&_include:iterate=HealthcareService:organization",
            {"Slot", "HealthcareService", "Organization"},
        ),
    ],
)
def test_each_include_combination(world: World, includes: str, expected: set[str]) -> None:
    query = f"/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier={IDNPS}|8{RPPS['a']}&status=free{includes}"
    bundle = bundle_of(world.get("a.regulator", query))
    assert {e.resource.get_resource_type() for e in bundle.entry} == expected


def test_empty_result_is_200_with_total_0(world: World) -> None:
    bundle = bundle_of(
        world.get(
            "a.regulator",
            slot_query("a", start="ge2026-12-10T00:00:00Z", end="le2026-12-11T00:00:00Z"),
        )
    )
    assert bundle.total == 0 and not bundle.entry
    unknown = f"/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier={IDNPS}|899999999999&status=free"
    assert bundle_of(world.get("a.regulator", unknown)).total == 0


def test_unencoded_plus_offsets_and_dates_without_zone_are_understood(world: World) -> None:
    # '+' sent raw becomes a space; the kit also sends "+00" and zone-less times
    ids = f"{IDNPS}|8{RPPS['a']}, {IDNPS}|8{RPPS['b']}"
    for start, end in [
        ("ge2026-11-26T09:00:00.000+01:00", "le2026-11-26T12:00:00.000+01:00"),
        ("ge2026-11-26T08:00:00.000+00", "le2026-11-26T11:00:00.000+00"),
        ("ge2026-11-26T09:00:00", "le2026-11-26T12:00:00"),
    ]:
        query = f"/fhir/Slot?start={start}&start={end}&schedule.actor:Practitioner.identifier={ids}&status=free"
        assert bundle_of(world.get("a.regulator", query)).total == 6, (start, end)


def test_taken_cancelled_and_past_slots_are_not_free(world: World, clock: object) -> None:
    from sqlalchemy import update

    from snp.orm import SlotRow

    with world.engine.begin() as conn:
        conn.execute(update(SlotRow).where(SlotRow.id == world.slots["a"][0]).values(taken=1))
        conn.execute(
            update(SlotRow).where(SlotRow.id == world.slots["a"][1]).values(cancelled=True)
        )
    bundle = bundle_of(world.get("a.regulator", slot_query("a")))
    assert sorted(int(s.id) for s in resources(bundle, "Slot")) == world.slots["a"][2:]


@pytest.mark.parametrize(
    ("query", "fix"),
    [
        (
            "/fhir/Slot?start=ge2026-11-26&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000009&status=free",
            "start",
        ),
        ("/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&status=free", "1 to 25"),
        (
            "/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000009",
            "status=free",
        ),
        (
            "/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000009&status=busy",
            "status=free",
        ),
        (
            "/fhir/Slot?start=genot-a-date&start=le2026-11-28&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000009&status=free",
            "not a FHIR date",
        ),
        (
            "/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|abc&status=free",
            "IDNPS",
        ),
        (
            "/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000009&status=free&_include=Slot:bogus",
            "_include",
        ),
        (
            "/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000009&status=free&name=x",
            "unsupported",
        ),
    ],
)
def test_bad_searches_answer_400_operation_outcome(world: World, query: str, fix: str) -> None:
    response = world.get("a.regulator", query)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert fix in body["issue"][0]["diagnostics"]


def test_more_than_25_practitioners_is_refused(world: World) -> None:
    ids = ",".join(f"{IDNPS}|8{10000000000 + i:011d}" for i in range(26))
    response = world.get(
        "a.regulator",
        f"/fhir/Slot?start=ge2026-11-26&start=le2026-11-28&schedule.actor:Practitioner.identifier={ids}&status=free",
    )
    assert response.status_code == 400 and "1 to 25" in response.json()["issue"][0]["diagnostics"]


def test_regulator_sees_only_its_departement(world: World) -> None:
    query = slot_query("a", "b", "c", cpts=True)
    seen_78 = {int(s.id) for s in resources(bundle_of(world.get("a.regulator", query)), "Slot")}
    assert seen_78 == set(world.slots["a"] + world.slots["b"])
    seen_95 = {int(s.id) for s in resources(bundle_of(world.get("c.regulator", query)), "Slot")}
    assert seen_95 == set(world.slots["c"])
    assert bundle_of(world.get("admin", query)).total == 12


@pytest.mark.parametrize("who", ["a.operator", "a.coordinator"])
def test_other_roles_cannot_search(world: World, who: str) -> None:
    response = world.get(who, slot_query("a"))
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"


def test_no_token_is_401_operation_outcome(world: World) -> None:
    response = world.client.get(slot_query("a"))
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_self_link_is_the_request(world: World) -> None:
    query = slot_query("a")
    bundle = bundle_of(world.get("a.regulator", query))
    assert bundle.link[0].url.endswith(query.split("/fhir", 1)[1].replace("%2B", "%2B"))
