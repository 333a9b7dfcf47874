"""Coordinator reports over HTTP: indicators, statements, SAS list."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from snp.compensation import add_rule_version, parse_rules
from tests.api.conftest import T0, World, request_body


def _honoured_consultation(world: World) -> int:
    r = world.post("a.operator", "/requests", request_body())
    assert r.status_code == 201, r.text
    intake = r.json()
    slot_id = intake["proposals"]["proposals"][0]["slot_id"]
    held = world.post(
        "a.operator", f"/requests/{intake['request']['id']}/holds", {"slot_id": slot_id}
    ).json()
    assert world.post("a.operator", f"/orientations/{held['id']}/booking").status_code == 200
    r = world.post("a.professional", f"/orientations/{held['id']}/outcome", {"outcome": "honoured"})
    assert r.status_code == 200, r.text
    return int(held["id"])


def test_coordinator_reads_indicators_and_statements(world: World) -> None:
    with Session(world.engine) as s, s.begin():
        rules = parse_rules([{"kind": "per_consultation", "amount_cents": 2500}])
        add_rule_version(s, world.ids["a"], date(2026, 11, 1), rules, at=T0)
    _honoured_consultation(world)
    window = {"from": "2026-11-01", "to": "2026-12-01"}
    r = world.get("a.coordinator", "/reports/indicators", params=window)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["cpts_codes"] == ["a"]
    assert report["overall"]["requests"] == 1 and report["consultations_registered"] == 1
    csv = world.get("a.coordinator", "/reports/indicators", params=window | {"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    plot = world.get("a.coordinator", "/reports/indicators/plots/within-deadline", params=window)
    assert plot.headers["content-type"] == "image/svg+xml" and plot.text.startswith("<svg")
    pro = world.ids["a.pro"]
    statement = world.get(
        "a.coordinator", f"/reports/statements/{pro}", params={"period": "2026-11"}
    ).json()
    assert statement["total_cents"] == 2500
    page = world.get(
        "a.coordinator",
        f"/reports/statements/{pro}",
        params={"period": "2026-11", "format": "html"},
    )
    assert page.headers["content-type"].startswith("text/html")
    totals = world.get("a.coordinator", "/reports/totals", params={"period": "2026-11"}).json()
    assert totals["total_cents"] == 2500
    export = world.get(
        "a.coordinator",
        "/reports/accounting-export",
        params={"period": "2026-11", "french": "true"},
    )
    assert "25,00" in export.text


def test_reports_are_for_the_own_cpts_coordinator_only(world: World) -> None:
    window = {"from": "2026-11-01", "to": "2026-12-01"}
    assert world.get("a.operator", "/reports/indicators", params=window).status_code == 403
    r = world.get(
        "b.coordinator", f"/reports/statements/{world.ids['a.pro']}", params={"period": "2026-11"}
    )
    assert r.status_code == 404
    r = world.get("a.coordinator", "/reports/totals", params={"period": "2026-13"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period"
    r = world.get(
        "a.coordinator", "/reports/indicators", params={"from": "2026-12-01", "to": "2026-11-01"}
    )
    assert r.status_code == 422
