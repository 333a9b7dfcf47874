"""The console's own endpoints without a browser (these run everywhere): pages
and their security headers, commune search, demo login rules, the SVG map."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from snp.db import make_engine
from snp.tokens import TokenSettings
from tests.e2e.conftest import LiveServer

PAGES = ("connexion", "demande", "reserver", "journee", "disponibilites", "tableau-de-bord")


@pytest.fixture
def bare_client(tmp_path: Path) -> TestClient:
    """An app over an empty database, signed with a real (non-demo) secret."""
    from snp.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    upgrade(engine)
    app = create_app(
        engine=engine,
        token_settings=TokenSettings(jwt_secret=SecretStr("a-real-secret-of-at-least-32-bytes!")),
        sweep_seconds=0,
    )
    return TestClient(app)


def test_every_page_is_french_self_contained_and_locked_to_this_origin(
    bare_client: TestClient,
) -> None:
    assert bare_client.get("/", follow_redirects=False).headers["location"] == "/console/"
    for slug in PAGES:
        page = bare_client.get(f"/console/{slug}")
        assert page.status_code == 200
        assert '<html lang="fr">' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        # No asset from elsewhere: every src/href is local (or an empty data: icon).
        for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert url.startswith(("/", "#", "data:")), url
    assert bare_client.get("/console/nulle-part").status_code == 404
    assert bare_client.get("/console/static/console.js").status_code == 200
    assert bare_client.get("/console/static/..%2Fpages%2Flayout.html").status_code == 404


def test_commune_search_by_name_and_postal_code(bare_client: TestClient) -> None:
    by_name = bare_client.get("/console/api/communes", params={"q": "st germain en l"}).json()
    assert by_name[0]["name"] == "Saint-Germain-en-Laye"
    by_postcode = bare_client.get("/console/api/communes", params={"q": "78000"}).json()
    assert [c["insee_code"] for c in by_postcode] == ["78646"]
    by_codes = bare_client.get("/console/api/communes", params={"codes": "78646,99999"}).json()
    assert [c["name"] for c in by_codes] == ["Versailles"]


def test_login_by_name_is_closed_outside_demo_deployments(
    bare_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SNP_CONSOLE_DEMO_LOGIN", raising=False)
    assert bare_client.get("/console/api/login-options").json() == {
        "demo_login": False,
        "users": [],
    }
    assert bare_client.post("/console/api/login", json={"user_id": 1}).status_code == 403
    assert bare_client.post("/console/api/demo-users", json={}).status_code == 403
    assert bare_client.get("/console/api/me").status_code == 401


def test_the_map_and_the_load_over_the_demo(live_server: LiveServer) -> None:
    with live_server.api("Opératrice démo") as operator:
        me = operator.get("/console/api/me").json()
        assert me["role"] == "operator"
        assert "within_48h" in me["cpts"]["priorities"]
        intake = operator.post(
            "/requests",
            json={"profession": 10, "priority": "within_48h", "location": {"insee_code": "78646"}},
        ).json()
        slots = ",".join(str(p["slot_id"]) for p in intake["proposals"]["proposals"])
        drawn = operator.get(f"/console/api/requests/{intake['request']['id']}/map?slots={slots}")
        assert drawn.headers["content-type"].startswith("image/svg+xml")
        assert drawn.text.count('class="proposition"') == len(intake["proposals"]["proposals"])
        assert "Patient à Versailles" in drawn.text
        # Coordinators only.
        assert operator.get("/console/api/load?from=2026-01-01&to=2026-01-02").status_code == 403
        doctors = operator.get("/console/api/medecins", params={"q": "dup"}).json()
        assert doctors and all(d["name"].startswith("Dr ") for d in doctors)
    with live_server.api("Régulateur SAS démo") as other:
        # Same CPTS: allowed; the map of another CPTS's request would be 404.
        assert other.get(f"/console/api/requests/{intake['request']['id']}/map").status_code == 200
    assert httpx.get(f"{live_server.url}/console/api/requests/1/map").status_code == 401
