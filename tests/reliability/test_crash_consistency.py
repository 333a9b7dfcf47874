"""SIGKILL in the middle of a batch plan and of ledger postings: nothing half done.

* plan: pending requests, ``POST /plan`` sent, the whole server SIGKILLed at a
  random moment while it plans; after a restart the database must show the plan
  either whole or absent: orientations created == the holds listed by the
  committed 'plan_held' audit events, every oriented request has its live
  hold and every pending one none, every slot's counter equals its live holds;
* ledger: ``snp ledger demo-month`` (a month of outcomes posted to the ledger,
  one transaction per day) SIGKILLed at a random moment; afterwards every
  outcome that is in the database has its ledger entries: the product's own
  reconciliation (``reprice``) finds no orientation or shift entry missing
  (it may add the month-end availability postings, which the month never
  reached), and the ledger then equals the recomputation from the records.

Both end with ``snp audit verify`` (the real command) passing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from snp import compensation
from snp.db import make_engine, make_session_factory, transaction
from snp.orm import AuditEventRow, CareRequestRow, CptsRow, LedgerEntryRow, OrientationRow, SlotRow
from tests.reliability.conftest import (
    SERVER_ENV,
    ServerFactory,
    World,
    build_world,
    publish_slots,
    request_body,
    run_cli,
)
from tests.reliability.traffic import report
from tests.server_process import ROOT, SNP

LIVE = ("held", "booked")


def _plan_state(database_url: str) -> dict[str, int]:
    """Check the cross-table invariants; return counts for the round."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as s:
            live = Counter(
                s.scalars(select(OrientationRow.slot_id).where(OrientationRow.status.in_(LIVE)))
            )
            for slot in s.scalars(select(SlotRow)):
                assert slot.taken == live[slot.id] <= slot.capacity + slot.surnumeraire, slot.id
            live_requests = set(
                s.scalars(select(OrientationRow.request_id).where(OrientationRow.status.in_(LIVE)))
            )
            for request in s.scalars(select(CareRequestRow)):
                assert (request.status == "oriented") == (request.id in live_requests), request.id
            planned = sum(
                len(payload["held"])
                for payload in s.scalars(
                    select(AuditEventRow.payload).where(AuditEventRow.kind == "plan_held")
                )
            )
            orientations = s.scalar(select(func.count()).select_from(OrientationRow)) or 0
            held_events = s.scalar(select(func.count()).where(AuditEventRow.kind == "held")) or 0
    finally:
        engine.dispose()
    assert orientations == held_events, (orientations, held_events)
    return {"orientations": orientations, "planned": planned}


def _plan_rounds(serve: ServerFactory, database_url: str, rounds: int, name: str) -> None:
    rng = random.Random(3)
    server = serve(workers=2)
    world: World = build_world(server.base_url, database_url)
    publish_slots(world, "a", 30, 2)
    outcomes: Counter[str] = Counter()
    for _ in range(rounds):
        with world.client() as c:
            for _ in range(40):
                r = c.post("/requests", json=request_body(), headers=world.headers["a.operator"])
                assert r.status_code == 201, r.text
        before = _plan_state(database_url)
        answer: dict[str, int] = {}

        def send_plan(into: dict[str, int] = answer) -> None:
            try:
                with world.client(timeout=60) as c:
                    r = c.post("/plan", headers=world.headers["a.coordinator"])
                into["status"] = r.status_code
            except httpx.TransportError:
                into["status"] = 0

        sender = threading.Thread(target=send_plan)
        sender.start()
        time.sleep(rng.uniform(0.05, 1.2))
        server.kill()
        sender.join(timeout=90)
        server.start()
        after = _plan_state(database_url)
        status = answer.get("status", 0)
        assert status in (0, 200), status
        # All or nothing: the holds made are exactly those a committed plan listed.
        made = after["orientations"] - before["orientations"]
        assert made == after["planned"] - before["planned"], (before, after)
        committed = made > 0
        outcomes[
            f"{'answered' if status else 'killed'} {'committed' if committed else 'absent'}"
        ] += 1
        # Release the round's holds so the next plan has places again.
        with world.client() as c:
            for o in c.get("/orientations", headers=world.headers["a.coordinator"]).json():
                if o["status"] == "held":
                    c.post(
                        f"/orientations/{o['id']}/cancellation",
                        json={"close_request": True},
                        headers=world.headers["a.coordinator"],
                    )
    server.stop()
    code, output = run_cli(database_url, "audit", "verify", "--no-publish")
    report(name, {"backend": database_url.split(":", 1)[0], "rounds": dict(outcomes)})
    assert code == 0, output
    assert not server.unexpected_errors()


def test_kill_during_plan(serve: ServerFactory, database_url: str) -> None:
    _plan_rounds(serve, database_url, 2, "crash_plan")


@pytest.mark.slow
def test_kill_during_plan_long(serve: ServerFactory, database_url: str) -> None:
    _plan_rounds(serve, database_url, 12, "crash_plan_long")


def _wait_for_first_postings(
    process: subprocess.Popen[bytes], database_url: str, timeout: float
) -> bool:
    """Wait until the ledger has entries (True if the process ended first).

    Killing at a fixed delay killed before any posting on a slow machine and
    after the last one on a fast one; the first entries are the moment that
    matters, whatever the machine.
    """
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return True
            try:
                with engine.connect() as conn:
                    if conn.scalar(select(func.count()).select_from(LedgerEntryRow)):
                        return False
            except (OperationalError, ProgrammingError):
                pass  # tables not created yet, or a writer holds the lock: look again
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"no ledger entry within {timeout} s")


def test_kill_during_ledger_posting(database_url: str, tmp_path: Path) -> None:
    rng = random.Random(5)
    log = (tmp_path / "demo-month.log").open("wb")
    process = subprocess.Popen(
        [str(SNP), "ledger", "demo-month", "--period", "2026-03", "--database", database_url],
        cwd=ROOT,
        env=os.environ | SERVER_ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        finished = _wait_for_first_postings(process, database_url, timeout=180)
        if not finished:
            # Mid-posting: a little after the first entries, at a varying point.
            time.sleep(rng.uniform(0.5, 3.0))
            finished = process.poll() is not None
            if not finished:
                os.killpg(process.pid, signal.SIGKILL)
        delay = time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
        log.close()
    engine = make_engine(database_url)
    repaired: Counter[str] = Counter()
    try:
        with transaction(make_session_factory(engine)) as s:
            entries_before = s.scalar(select(func.count()).select_from(LedgerEntryRow)) or 0
            for cpts_id in s.scalars(select(CptsRow.id)):
                posted = compensation.reprice(s, cpts_id, datetime.now(UTC), caused_by="check")
                for kind in s.scalars(
                    select(LedgerEntryRow.source_kind).where(LedgerEntryRow.id.in_(posted.entries))
                ):
                    repaired[kind] += 1
                assert compensation.ledger_balances(s, cpts_id) == (
                    compensation.recompute_from_scratch(s, cpts_id)
                )
    finally:
        engine.dispose()
    code, output = run_cli(database_url, "audit", "verify", "--no-publish")
    report(
        "crash_ledger",
        {
            "backend": database_url.split(":", 1)[0],
            "killed_after_s": round(delay, 1),
            "finished_before_kill": finished,
            "entries_before_repair": entries_before,
            "repair_posted": dict(repaired),
        },
    )
    assert entries_before > 0, "killed before any posting: move the kill later"
    assert repaired["orientation"] == 0 and repaired["shift"] == 0, repaired
    assert code == 0, output
