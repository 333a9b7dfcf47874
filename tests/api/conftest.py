"""An app over the per-test database (SQLite and PostgreSQL), a movable clock,
and a small world: two CPTS, a professional with a plage, a user per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from api.app import create_app
from snp.actors import Role
from snp.db import make_session_factory, transaction
from snp.tokens import TokenSettings, issue_token
from snp.users import NewUser, create_user

SECRET = "test-secret-of-at-least-thirty-two-bytes"
# Thursday 26 November 2026, 09:00 in Paris: office hours, plages ahead today.
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@dataclass
class MovableClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def token_settings() -> TokenSettings:
    return TokenSettings(jwt_secret=SecretStr(SECRET))


@pytest.fixture
def app(engine: Engine, clock: MovableClock, token_settings: TokenSettings) -> FastAPI:
    return create_app(engine=engine, token_settings=token_settings, clock=clock, sweep_seconds=0)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a 500 must come back as a problem, not a test crash.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mint(
    engine: Engine,
    role: Role,
    cpts: str | None,
    rpps: str | None = None,
    name: str = "user",
) -> str:
    """A user row and its token, straight through the domain (no API call)."""
    with transaction(make_session_factory(engine)) as session:
        user = create_user(session, NewUser(name, role, cpts, rpps), T0)
        user_id = user.id
    # Tokens live in real time (PyJWT checks exp/iat against the wall clock),
    # whatever the app's clock says.
    return issue_token(
        user_id, role, cpts, secret=SECRET, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )


@dataclass
class World:
    client: TestClient
    engine: Engine
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)  # "a.operator" → header
    ids: dict[str, int] = field(default_factory=dict)

    def as_(self, who: str) -> dict[str, str]:
        return self.tokens[who]

    def post(self, who: str, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(
            path, json=json, headers=self.tokens[who] | kw.pop("headers", {}), **kw
        )

    def get(self, who: str, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.tokens[who], **kw)


PRO_A = "10000000009"
PRO_B = "10000000017"


def professional_body(rpps: str, name: str, insee: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "rpps": rpps,
        "last_name": name,
        "first_name": "Anne",
        "profession": 10,
        "accepts_surnumeraire": True,
        "site": {"name": f"Cabinet {name}", "insee_code": insee, "lat": lat, "lon": lon},
    }


def plage_body(**over: Any) -> dict[str, Any]:
    body = {
        "weekday": "thursday",
        "start": "10:00",
        "end": "12:00",
        "valid_from": "2026-11-01",
        "slot_minutes": 20,
        "capacity": 1,
        "surnumeraire": 1,
    }
    return body | over


def request_body(**over: Any) -> dict[str, Any]:
    body = {
        "profession": 10,
        "priority": "same_day",
        "location": {"insee_code": "78646"},
        "modalities": ["in_person"],
        "patient": {"display_name": "Zoé Secretname", "phone": "06 11 22 33 44"},
    }
    return body | over


@pytest.fixture
def world(client: TestClient, engine: Engine) -> World:
    """Admin-made: CPTS a (Versailles) and b (Saint-Germain), a professional in each
    with a Thursday plage, and one user per role in each CPTS."""
    w = World(client, engine)
    w.tokens["admin"] = bearer(mint(engine, Role.ADMIN, None, name="admin"))
    for code in ("a", "b"):
        r = w.post(
            "admin", "/cpts", {"code": code, "name": f"CPTS {code}", "departement_code": "78"}
        )
        assert r.status_code == 201, r.text
        w.ids[code] = r.json()["id"]
        w.tokens[f"{code}.coordinator"] = bearer(mint(engine, Role.COORDINATOR, code))
    sites = {"a": ("78646", 48.8049, 2.1204), "b": ("78551", 48.8989, 2.0938)}
    for code, rpps in (("a", PRO_A), ("b", PRO_B)):
        r = w.post(
            f"{code}.coordinator",
            "/professionals",
            professional_body(rpps, f"Doc{code}", *sites[code]),
        )
        assert r.status_code == 201, r.text
        w.ids[f"{code}.pro"] = r.json()["id"]
        for role in (Role.OPERATOR, Role.REGULATOR):
            w.tokens[f"{code}.{role}"] = bearer(mint(engine, role, code))
        w.tokens[f"{code}.professional"] = bearer(mint(engine, Role.PROFESSIONAL, code, rpps))
        r = w.post(f"{code}.professional", "/plages", plage_body())
        assert r.status_code == 201, r.text
        assert r.json()["slots_published"] > 0
        w.ids[f"{code}.plage"] = r.json()["id"]
    return w
