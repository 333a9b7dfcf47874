"""Tampering with a trace the real server wrote is named by the real ``snp audit verify``.

The server orients a few requests (intake, proposals, hold, booking,
cancellation), is stopped, and the database is copied once per attack. Each
copy gets one attack straight in the database (the append-only triggers
bypassed the way :mod:`tests.audit.helpers` does): a changed row, a deleted
row, two rows swapped, a forged row inserted. The command, run as a separate
process, exits 1 and names the first broken link (seq, row, problem).
The unit tests of every attack on hand-made chains are in ``tests/audit``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from snp.audit import event_hash
from snp.db import make_engine
from tests.audit.helpers import attacker, row_id
from tests.conftest import POSTGRES_URL
from tests.reliability.conftest import (
    ServerFactory,
    build_world,
    publish_slots,
    request_body,
    run_cli,
)

TARGET = 5  # the seq attacked; the chain of CPTS a has more events than that


@contextmanager
def _copy(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A copy of the database the server wrote, dropped afterwards."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        target = tmp_path / f"copy-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(str(url.database), target)
        yield f"sqlite:///{target}"
        return
    name = f"snp_rel_copy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _changed(conn: Connection, cpts: int) -> tuple[int, int, str]:
    target = row_id(conn, cpts, TARGET)
    conn.execute(text("UPDATE audit_event SET actor = 'operator:999' WHERE id = :i"), {"i": target})
    return TARGET, target, "hash_mismatch"


def _deleted(conn: Connection, cpts: int) -> tuple[int, int, str]:
    after = row_id(conn, cpts, TARGET + 1)
    conn.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": row_id(conn, cpts, TARGET)})
    return TARGET, after, "seq_gap"


def _swapped(conn: Connection, cpts: int) -> tuple[int, int, str]:
    first, second = row_id(conn, cpts, TARGET), row_id(conn, cpts, TARGET + 1)
    swap = "UPDATE audit_event SET seq = :s WHERE id = :i"
    conn.execute(text(swap), {"s": -1, "i": first})
    conn.execute(text(swap), {"s": TARGET, "i": second})
    conn.execute(text(swap), {"s": TARGET + 1, "i": first})
    return TARGET, second, "prev_hash_mismatch"


def _inserted(conn: Connection, cpts: int) -> tuple[int, int, str]:
    """Shift the rows from TARGET up and slot a self-consistent forgery in at TARGET:
    the first link that no longer holds is the genuine row right after it."""
    head = conn.execute(
        text("SELECT max(seq) FROM audit_event WHERE cpts_id = :c"), {"c": cpts}
    ).scalar_one()
    for seq in range(head, TARGET - 1, -1):  # one by one: the unique (cpts, seq) is not deferrable
        conn.execute(
            text("UPDATE audit_event SET seq = seq + 1 WHERE cpts_id = :c AND seq = :s"),
            {"c": cpts, "s": seq},
        )
    before = conn.execute(
        text("SELECT hash, at FROM audit_event WHERE cpts_id = :c AND seq = :s"),
        {"c": cpts, "s": TARGET - 1},
    ).one()
    at = before.at
    payload = {"request_id": 1}
    conn.execute(
        text(
            "INSERT INTO audit_event (cpts_id, seq, at, actor, kind, payload, prev_hash, hash) "
            "VALUES (:c, :s, :at, 'operator:999', 'booked', :p, :prev, :h)"
        ),
        {
            "c": cpts,
            "s": TARGET,
            "at": at,
            "p": json.dumps(payload),
            "prev": before.hash,
            "h": event_hash(
                prev_hash=before.hash,
                seq=TARGET,
                cpts_id=cpts,
                at=_aware(at),
                actor="operator:999",
                kind="booked",
                payload=payload,
            ),
        },
    )
    return TARGET + 1, row_id(conn, cpts, TARGET + 1), "prev_hash_mismatch"


def _aware(at: datetime | str) -> datetime:
    """The stored time as the hash saw it (SQLite hands raw text back, naive UTC)."""
    parsed = datetime.fromisoformat(at) if isinstance(at, str) else at
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


ATTACKS: dict[str, Callable[[Connection, int], tuple[int, int, str]]] = {
    "changed": _changed,
    "deleted": _deleted,
    "swapped": _swapped,
    "inserted": _inserted,
}


def test_tampering_with_a_served_trace_is_named(
    serve: ServerFactory, database_url: str, tmp_path: Path
) -> None:
    server = serve(workers=2)
    world = build_world(server.base_url, database_url)
    slots = publish_slots(world, "a", 3, 2)
    for i in range(3):
        r = world.call("a.operator", "POST", "/requests", request_body())
        assert r.status_code == 201, r.text
        held = world.call(
            "a.operator",
            "POST",
            f"/requests/{r.json()['request']['id']}/holds",
            {"slot_id": slots[i]},
        )
        assert held.status_code == 201, held.text
        booked = world.call("a.operator", "POST", f"/orientations/{held.json()['id']}/booking")
        assert booked.status_code == 200, booked.text
    cancelled = world.call(
        "a.operator", "POST", f"/orientations/{held.json()['id']}/cancellation", {}
    )
    assert cancelled.status_code == 200, cancelled.text
    server.stop()
    code, output = run_cli(database_url, "audit", "verify")  # signs a checkpoint of the head
    assert code == 0 and "intact" in output, output
    cpts = world.ids["a"]
    for name, attack in ATTACKS.items():
        with _copy(database_url, tmp_path) as copy:
            engine = make_engine(copy)
            try:
                with attacker(engine) as conn:
                    seq, row, problem = attack(conn, cpts)
            finally:
                engine.dispose()
            code, output = run_cli(copy, "audit", "verify", "--no-publish")
            assert code == 1, (name, output)
            expected = f"BROKEN a: first broken link at seq {seq} (row {row}): {problem}"
            assert expected in output, (name, expected, output)
            assert "BROKEN b" not in output, (name, output)
