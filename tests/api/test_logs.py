"""Logs never carry patient identity: the whole flow, errors included, is searched."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI

from tests.api.conftest import World, request_body

NAME, PHONE = "Zoé Secretname", "06 11 22 33 44"


def test_no_patient_identity_in_logs(
    world: World, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.post("/boom")
    def boom() -> None:
        raise RuntimeError(f"failure while handling {NAME} {PHONE}")

    caplog.set_level(logging.DEBUG)
    patient = {"display_name": NAME, "phone": PHONE, "birth_year": 1984}
    intake = world.post("a.operator", "/requests", request_body(patient=patient)).json()
    request_id, slot_id = intake["request"]["id"], intake["proposals"]["proposals"][0]["slot_id"]
    held = world.post("a.operator", f"/requests/{request_id}/holds", {"slot_id": slot_id}).json()
    world.post("a.operator", f"/orientations/{held['id']}/booking")
    world.post(
        "a.regulator",
        "/sas/requests",
        request_body(patient=patient),
        headers={"Idempotency-Key": "k1"},
    )
    # Bad input that carries the identity: validation errors and a domain error.
    world.post("a.operator", "/requests", request_body(patient=patient | {"phone": f"{NAME}!"}))
    world.post("a.operator", "/requests", request_body(patient=patient, unknown=NAME))
    world.post("a.operator", "/requests", request_body(patient=patient, priority=NAME))
    world.client.post(f"/requests?name={NAME}", json={}, headers=world.as_("a.operator"))
    assert world.client.post("/boom").status_code == 500
    # httpx's lines are the test client's own (it logs the URL it calls), not the server's.
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in server)
    assert "api.access" in {r.name for r in server}  # the access log did run
    for secret in (NAME, "Secretname", PHONE, "1984"):
        assert secret not in text
