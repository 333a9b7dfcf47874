"""Build audit chains and tamper with them the way someone with database access would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from snp.audit import EventKind, append, verify
from snp.db import make_session_factory, transaction
from tests import factories

KEY = b"test-audit-key"
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
KINDS = [
    EventKind.REQUEST_RECEIVED,
    EventKind.PROPOSALS_SHOWN,
    EventKind.HELD,
    EventKind.BOOKED,
    EventKind.OUTCOME_RECORDED,
    EventKind.CANCELLED,
]


def new_cpts(engine: Engine, code: str = "c1") -> int:
    with transaction(make_session_factory(engine)) as session:
        return factories.cpts(session, code).id


def add_events(engine: Engine, cpts_id: int, count: int, start: int = 0) -> None:
    with transaction(make_session_factory(engine)) as session:
        for i in range(start, start + count):
            append(
                session,
                cpts_id=cpts_id,
                actor="user:7",
                kind=KINDS[i % len(KINDS)],
                payload={"request_id": 100 + i, "scores": [1.5, 0.25], "note": "é"},
                at=T0 + timedelta(minutes=i),
            )


def build_chain(engine: Engine, events: int = 6, code: str = "c1") -> int:
    """A CPTS with ``events`` events and a signed checkpoint of its head."""
    cpts_id = new_cpts(engine, code)
    add_events(engine, cpts_id, events)
    with transaction(make_session_factory(engine)) as session:
        report = verify(session, cpts_id, checkpoint_key=KEY, at=T0 + timedelta(hours=1))
    assert report.ok and report.chains[0].published_checkpoint_seq == events
    return cpts_id


def check(engine: Engine, cpts_id: int | None = None, key: bytes = KEY) -> object:
    with Session(engine) as session, session.begin():
        return verify(session, cpts_id, checkpoint_key=key, publish=False)


@contextmanager
def attacker(engine: Engine) -> Iterator[Connection]:
    """A connection whose writes bypass the append-only triggers: a superuser
    on PostgreSQL (replica role skips triggers), a file owner on SQLite."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("audit_event", "audit_checkpoint"):
                for operation in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}"))
        yield conn


def row_id(conn: Connection, cpts_id: int, seq: int) -> int:
    found = conn.execute(
        text("SELECT id FROM audit_event WHERE cpts_id = :c AND seq = :s"), {"c": cpts_id, "s": seq}
    ).scalar_one()
    assert isinstance(found, int)
    return found
