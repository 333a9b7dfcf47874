"""A token of another CPTS sees nothing: 404 on every object endpoint, empty lists."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import World, request_body


def _b_objects(world: World) -> dict[str, Any]:
    intake = world.post(
        "b.operator", "/requests", request_body(location={"insee_code": "78551"})
    ).json()
    request_id = intake["request"]["id"]
    slot_id = intake["proposals"]["proposals"][0]["slot_id"]
    held = world.post("b.operator", f"/requests/{request_id}/holds", {"slot_id": slot_id}).json()
    return {
        "request": request_id,
        "slot": slot_id,
        "orientation": held["id"],
        "plage": world.ids["b.plage"],
        "pro": world.ids["b.pro"],
        "cpts": world.ids["b"],
    }


def test_every_object_endpoint_hides_other_cpts(world: World) -> None:
    b = _b_objects(world)
    calls = [
        ("a.operator", "GET", f"/requests/{b['request']}", None),
        ("a.coordinator", "GET", f"/requests/{b['request']}", None),
        ("a.operator", "GET", f"/requests/{b['request']}/proposals", None),
        ("a.operator", "POST", f"/requests/{b['request']}/holds", {"slot_id": b["slot"]}),
        ("a.operator", "GET", f"/orientations/{b['orientation']}", None),
        ("a.professional", "GET", f"/orientations/{b['orientation']}", None),
        ("a.operator", "POST", f"/orientations/{b['orientation']}/booking", None),
        ("a.operator", "POST", f"/orientations/{b['orientation']}/cancellation", {}),
        (
            "a.operator",
            "POST",
            f"/orientations/{b['orientation']}/reorientation",
            {"slot_id": b["slot"]},
        ),
        (
            "a.professional",
            "POST",
            f"/orientations/{b['orientation']}/outcome",
            {"outcome": "honoured"},
        ),
        (
            "a.coordinator",
            "POST",
            f"/orientations/{b['orientation']}/outcome",
            {"outcome": "honoured"},
        ),
        ("a.professional", "GET", f"/slots/{b['slot']}", None),
        ("a.coordinator", "PATCH", f"/slots/{b['slot']}", {"capacity": 3}),
        ("a.coordinator", "DELETE", f"/slots/{b['slot']}", None),
        ("a.professional", "GET", f"/plages/{b['plage']}", None),
        ("a.coordinator", "DELETE", f"/plages/{b['plage']}", None),
        ("a.coordinator", "GET", f"/professionals/{b['pro']}", None),
        ("a.coordinator", "PATCH", f"/professionals/{b['pro']}", {"accepts_surnumeraire": False}),
        (
            "a.coordinator",
            "POST",
            "/plages",
            {
                "professional_id": b["pro"],
                "weekday": 4,
                "start": "09:00",
                "end": "10:00",
                "valid_from": "2026-11-01",
            },
        ),
        (
            "a.coordinator",
            "POST",
            "/slots",
            {
                "professional_id": b["pro"],
                "start": "2026-11-26T18:00:00+01:00",
                "end": "2026-11-26T18:20:00+01:00",
            },
        ),
        ("a.coordinator", "GET", f"/cpts/{b['cpts']}", None),
        ("a.coordinator", "PATCH", f"/cpts/{b['cpts']}/settings", {"hold_minutes": 2}),
        # Even with a mutualisation agreement, A never reads B's requests.
    ]
    for who, method, path, body in calls:
        r = world.client.request(method, path, json=body, headers=world.as_(who))
        assert r.status_code == 404, f"{who} {method} {path}: {r.status_code} {r.text}"
        assert r.headers["content-type"] == "application/problem+json"
    # B's objects are untouched.
    assert world.get("b.operator", f"/orientations/{b['orientation']}").json()["status"] == "held"


def test_lists_are_empty_for_another_cpts(world: World) -> None:
    _b_objects(world)
    world.post("admin", "/agreements", {"cpts": "a", "partner": "b"})
    for who, path in [
        ("a.operator", "/requests"),
        ("a.coordinator", "/requests"),
        ("a.operator", "/orientations"),
        ("a.coordinator", "/orientations"),
        ("a.professional", "/orientations"),
    ]:
        r = world.get(who, path)
        assert r.status_code == 200 and r.json() == [], f"{who} {path}: {r.text}"
    b_pro, b_plage = world.ids["b.pro"], world.ids["b.plage"]
    assert b_pro not in {p["id"] for p in world.get("a.coordinator", "/professionals").json()}
    assert b_plage not in {p["id"] for p in world.get("a.coordinator", "/plages").json()}
    assert all(s["cpts_id"] == world.ids["a"] for s in world.get("a.coordinator", "/slots").json())
    assert [c["code"] for c in world.get("a.coordinator", "/cpts").json()] == ["a"]
    # A's plan never holds B's pending requests.
    assert world.post("a.coordinator", "/plan").json()["held"] == []
