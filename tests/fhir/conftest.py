"""The app with the FHIR router over the per-test database, a movable clock, and
a small SAS world: CPTS a and b in the Yvelines (78), c in the Val-d'Oise (95),
one professional each with free slots, and tokens per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from pydantic import SecretStr
from sqlalchemy import Engine

import api.fhir
from api.app import create_app
from snp.actors import Role
from snp.db import make_session_factory, transaction
from snp.fhir_links import set_cpts_finess
from snp.orm import CptsRow, ProfessionalRow, SiteRow, SlotRow
from snp.tokens import TokenSettings, issue_token
from snp.users import NewUser, create_user

SECRET = "test-secret-of-at-least-thirty-two-bytes"
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # Thursday 09:00 in Paris
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
RPPS = {"a": "10000000009", "b": "10000000017", "c": "10000000025"}
FHIR = "application/fhir+json"


@dataclass
class MovableClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    client: TestClient
    engine: Engine
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    slots: dict[str, list[int]] = field(default_factory=dict)
    cpts: dict[str, int] = field(default_factory=dict)

    def get(self, who: str, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.tokens[who], **kw)

    def send(self, method: str, who: str, path: str, body: Any, **kw: Any) -> Any:
        headers = self.tokens[who] | {"Content-Type": FHIR}
        return self.client.request(method, path, json=body, headers=headers, **kw)


def build_app(engine: Engine, clock: MovableClock) -> FastAPI:
    app = create_app(
        engine=engine,
        token_settings=TokenSettings(jwt_secret=SecretStr(SECRET)),
        clock=clock,
        sweep_seconds=0,
    )
    if not any(getattr(r, "path", "").startswith("/fhir") for r in app.routes):
        app.include_router(api.fhir.router)
    return app


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def client(engine: Engine, clock: MovableClock) -> Iterator[TestClient]:
    with TestClient(build_app(engine, clock), raise_server_exceptions=False) as test_client:
        yield test_client


def mint(engine: Engine, role: Role, cpts: str | None, rpps: str | None = None) -> dict[str, str]:
    with transaction(make_session_factory(engine)) as session:
        user_id = create_user(session, NewUser(f"{role}", role, cpts, rpps), T0).id
    token = issue_token(
        user_id, role, cpts, secret=SECRET, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    return {"Authorization": f"Bearer {token}"}


SITES = {
    "a": ("78646", 48.8049, 2.1204),
    "b": ("78551", 48.8989, 2.0938),
    "c": ("95127", 49.03, 2.06),
}
DEPARTEMENT = {"a": "78", "b": "78", "c": "95"}


@pytest.fixture
def world(client: TestClient, engine: Engine) -> World:
    w = World(client, engine)
    with transaction(make_session_factory(engine)) as s:
        for code in ("a", "b", "c"):
            cpts = CptsRow(
                code=code,
                name=f"CPTS {code}",
                departement_code=DEPARTEMENT[code],
                timezone="Europe/Paris",
                settings={},
            )
            s.add(cpts)
            s.flush()
            w.cpts[code] = cpts.id
            insee, lat, lon = SITES[code]
            site = SiteRow(
                cpts_id=cpts.id,
                name=f"Cabinet {code}",
                address="1 rue de Paris",
                insee_code=insee,
                lat=lat,
                lon=lon,
            )
            s.add(site)
            s.flush()
            pro = ProfessionalRow(
                cpts_id=cpts.id,
                rpps=RPPS[code],
                last_name=f"Doc{code}",
                first_name="Anne",
                profession=10,
                specialty="SM54",
                accepts_surnumeraire=True,
                main_site_id=site.id,
            )
            s.add(pro)
            s.flush()
            ids = []
            # Three slots today from 10:00 Paris (capacity 1), one home visit, one teleconsultation,
            # and one SAS-reserved slot tomorrow.
            for i, (modality, hours, reserved) in enumerate(
                [
                    ("in_person", 1, False),
                    ("home_visit", 2, False),
                    ("teleconsultation", 3, False),
                    ("in_person", 26, True),
                ]
            ):
                start = T0 + timedelta(hours=hours)
                slot = SlotRow(
                    cpts_id=cpts.id,
                    professional_id=pro.id,
                    site_id=site.id,
                    profession=10,
                    start_at=start,
                    end_at=start + timedelta(minutes=20),
                    modality=modality,
                    capacity=1,
                    surnumeraire=1 if i == 0 else 0,
                    taken=0,
                    sas_reserved=reserved,
                )
                s.add(slot)
                s.flush()
                ids.append(slot.id)
            w.slots[code] = ids
        set_cpts_finess(s, w.cpts["a"], "780000001")
    w.tokens["admin"] = mint(engine, Role.ADMIN, None)
    for code in ("a", "b", "c"):
        w.tokens[f"{code}.regulator"] = mint(engine, Role.REGULATOR, code)
        w.tokens[f"{code}.operator"] = mint(engine, Role.OPERATOR, code)
        w.tokens[f"{code}.coordinator"] = mint(engine, Role.COORDINATOR, code)
    return w


def slot_query(
    *codes: str,
    cpts: bool = False,
    start: str = "ge2026-11-26T00:00:00+01:00",
    end: str = "le2026-11-29T00:00:00+01:00",
) -> str:
    ids = ",".join(f"{IDNPS}|8{RPPS[c]}" for c in codes)
    q = f"/fhir/Slot?_include=Slot:schedule&_include:iterate=Schedule:actor&start={start}&start={end}&schedule.actor:Practitioner.identifier={ids}&status=free"
    if cpts:
        q += "&_include=Slot:service-type-reference&_include:iterate=HealthcareService:organization"
    return q.replace("+", "%2B")


def bundle_of(response: Any) -> Bundle:
    """Every Bundle snp emits must round-trip through fhir.resources."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR)
    bundle = Bundle.model_validate_json(response.text)
    assert bundle.type == "searchset"
    return bundle


def resources(bundle: Bundle, kind: str) -> list[Any]:
    return [
        e.resource
        for e in bundle.entry or []
        if e.resource is not None and e.resource.get_resource_type() == kind
    ]


def appointment_body(
    rpps: str,
    start: datetime,
    *,
    ident: str = "b6e39355-8a61-4556-b340-36f7b95fec6a",
    status: str = "booked",
    minutes: int = 20,
) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "meta": {"profile": ["http://interopsante.org/fhir/StructureDefinition/FrAppointmentSAS"]},
        "identifier": [{"system": "urn:oid:1.1.111.1.11.1.1.1", "value": ident}],
        "extension": [
            {
                "url": "http://interopsante.org/fhir/StructureDefinition/FrAppointmentOperator",
                "valueReference": {
                    "identifier": {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
                                    "code": "INTRN",
                                }
                            ]
                        },
                        "system": "urn:oid:1.2.250.1.213.3.6",
                        "value": "1b0b6a4c-5c7e-4f7e-9a55-6d1c4c8f0a11",
                    }
                },
            }
        ],
        "status": status,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
        "participant": [
            {
                "actor": {
                    "identifier": {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
                                    "code": "IDNPS",
                                }
                            ]
                        },
                        "system": IDNPS,
                        "value": "8" + rpps,
                    }
                },
                "status": "accepted",
            }
        ],
    }
