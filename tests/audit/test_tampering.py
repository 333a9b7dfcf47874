"""Tampering directly in the database is named by verify, at the right seq."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from snp.audit import GENESIS_HASH, Problem, VerifyReport, event_hash
from tests.audit.helpers import KEY, T0, attacker, build_chain, check, row_id


def _broken(engine: Engine, cpts_id: int, key: bytes = KEY) -> Any:
    report = check(engine, cpts_id, key)
    assert isinstance(report, VerifyReport)
    assert not report.ok
    return report.first_broken


def _stored(conn: Any, cpts_id: int, seq: int) -> Any:
    return conn.execute(
        text("SELECT * FROM audit_event WHERE cpts_id = :c AND seq = :s"), {"c": cpts_id, "s": seq}
    ).one()


def _insert_event(conn: Any, cpts_id: int, seq: int, prev_hash: str, hash_: str | None) -> None:
    at = T0 + timedelta(days=1, minutes=seq)
    payload = {"request_id": 999}
    computed = event_hash(
        prev_hash=prev_hash,
        seq=seq,
        cpts_id=cpts_id,
        at=at,
        actor="user:evil",
        kind="booked",
        payload=payload,
    )
    stored_at = at.replace(tzinfo=None) if conn.dialect.name == "sqlite" else at
    conn.execute(
        text(
            "INSERT INTO audit_event (cpts_id, seq, at, actor, kind, payload, prev_hash, hash) "
            "VALUES (:c, :s, :at, 'user:evil', 'booked', :p, :prev, :h)"
        ),
        {
            "c": cpts_id,
            "s": seq,
            "at": stored_at,
            "p": json.dumps(payload),
            "prev": prev_hash,
            "h": hash_ or computed,
        },
    )


def test_intact_chain_verifies(engine: Engine) -> None:
    cpts_id = build_chain(engine)
    report = check(engine, cpts_id)
    assert isinstance(report, VerifyReport)
    assert report.ok
    chain = report.chains[0]
    assert (chain.events, chain.head_seq, chain.checkpoints) == (6, 6, 1)


def test_changed_payload_is_named(engine: Engine) -> None:
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        target = row_id(conn, cpts_id, 3)
        conn.execute(
            text("UPDATE audit_event SET payload = :p WHERE id = :i"),
            {"p": json.dumps({"request_id": 1}), "i": target},
        )
    link = _broken(engine, cpts_id)
    assert (link.seq, link.row_id, link.problem) == (3, target, Problem.HASH_MISMATCH)


def test_changed_row_with_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        row = _stored(conn, cpts_id, 3)
        forged = event_hash(
            prev_hash=row.prev_hash,
            seq=3,
            cpts_id=cpts_id,
            at=T0 + timedelta(minutes=2),
            actor="user:7",
            kind="held",
            payload={"request_id": 1},
        )
        conn.execute(
            text("UPDATE audit_event SET payload = :p, hash = :h WHERE id = :i"),
            {"p": json.dumps({"request_id": 1}), "h": forged, "i": row.id},
        )
    link = _broken(engine, cpts_id)
    assert (link.seq, link.problem) == (4, Problem.PREV_HASH_MISMATCH)


def test_deleted_middle_row_is_named(engine: Engine) -> None:
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        after = row_id(conn, cpts_id, 4)
        conn.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": row_id(conn, cpts_id, 3)})
    link = _broken(engine, cpts_id)
    assert (link.seq, link.row_id, link.problem) == (3, after, Problem.SEQ_GAP)


def test_deleted_newest_rows_are_caught_by_the_checkpoint(engine: Engine) -> None:
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        conn.execute(
            text("DELETE FROM audit_event WHERE cpts_id = :c AND seq >= 5"), {"c": cpts_id}
        )
    link = _broken(engine, cpts_id)
    assert (link.seq, link.problem) == (5, Problem.TRUNCATED)


def test_rewritten_tail_is_caught_by_the_checkpoint(engine: Engine) -> None:
    """Delete the newest rows and append well-formed forgeries in their place:
    the chain is self-consistent, the signed head is not."""
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        conn.execute(
            text("DELETE FROM audit_event WHERE cpts_id = :c AND seq >= 5"), {"c": cpts_id}
        )
        prev = _stored(conn, cpts_id, 4).hash
        for seq in (5, 6, 7):
            _insert_event(conn, cpts_id, seq, prev, None)
            prev = _stored(conn, cpts_id, seq).hash
    link = _broken(engine, cpts_id)
    assert (link.seq, link.problem) == (6, Problem.CHECKPOINT_MISMATCH)


def test_swapped_rows_are_named(engine: Engine) -> None:
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        third, fourth = row_id(conn, cpts_id, 3), row_id(conn, cpts_id, 4)
        swap = "UPDATE audit_event SET seq = :s WHERE id = :i"
        conn.execute(text(swap), {"s": -1, "i": third})
        conn.execute(text(swap), {"s": 3, "i": fourth})
        conn.execute(text(swap), {"s": 4, "i": third})
    link = _broken(engine, cpts_id)
    assert (link.seq, link.row_id, link.problem) == (3, fourth, Problem.PREV_HASH_MISMATCH)


def test_forged_row_inserted_in_the_middle_is_named(engine: Engine) -> None:
    """The attacker shifts seq 3.. up and slots a self-consistent forgery in at
    3: the first link that no longer holds is the genuine row right after it."""
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        for seq in range(6, 2, -1):  # one by one: the unique (cpts_id, seq) is not deferrable
            conn.execute(
                text("UPDATE audit_event SET seq = seq + 1 WHERE cpts_id = :c AND seq = :s"),
                {"c": cpts_id, "s": seq},
            )
        _insert_event(conn, cpts_id, 3, _stored(conn, cpts_id, 2).hash, None)
        genuine = row_id(conn, cpts_id, 4)
    link = _broken(engine, cpts_id)
    assert (link.seq, link.row_id, link.problem) == (4, genuine, Problem.PREV_HASH_MISMATCH)


@pytest.mark.parametrize("wrong", ["hash", "prev_hash"])
def test_forged_row_appended_badly_is_named(engine: Engine, wrong: str) -> None:
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        head = _stored(conn, cpts_id, 6).hash
        if wrong == "hash":
            _insert_event(conn, cpts_id, 7, head, "f" * 64)
        else:
            _insert_event(conn, cpts_id, 7, GENESIS_HASH, None)
        forged = row_id(conn, cpts_id, 7)
    link = _broken(engine, cpts_id)
    expected = Problem.HASH_MISMATCH if wrong == "hash" else Problem.PREV_HASH_MISMATCH
    assert (link.seq, link.row_id, link.problem) == (7, forged, expected)


def test_altered_checkpoint_is_detected(engine: Engine) -> None:
    """Rolling the signed head back to hide a truncation needs the key."""
    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        conn.execute(
            text("DELETE FROM audit_event WHERE cpts_id = :c AND seq >= 5"), {"c": cpts_id}
        )
        conn.execute(
            text("UPDATE audit_checkpoint SET seq = 4, head_hash = :h WHERE cpts_id = :c"),
            {"h": _stored(conn, cpts_id, 4).hash, "c": cpts_id},
        )
    link = _broken(engine, cpts_id)
    assert (link.seq, link.problem) == (4, Problem.BAD_CHECKPOINT_SIGNATURE)


def test_checkpoint_checked_with_another_key_fails(engine: Engine) -> None:
    cpts_id = build_chain(engine)
    assert _broken(engine, cpts_id, key=b"other").problem == Problem.BAD_CHECKPOINT_SIGNATURE


def test_broken_chain_is_not_signed(engine: Engine) -> None:
    """Signing a tampered head would launder it."""
    from snp.audit import verify
    from snp.db import make_session_factory, transaction

    cpts_id = build_chain(engine)
    with attacker(engine) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE cpts_id = :c AND seq = 6"), {"c": cpts_id})
    with transaction(make_session_factory(engine)) as session:
        report = verify(session, cpts_id, checkpoint_key=KEY)
    assert not report.ok and report.chains[0].published_checkpoint_seq is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_checkpoint")).scalar_one() == 1


@pytest.mark.parametrize("table", ["audit_event", "audit_checkpoint"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET seq = seq + 100", "DELETE FROM {table}"])
def test_database_refuses_update_and_delete(engine: Engine, table: str, statement: str) -> None:
    build_chain(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement.format(table=table)))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0


def test_postgres_refuses_truncate(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL only")
    build_chain(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_event"))
