"""Reliability tests run against a real ``snp serve`` process on a real database.

Fixtures: a database per test (a PostgreSQL database created and dropped, or a
SQLite file), a server manager that starts N uvicorn workers on a free
127.0.0.1 port and always stops them, tokens minted for users made through
:mod:`snp.users`, and a two-CPTS world built over HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from snp.actors import Role
from snp.db import make_engine, make_session_factory, transaction
from snp.migrate import upgrade
from snp.tokens import issue_token
from snp.users import NewUser, create_user
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.server_process import ServerProcess

SECRET = "reliability-secret-of-at-least-thirty-two-bytes"
AUDIT_KEY = "reliability-audit-key"
SERVER_ENV = {"SNP_JWT_SECRET": SECRET, "SNP_AUDIT_KEY": AUDIT_KEY}

# Sites of the two CPTS (Versailles, Saint-Germain-en-Laye) and their professionals.
SITES = {"a": ("78646", 48.8049, 2.1204), "b": ("78551", 48.8989, 2.0938)}
RPPS = {"a": "10000000009", "b": "10000000017"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(autouse=True)
def _slow_opt_in(request: pytest.FixtureRequest) -> None:
    """The long variants run only when asked for: ``pytest -m slow tests/reliability``."""
    if request.node.get_closest_marker("slow") and "slow" not in (
        request.config.option.markexpr or ""
    ):
        pytest.skip("long variant: opt in with -m slow")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of its own: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'snp.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    name = f"snp_rel_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[ServerFactory]:
    """``serve(workers=2)`` starts ``snp serve`` on the test's database; every server
    started is stopped (SIGTERM, then SIGKILL) when the test ends, pass or fail."""
    started: list[ServerProcess] = []

    def start(workers: int = 2, **env: str) -> ServerProcess:
        server = ServerProcess(
            database_url,
            tmp_path / f"server-{len(started)}.log",
            workers=workers,
            env=SERVER_ENV | env,
        )
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def mint(database_url: str, role: Role, cpts: str | None, rpps: str | None = None) -> str:
    """A user created through :mod:`snp.users` and a local token for it."""
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            user = create_user(
                session, NewUser(f"{role}-{cpts}", role, cpts, rpps), datetime.now(UTC)
            )
            user_id = user.id
    finally:
        engine.dispose()
    return issue_token(
        user_id, role, cpts, secret=SECRET, now=datetime.now(UTC), ttl=timedelta(hours=2)
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """Two CPTS (``a``, ``b``), a professional in each, a token per role and CPTS."""

    base_url: str
    database_url: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # "a.operator" → header
    ids: dict[str, int] = field(default_factory=dict)

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def call(
        self,
        who: str,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        with self.client() as c:
            return c.request(method, path, json=json, headers=self.headers[who] | (headers or {}))


def professional_body(code: str) -> dict[str, Any]:
    insee, lat, lon = SITES[code]
    return {
        "rpps": RPPS[code],
        "last_name": f"Doc{code.upper()}",
        "first_name": "Anne",
        "profession": 10,
        "accepts_surnumeraire": False,
        "site": {"name": f"Cabinet {code}", "insee_code": insee, "lat": lat, "lon": lon},
    }


def request_body(code: str = "a", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "profession": 10,
        "priority": "within_48h",
        "location": {"insee_code": SITES[code][0]},
        "modalities": ["in_person"],
        "patient": {"display_name": f"Patient {code}", "phone": "06 11 22 33 44"},
    }
    return body | over


def build_world(base_url: str, database_url: str, hold_minutes: int = 1) -> World:
    """Everything through the API except the users (made by :func:`mint`)."""
    world = World(base_url, database_url)
    world.headers["admin"] = bearer(mint(database_url, Role.ADMIN, None))
    for code in ("a", "b"):
        r = world.call(
            "admin",
            "POST",
            "/cpts",
            {
                "code": code,
                "name": f"CPTS {code}",
                "departement_code": "78",
                "settings": {"hold_minutes": hold_minutes},
            },
        )
        assert r.status_code == 201, r.text
        world.ids[code] = r.json()["id"]
        world.headers[f"{code}.coordinator"] = bearer(mint(database_url, Role.COORDINATOR, code))
        r = world.call(f"{code}.coordinator", "POST", "/professionals", professional_body(code))
        assert r.status_code == 201, r.text
        world.ids[f"{code}.pro"] = r.json()["id"]
        for role in (Role.OPERATOR, Role.REGULATOR):
            world.headers[f"{code}.{role}"] = bearer(mint(database_url, role, code))
        world.headers[f"{code}.professional"] = bearer(
            mint(database_url, Role.PROFESSIONAL, code, RPPS[code])
        )
    return world


def publish_slots(
    world: World, code: str, count: int, capacity: int, *, start: datetime | None = None
) -> list[int]:
    """``count`` consecutive 10-minute slots from ``start`` (default: 2 h from now)."""
    first = start or datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
    ids = []
    with world.client() as c:
        for i in range(count):
            begin = first + timedelta(minutes=10 * i)
            body = {
                "start": begin.isoformat(),
                "end": (begin + timedelta(minutes=10)).isoformat(),
                "capacity": capacity,
            }
            r = c.post("/slots", json=body, headers=world.headers[f"{code}.professional"])
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    return ids


def run_cli(database_url: str, *args: str, timeout: float = 120) -> tuple[int, str]:
    """Run the real ``snp`` command line (a separate process) on the database."""
    import os
    import subprocess

    from tests.server_process import ROOT, SNP

    done = subprocess.run(
        [str(SNP), *args, "--database", database_url],
        cwd=ROOT,
        env=os.environ | SERVER_ENV | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr
