"""Appending: canonical hashing, identity refusal, concurrency, checkpoints, purge."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from snp.audit import (
    GENESIS_HASH,
    EventKind,
    IdentityInPayloadError,
    VerifyReport,
    append,
    canonical_json,
    event_hash,
    purge_patient_contacts,
    verify,
)
from snp.db import make_session_factory, transaction
from snp.orm import AuditEventRow, PatientContactRow
from snp.patients import PatientContact, contact_digest
from tests.audit.helpers import KEY, T0, add_events, build_chain, check, new_cpts


def _events(engine: Engine, cpts_id: int) -> list[AuditEventRow]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.cpts_id == cpts_id)
                .order_by(AuditEventRow.seq)
            )
        )


def test_canonical_json_is_sorted_compact_utf8_and_utc() -> None:
    paris = timezone(timedelta(hours=1))
    value = {"b": 1, "a": [datetime(2026, 1, 1, 10, 0, tzinfo=paris)], "é": "à"}
    assert (
        canonical_json(value) == '{"a":["2026-01-01T09:00:00.000000+00:00"],"b":1,"é":"à"}'.encode()
    )


def test_same_instant_in_another_zone_hashes_the_same() -> None:
    common = {"prev_hash": GENESIS_HASH, "seq": 1, "cpts_id": 1, "actor": "a", "kind": "held"}
    utc = event_hash(at=T0, payload={}, **common)  # type: ignore[arg-type]
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    assert event_hash(at=paris, payload={}, **common) == utc  # type: ignore[arg-type]
    assert event_hash(at=T0, payload={"x": 1}, **common) != utc  # type: ignore[arg-type]


def test_chain_links_each_event_to_the_previous(engine: Engine) -> None:
    cpts_id = new_cpts(engine)
    add_events(engine, cpts_id, 4)
    rows = _events(engine, cpts_id)
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    # What is stored is exactly what was hashed (floats, accents, times survive).
    assert rows[0].payload == {"request_id": 100, "scores": [1.5, 0.25], "note": "é"}
    assert rows[0].at == T0


def test_chains_are_independent_per_cpts(engine: Engine) -> None:
    first, second = new_cpts(engine, "c1"), new_cpts(engine, "c2")
    add_events(engine, first, 3)
    add_events(engine, second, 2)
    add_events(engine, first, 1, start=3)
    assert [r.seq for r in _events(engine, first)] == [1, 2, 3, 4]
    assert [r.seq for r in _events(engine, second)] == [1, 2]
    report = check(engine)
    assert isinstance(report, VerifyReport) and report.ok
    assert [(c.cpts_code, c.events) for c in report.chains] == [("c1", 4), ("c2", 2)]


def test_payload_values_are_normalised(engine: Engine) -> None:
    cpts_id = new_cpts(engine)
    with transaction(make_session_factory(engine)) as session:
        row = append(
            session,
            cpts_id=cpts_id,
            actor="user:1",
            kind=EventKind.HELD,
            payload={"until": T0.astimezone(timezone(timedelta(hours=2))), "kind": EventKind.HELD},
            at=T0,
        )
    assert row.payload == {"until": "2026-11-26T08:00:00.000000+00:00", "kind": "held"}
    assert check(engine, cpts_id).ok  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "payload",
    [
        {"display_name": "Jeanne Dupont"},
        {"phone": "0612345678"},
        {"birth_year": 1950},
        {"name": "x"},
        {"patient": {"id": 3}},
        {"request": {"patient_phone": "06"}},
        {"proposals": [{"slot": 1}, {"Birth-Year": 1950}]},
    ],
)
def test_identity_keys_are_refused_without_echoing_the_value(
    engine: Engine, payload: dict[str, object]
) -> None:
    cpts_id = new_cpts(engine)
    with transaction(make_session_factory(engine)) as session:
        with pytest.raises(IdentityInPayloadError, match="patient_ref") as error:
            append(session, cpts_id=cpts_id, actor="user:1", kind="held", payload=payload, at=T0)
        assert "Jeanne" not in str(error.value) and "0612" not in str(error.value)
    assert _events(engine, cpts_id) == []


@pytest.mark.parametrize(
    ("kind", "at", "message"),
    [
        ("Booked!", T0, "snake_case"),
        ("x" * 41, T0, "snake_case"),
        ("booked", datetime(2026, 1, 1), "naive"),
    ],
)
def test_malformed_events_are_refused(
    engine: Engine, kind: str, at: datetime, message: str
) -> None:
    cpts_id = new_cpts(engine)
    with (
        transaction(make_session_factory(engine)) as session,
        pytest.raises(ValueError, match=message),
    ):
        append(session, cpts_id=cpts_id, actor="user:1", kind=kind, payload={}, at=at)


def test_concurrent_appends_make_one_chain(engine: Engine) -> None:
    """8 threads x 20 appends, each in its own transaction: no fork, no loss."""
    cpts_id = new_cpts(engine)
    factory = make_session_factory(engine)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(20):
                with transaction(factory) as session:
                    append(
                        session,
                        cpts_id=cpts_id,
                        actor=f"user:{n}",
                        kind=EventKind.PROPOSALS_SHOWN,
                        payload={"worker": n, "i": i},
                        at=T0 + timedelta(seconds=i),
                    )
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = _events(engine, cpts_id)
    assert [r.seq for r in rows] == list(range(1, 161))
    assert {(r.payload["worker"], r.payload["i"]) for r in rows} == {
        (n, i) for n in range(8) for i in range(20)
    }
    report = check(engine, cpts_id)
    assert isinstance(report, VerifyReport) and report.ok


def test_verify_publishes_a_checkpoint_only_when_the_head_moved(engine: Engine) -> None:
    cpts_id = build_chain(engine, events=3)  # publishes at seq 3
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        again = verify(session, cpts_id, checkpoint_key=KEY)
    assert again.chains[0].published_checkpoint_seq is None
    add_events(engine, cpts_id, 2, start=3)
    with transaction(factory) as session:
        moved = verify(session, cpts_id, checkpoint_key=KEY)
    assert moved.ok and moved.chains[0].published_checkpoint_seq == 5
    assert moved.chains[0].checkpoints == 2


def test_empty_chain_verifies_and_is_checkpointed_at_zero(engine: Engine) -> None:
    cpts_id = new_cpts(engine)
    with transaction(make_session_factory(engine)) as session:
        report = verify(session, cpts_id, checkpoint_key=KEY)
    assert report.ok and report.chains[0].published_checkpoint_seq == 0
    add_events(engine, cpts_id, 1)
    assert check(engine, cpts_id).ok  # type: ignore[attr-defined]


def _contact(session: Session, cpts_id: int, name: str, created_at: datetime) -> PatientContact:
    contact = PatientContact(display_name=name, phone="06 12 34 56 78", birth_year=1950)
    session.add(
        PatientContactRow(
            cpts_id=cpts_id,
            display_name=contact.display_name,
            phone=contact.phone,
            birth_year=contact.birth_year,
            created_at=created_at,
        )
    )
    return contact


def test_purge_erases_identity_and_the_chain_still_verifies(engine: Engine) -> None:
    first, second = build_chain(engine, 2, "c1"), build_chain(engine, 2, "c2")
    factory = make_session_factory(engine)
    patient_key = b"patient-key"
    with transaction(factory) as session:
        old = _contact(session, first, "Jeanne Dupont", T0 - timedelta(days=400))
        _contact(session, first, "Paul Durand", T0 - timedelta(days=390))
        _contact(session, second, "Marie Curie", T0 - timedelta(days=500))
        _contact(session, second, "Recent Patient", T0 - timedelta(days=10))
        append(
            session,
            cpts_id=first,
            actor="user:1",
            kind=EventKind.REQUEST_RECEIVED,
            payload={"patient_ref": contact_digest(patient_key, old)},
            at=T0,
        )
    with transaction(factory) as session:
        counts = purge_patient_contacts(session, T0 - timedelta(days=365), T0 + timedelta(hours=2))
    assert counts == {first: 2, second: 1}
    with Session(engine) as session:
        contacts = session.scalars(select(PatientContactRow).order_by(PatientContactRow.id)).all()
        assert [c.display_name for c in contacts] == [None, None, None, "Recent Patient"]
        assert all(c.phone is None and c.birth_year is None for c in contacts[:3])
        assert all(c.purged_at == T0 + timedelta(hours=2) for c in contacts[:3])
        purged = session.scalars(
            select(AuditEventRow).where(AuditEventRow.kind == EventKind.PATIENT_PURGED)
        ).all()
    assert sorted((e.cpts_id, e.payload["count"]) for e in purged) == [(first, 2), (second, 1)]
    # Checkpoints signed before the purge still match: no hash depended on identity.
    report = check(engine)
    assert isinstance(report, VerifyReport) and report.ok
    with transaction(factory) as session:
        # Already purged contacts are not counted twice.
        assert purge_patient_contacts(session, T0 - timedelta(days=365), T0) == {}


def test_nothing_identifying_reaches_the_logs_or_the_chain(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cpts_id = new_cpts(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        contact = _contact(session, cpts_id, "Jeanne Dupont", T0 - timedelta(days=400))
        append(
            session,
            cpts_id=cpts_id,
            actor="user:1",
            kind=EventKind.BOOKED,
            payload={"patient_ref": contact_digest(b"k", contact), "slot_id": 4},
            at=T0,
        )
        with pytest.raises(IdentityInPayloadError):
            append(
                session,
                cpts_id=cpts_id,
                actor="user:1",
                kind=EventKind.BOOKED,
                payload={"display_name": contact.display_name},
                at=T0,
            )
    with transaction(factory) as session:
        purge_patient_contacts(session, T0, T0)
        verify(session, checkpoint_key=KEY)
    assert caplog.records, "the audit module should log what it does"
    for secret in ("Jeanne", "Dupont", "06 12 34 56 78", "1950"):
        assert secret not in caplog.text
    for row in _events(engine, cpts_id):
        assert "Jeanne" not in canonical_json(row.payload).decode()
