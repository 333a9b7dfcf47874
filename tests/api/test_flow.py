"""The whole flow, role by role, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from api.app import sweep_expired
from snp.db import make_session_factory
from snp.orm import CareRequestRow, SlotRow
from tests.api.conftest import PRO_A, World, plage_body, request_body


def _intake(world: World, who: str = "a.operator", **change: Any) -> dict[str, Any]:
    r = world.post(who, "/requests", request_body(**change))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_admin_sets_up_the_platform(world: World) -> None:
    cpts = world.get("admin", "/cpts").json()
    assert [c["code"] for c in cpts] == ["a", "b"] and cpts[0]["timezone"] == "Europe/Paris"
    r = world.post("admin", "/cpts", {"code": "a", "name": "again", "departement_code": "78"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"
    r = world.post("admin", "/cpts", {"code": "c", "name": "C", "departement_code": "100"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "departement_code"
    assert world.post("admin", "/agreements", {"cpts": "a", "partner": "b"}).status_code == 201
    assert world.get("admin", "/agreements").json() == [{"cpts": "a", "partner": "b"}]
    r = world.post(
        "admin",
        "/users",
        {"name": "Dr B", "role": "professional", "cpts": "a", "professional_rpps": "10000000017"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "professional_rpps"
    r = world.post("admin", "/users", {"name": "Op", "role": "operator", "cpts": "a"})
    assert r.status_code == 201
    token = r.json()["token"]
    assert (
        world.client.get("/requests", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    # Coordinators tune their own CPTS, not another.
    r = world.client.patch(
        f"/cpts/{world.ids['a']}/settings",
        json={"hold_minutes": 3},
        headers=world.as_("a.coordinator"),
    )
    assert r.status_code == 200 and r.json()["settings"]["hold_minutes"] == 3
    r = world.client.patch(
        f"/cpts/{world.ids['b']}/settings",
        json={"hold_minutes": 3},
        headers=world.as_("a.coordinator"),
    )
    assert r.status_code == 404


def test_professional_publishes_availability(world: World) -> None:
    plages = world.get("a.professional", "/plages").json()
    assert len(plages) == 1 and plages[0]["weekday"] == 3
    r = world.post("a.professional", "/plages", plage_body(start="11:00", end="13:00"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"
    r = world.post("a.professional", "/plages", plage_body(end="08:00"))
    assert r.json()["errors"][0]["field"] == "end"
    slots = world.get("a.professional", "/slots").json()
    assert len(slots) == 6 and all(s["taken"] == 0 for s in slots)  # Thursday 10:00-12:00
    one_off = {
        "start": "2026-11-26T16:00:00+01:00",
        "end": "2026-11-26T16:30:00+01:00",
        "sas_reserved": True,
    }
    r = world.post("a.professional", "/slots", one_off)
    assert r.status_code == 201 and r.json()["sas_reserved"] is True
    slot_id = r.json()["id"]
    assert world.post("a.professional", "/slots", one_off).status_code == 422  # overlap
    r = world.client.patch(
        f"/slots/{slot_id}", json={"capacity": 2}, headers=world.as_("a.professional")
    )
    assert r.status_code == 200 and r.json()["capacity"] == 2
    assert (
        world.client.delete(f"/slots/{slot_id}", headers=world.as_("a.professional")).status_code
        == 204
    )
    assert world.get("a.professional", f"/slots/{slot_id}").json()["cancelled"] is True
    # The coordinator publishes on behalf, and must say for whom.
    r = world.post("a.coordinator", "/plages", plage_body(weekday="friday"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "professional_id"
    r = world.post(
        "a.coordinator", "/plages", plage_body(weekday="friday", professional_id=world.ids["a.pro"])
    )
    assert r.status_code == 201 and r.json()["slots_published"] == 6
    r = world.client.patch(
        f"/professionals/{world.ids['a.pro']}",
        json={"accepts_surnumeraire": False},
        headers=world.as_("a.professional"),
    )
    assert r.status_code == 200 and r.json()["accepts_surnumeraire"] is False
    assert (
        world.client.delete(
            f"/plages/{world.ids['a.plage']}", headers=world.as_("a.professional")
        ).status_code
        == 204
    )


def test_operator_orients_and_professional_reports(world: World) -> None:
    intake = _intake(world)
    request_id = intake["request"]["id"]
    proposals = intake["proposals"]["proposals"]
    assert proposals and proposals[0]["explanation"] and "patient" not in intake["request"]
    r = world.get("a.operator", f"/requests/{request_id}/proposals", params={"k": 2})
    assert len(r.json()["proposals"]) == 2
    r = world.post(
        "a.operator", f"/requests/{request_id}/holds", {"slot_id": proposals[0]["slot_id"]}
    )
    assert r.status_code == 201, r.text
    held = r.json()
    assert held["status"] == "held" and held["held_until"]
    r = world.post("a.operator", f"/orientations/{held['id']}/booking")
    assert r.status_code == 200 and r.json()["status"] == "booked"
    assert (
        world.get("a.operator", "/requests", params={"status": "oriented"}).json()[0]["id"]
        == request_id
    )
    mine = world.get("a.professional", "/orientations", params={"day": "2026-11-26"}).json()
    assert [o["id"] for o in mine] == [held["id"]]
    r = world.post("admin", f"/orientations/{held['id']}/outcome", {"outcome": "honoured"})
    assert r.status_code == 403
    r = world.post(
        "a.operator", f"/orientations/{held['id']}/outcome", {"outcome": "redirected_15"}
    )
    assert r.status_code == 200 and r.json()["status"] == "redirected_15"
    r = world.post("a.professional", f"/orientations/{held['id']}/outcome", {"outcome": "no_show"})
    assert r.status_code == 200 and r.json()["status"] == "no_show"
    r = world.post("a.professional", f"/orientations/{held['id']}/outcome", {"outcome": "honoured"})
    assert r.json()["status"] == "honoured"
    r = world.post("a.professional", f"/orientations/{held['id']}/outcome", {"outcome": "booked"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "outcome"


def test_cancel_and_reorient(world: World) -> None:
    intake = _intake(world)
    request_id = intake["request"]["id"]
    first, second = (p["slot_id"] for p in intake["proposals"]["proposals"][:2])
    held = world.post("a.operator", f"/requests/{request_id}/holds", {"slot_id": first}).json()
    world.post("a.operator", f"/orientations/{held['id']}/booking")
    r = world.post("a.operator", f"/orientations/{held['id']}/reorientation", {"slot_id": second})
    assert r.status_code == 201 and r.json()["rescheduled_from_id"] == held["id"]
    new = r.json()
    assert (
        world.post("a.operator", f"/orientations/{new['id']}/booking").json()["status"] == "booked"
    )
    assert world.get("a.operator", f"/orientations/{held['id']}").json()["status"] == "cancelled"
    r = world.post(
        "a.operator",
        f"/orientations/{new['id']}/cancellation",
        {"reason": "feels better", "close_request": True},
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert world.get("a.operator", f"/requests/{request_id}").json()["status"] == "cancelled"
    r = world.post("a.operator", f"/orientations/{new['id']}/cancellation")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"


def test_surnumeraire_needs_acceptance_and_reason(world: World) -> None:
    slot_id = _intake(world)["proposals"]["proposals"][0]["slot_id"]
    first = _intake(world)["request"]["id"]
    world.post("a.operator", f"/requests/{first}/holds", {"slot_id": slot_id})
    second = _intake(world)["request"]["id"]
    r = world.post("a.operator", f"/requests/{second}/holds", {"slot_id": slot_id})
    assert r.status_code == 409 and r.json()["next_proposals"]
    r = world.post(
        "a.operator",
        f"/requests/{second}/holds",
        {"slot_id": slot_id, "surnumeraire_reason": "fever, child"},
    )
    assert r.status_code == 201 and r.json()["surnumeraire"] is True
    third = _intake(world)["request"]["id"]
    r = world.post(
        "a.operator",
        f"/requests/{third}/holds",
        {"slot_id": slot_id, "surnumeraire_reason": "again"},
    )
    assert r.status_code == 409  # the one surnuméraire place is used


def test_expired_holds_are_released(world: World, app: Any, clock: Any, engine: Any) -> None:
    intake = _intake(world)
    request_id, slot_id = intake["request"]["id"], intake["proposals"]["proposals"][0]["slot_id"]
    held = world.post("a.operator", f"/requests/{request_id}/holds", {"slot_id": slot_id}).json()
    clock.advance(minutes=6)
    assert sweep_expired(app.state.ctx) == 1
    assert world.get("a.operator", f"/orientations/{held['id']}").json()["status"] == "expired"
    with make_session_factory(engine)() as session:
        assert session.get(SlotRow, slot_id).taken == 0  # type: ignore[union-attr]
    r = world.post("a.operator", f"/orientations/{held['id']}/booking")
    assert r.status_code == 409  # an expired hold cannot be booked, swept or not
    assert world.get("a.operator", f"/requests/{request_id}").json()["status"] == "pending"
    r = world.post("a.operator", f"/requests/{request_id}/holds", {"slot_id": slot_id})
    assert r.status_code == 201


def test_batch_plan_holds_pending_requests(world: World) -> None:
    ids = [_intake(world)["request"]["id"] for _ in range(3)]
    r = world.post("a.coordinator", "/plan")
    assert r.status_code == 200, r.text
    plan = r.json()
    assert sorted(o["request_id"] for o in plan["held"]) == ids and plan["unserved"] == {}
    assert len({o["slot_id"] for o in plan["held"]}) == 3
    assert world.get("a.operator", "/requests", params={"status": "pending"}).json() == []


def test_mutualisation_lets_a_use_b_slots_without_seeing_b(world: World) -> None:
    near_b: dict[str, Any] = {"location": {"insee_code": "78551"}, "radius_km": 3}
    assert _intake(world, **near_b)["proposals"]["proposals"] == []
    b_request = _intake(world, "b.operator", **near_b)["request"]["id"]
    world.post("admin", "/agreements", {"cpts": "a", "partner": "b"})
    intake = _intake(world, **near_b)
    proposal = intake["proposals"]["proposals"][0]
    assert proposal["professional_id"] == world.ids["b.pro"]
    r = world.post(
        "a.operator", f"/requests/{intake['request']['id']}/holds", {"slot_id": proposal["slot_id"]}
    )
    assert r.status_code == 201
    assert world.get("a.operator", f"/requests/{b_request}").status_code == 404
    assert b_request not in {x["id"] for x in world.get("a.operator", "/requests").json()}
    # B's professional sees the orientation on their own slot.
    assert [o["id"] for o in world.get("b.professional", "/orientations").json()] == [
        r.json()["id"]
    ]


def test_sas_push_is_idempotent(world: World, engine: Any) -> None:
    key = {"Idempotency-Key": "3b7e1c1e-0001"}
    first = world.post("a.regulator", "/sas/requests", request_body(), headers=key)
    assert first.status_code == 201 and first.json()["request"]["origin"] == "sas"
    again = world.post("a.regulator", "/sas/requests", request_body(), headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(CareRequestRow)) == 1
    other = world.post(
        "a.regulator", "/sas/requests", request_body(priority="within_48h"), headers=key
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    missing = world.post("a.regulator", "/sas/requests", request_body())
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "Idempotency-Key"
    # The same key in another CPTS is another request.
    assert (
        world.post("b.regulator", "/sas/requests", request_body(), headers=key).status_code == 201
    )


def test_sas_push_auto_orients_when_the_cpts_asks(world: World) -> None:
    world.client.patch(
        f"/cpts/{world.ids['a']}/settings",
        json={"auto_orient_sas": True},
        headers=world.as_("admin"),
    )
    r = world.post(
        "a.regulator", "/sas/requests", request_body(), headers={"Idempotency-Key": "k-auto"}
    )
    assert r.status_code == 201 and r.json()["orientation"]["status"] == "booked"


def test_professional_user_must_match_cpts(world: World) -> None:
    r = world.post(
        "admin",
        "/users",
        {"name": "x", "role": "professional", "cpts": "a", "professional_rpps": PRO_A},
    )
    assert r.status_code == 201 and r.json()["professional_id"] == world.ids["a.pro"]


def test_admin_verifies_the_audit_chains(world: World) -> None:
    intake = _intake(world)
    slot_id = intake["proposals"]["proposals"][0]["slot_id"]
    world.post("a.operator", f"/requests/{intake['request']['id']}/holds", {"slot_id": slot_id})
    r = world.get("admin", "/admin/audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is True
    chain_a = next(c for c in r.json()["chains"] if c["cpts_code"] == "a")
    assert chain_a["events"] >= 3 and chain_a["broken"] is None
    assert world.get("a.coordinator", "/admin/audit/verify").status_code == 403
