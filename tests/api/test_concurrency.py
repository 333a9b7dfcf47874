"""Many callers racing for one slot get exactly its capacity in holds; the others
get 409 with the next proposals. Threads on both backends; on PostgreSQL also
separate server processes (uvicorn workers) sharing the database."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from snp.db import make_session_factory
from snp.orm import SlotRow
from tests.api.conftest import SECRET, MovableClock, World, request_body
from tests.server_process import ServerProcess

CAPACITY = 2
CALLERS = 10


def _publish_slot(world: World, start: datetime, capacity: int) -> tuple[int, datetime]:
    """A slot of a.professional at ``start`` or the first free hour after it."""
    for _ in range(24):  # step past the published plage slots, whenever the suite runs
        end = start + timedelta(minutes=20)
        slot = {"start": start.isoformat(), "end": end.isoformat(), "capacity": capacity}
        r = world.post("a.professional", "/slots", slot)
        if r.status_code == 201:
            return r.json()["id"], start
        start += timedelta(hours=1)
    raise AssertionError(r.text)


def _contested_slot_and_requests(world: World, now: datetime) -> tuple[int, list[int]]:
    start = now.replace(second=0, microsecond=0) + timedelta(hours=2)
    slot_id, start = _publish_slot(world, start, CAPACITY)
    # Somewhere for the losers to go whatever the day: the world's Thursday plage is
    # only within 48 h of the real clock (the server processes' one) on some days.
    _publish_slot(world, start + timedelta(hours=1), CALLERS)
    # within_48h: a deadline after the slots whatever the hour the suite runs at.
    body = request_body(priority="within_48h")
    requests = [
        world.post("a.operator", "/requests", body).json()["request"]["id"] for _ in range(CALLERS)
    ]
    return slot_id, requests


def _check(outcomes: list[tuple[int, Any]], slot_id: int, engine: Engine) -> None:
    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {201: CAPACITY, 409: CALLERS - CAPACITY}, statuses
    for status, body in outcomes:
        if status == 409:
            assert body["slot_id"] == slot_id and body["next_proposals"]
            assert slot_id not in {p["slot_id"] for p in body["next_proposals"]}
    with make_session_factory(engine)() as session:
        assert session.get(SlotRow, slot_id).taken == CAPACITY  # type: ignore[union-attr]


def test_threads_race_for_one_slot(world: World, engine: Engine, clock: MovableClock) -> None:
    slot_id, requests = _contested_slot_and_requests(world, clock.now)

    def hold(request_id: int) -> tuple[int, Any]:
        r = world.post("a.operator", f"/requests/{request_id}/holds", {"slot_id": slot_id})
        return r.status_code, r.json()

    with ThreadPoolExecutor(CALLERS) as pool:
        outcomes = list(pool.map(hold, requests))
    _check(outcomes, slot_id, engine)


def test_server_processes_race_for_one_slot(
    world: World, engine: Engine, clock: MovableClock, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several server processes are meant for PostgreSQL")
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    url = engine.url.set(query={"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    # The server runs on real time: intake here must too, for the windows to agree.
    clock.now = datetime.now(UTC)
    slot_id, requests = _contested_slot_and_requests(world, clock.now)
    server = ServerProcess(url, tmp_path / "server.log", workers=2, env={"SNP_JWT_SECRET": SECRET})
    try:
        server.start(timeout=30)
        headers = world.as_("a.operator")

        def hold(request_id: int) -> tuple[int, Any]:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                r = client.post(
                    f"/requests/{request_id}/holds", json={"slot_id": slot_id}, headers=headers
                )
            return r.status_code, r.json()

        with ThreadPoolExecutor(CALLERS) as pool:
            outcomes = list(pool.map(hold, requests))
    finally:
        server.stop()
    _check(outcomes, slot_id, engine)
