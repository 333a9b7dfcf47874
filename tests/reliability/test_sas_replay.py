"""SAS pushes survive server crashes: every request acknowledged exactly once.

Four SAS clients push requests, each with its own Idempotency-Key, to a 2-worker
``snp serve``. Client timeouts are short and random (some answers come too late,
so the client retries while the first attempt may still commit), and a killer
thread SIGKILLs the whole server (master and workers) at random moments and
starts it again. A client retries the same key and body until it gets a 201.

Afterwards (server stopped), from the database: one SAS care request per key
(none lost, none duplicated), one idempotency record per key, every answer a
client got for a key names the same request, and ``snp audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import defaultdict

import httpx
import pytest
from sqlalchemy import func, select

from snp.db import make_engine, make_session_factory
from snp.orm import CareRequestRow, IdempotencyKeyRow
from tests.reliability.conftest import ServerFactory, World, build_world, request_body, run_cli
from tests.reliability.traffic import report, run_clients
from tests.server_process import ServerProcess

PUSHERS = 4
PRIORITIES = ("same_day", "within_48h")


def _killer(
    server: ServerProcess,
    stop: threading.Event,
    kills: int,
    pushes: int,
    progress: dict[str, int],
    rng: random.Random,
) -> None:
    """SIGKILL the server ``kills`` times while the pushes are under way, restart it.

    Kills are tied to progress (spread over the acknowledged keys, each a little
    after its mark) rather than to the clock: a fast backend would otherwise
    finish every push before the first kill and the test would prove nothing.
    """
    for i in range(kills):
        mark = pushes * (i + 1) // (kills + 1)
        while progress["acknowledged"] < mark:
            if stop.wait(0.01):
                return
        time.sleep(rng.uniform(0.0, 0.05))  # not always at the same point of a request
        server.kill()
        time.sleep(rng.uniform(0.0, 0.5))
        server.start()


async def _push_all(
    world: World, keys: list[str], seconds: float, rng: random.Random, progress: dict[str, int]
) -> tuple[dict[str, list[tuple[int, bool]]], dict[str, int]]:
    acks: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    deadline = time.monotonic() + seconds
    headers = world.headers["a.regulator"]
    queue = list(keys)

    async def pusher() -> None:
        async with httpx.AsyncClient(base_url=world.base_url) as http:
            while queue and time.monotonic() < deadline:
                key = queue.pop()
                body = request_body(priority=PRIORITIES[hash(key) % 2])
                for _ in range(5000):  # bounded retries per key, and by the deadline
                    counts["attempts"] += 1
                    try:
                        r = await http.post(
                            "/sas/requests",
                            json=body,
                            headers=headers | {"Idempotency-Key": key},
                            timeout=rng.uniform(0.15, 1.5),
                        )
                    except httpx.TimeoutException:
                        counts["timeouts"] += 1
                        continue
                    except httpx.TransportError:
                        counts["connection_errors"] += 1
                        if time.monotonic() > deadline:
                            return
                        await asyncio.sleep(0.2)
                        continue
                    counts[f"status_{r.status_code}"] += 1
                    if r.status_code == 201:
                        replayed = r.headers.get("Idempotent-Replayed") == "true"
                        acks[key].append((r.json()["request"]["id"], replayed))
                        progress["acknowledged"] += 1
                        break
                    assert r.status_code < 500, r.text
                    await asyncio.sleep(0.1)
                if time.monotonic() > deadline:
                    return

    await asyncio.gather(*(pusher() for _ in range(PUSHERS)))
    return acks, counts


def _run(serve: ServerFactory, database_url: str, pushes: int, kills: int, name: str) -> None:
    rng = random.Random(7)
    server = serve(workers=2)
    world = build_world(server.base_url, database_url)
    keys = [str(uuid.uuid4()) for _ in range(pushes)]
    stop = threading.Event()
    progress = {"acknowledged": 0}
    killer = threading.Thread(
        target=_killer, args=(server, stop, kills, pushes, progress, rng), daemon=True
    )
    killer.start()
    try:
        acks, counts = run_clients(_push_all(world, keys, 240, rng, progress))
    finally:
        stop.set()
        killer.join(timeout=90)
    # Retries of the last in-flight attempts may land after a restart: settle, then stop.
    if server.process is None:
        server.start()
    server.stop()
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            cpts = world.ids["a"]
            sas_ids = set(
                session.scalars(
                    select(CareRequestRow.id).where(
                        CareRequestRow.cpts_id == cpts, CareRequestRow.origin == "sas"
                    )
                ).all()
            )
            stored_keys = session.scalar(
                select(func.count()).where(IdempotencyKeyRow.cpts_id == cpts)
            )
    finally:
        engine.dispose()
    code, output = run_cli(database_url, "audit", "verify", "--no-publish")
    acknowledged = {key: {rid for rid, _ in answers} for key, answers in acks.items()}
    figures = {
        "backend": database_url.split(":", 1)[0],
        "keys": pushes,
        "acknowledged": len(acknowledged),
        "server_kills": server.starts - 1,
        "replays": sum(replayed for answers in acks.values() for _, replayed in answers),
        "duplicates": len(sas_ids) - len(acknowledged),
        "lost": len(set().union(*acknowledged.values()) - sas_ids) if acknowledged else 0,
        **counts,
        "server_errors": sum(n for k, n in counts.items() if k.startswith("status_5"))
        + len(server.unexpected_errors()),
    }
    report(name, figures)
    assert server.starts - 1 == kills, "the server was not killed as often as planned"
    assert set(acknowledged) == set(keys), "some pushes were never acknowledged"
    assert all(len(ids) == 1 for ids in acknowledged.values()), "a key answered two requests"
    assert set().union(*acknowledged.values()) == sas_ids, "lost or unacknowledged requests"
    assert len(sas_ids) == pushes and stored_keys == pushes
    assert figures["server_errors"] == 0, server.unexpected_errors()[:5]
    assert code == 0, output


def test_sas_replay_under_kills(serve: ServerFactory, database_url: str) -> None:
    _run(serve, database_url, pushes=40, kills=3, name="sas_replay")


@pytest.mark.slow
def test_sas_replay_under_kills_long(serve: ServerFactory, database_url: str) -> None:
    _run(serve, database_url, pushes=400, kills=20, name="sas_replay_long")
