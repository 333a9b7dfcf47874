"""The tamper-evident audit trail: one append-only, hash-chained log per CPTS.

Each event's hash is SHA-256 over the canonical JSON of its chain position
(cpts_id, seq), the previous event's hash, and its content (at, actor, kind,
payload). Changing, deleting, inserting or reordering a row therefore breaks a
link that :func:`verify` names. A chain alone cannot see its newest rows
deleted, so :func:`checkpoint` signs the head (HMAC-SHA256 with a key the
database does not hold) into the separate ``audit_checkpoint`` table; verify
compares the chain with every checkpoint, which reveals truncation.

Limit, stated plainly: the chain hash is unkeyed so anyone can re-verify it;
someone with write access to the database can therefore append well-formed
rows after the latest checkpoint. Those rows are caught only once a later
checkpoint published elsewhere disagrees, which is why checkpoints should be
published on a schedule and copied out of the database.

Patient identity never enters a payload: the caller passes ``patient_ref``
(:func:`snp.patients.contact_digest`) and :func:`append` refuses keys that
look like identity, so purging contacts leaves every hash intact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import event, insert, select, text, update
from sqlalchemy.orm import Session, SessionTransaction

from snp.orm import AuditCheckpointRow, AuditEventRow, CptsRow, PatientContactRow

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# Namespace of our PostgreSQL advisory locks, so they never collide with a
# lock another module takes on the same CPTS id ("SNPA").
_PG_LOCK_NAMESPACE = 0x534E5041


class EventKind(StrEnum):
    """Kinds of orientation events; ``append`` accepts any snake_case kind, so
    new kinds need no migration, but the known ones are named here."""

    REQUEST_RECEIVED = "request_received"
    PROPOSALS_SHOWN = "proposals_shown"
    HELD = "held"
    BOOKED = "booked"
    HOLD_EXPIRED = "hold_expired"
    CANCELLED = "cancelled"
    REORIENTED = "reoriented"
    RESCHEDULED = "rescheduled"
    OUTCOME_RECORDED = "outcome_recorded"
    UNSERVED = "unserved"
    SURNUMERAIRE = "surnumeraire"
    PLAN_HELD = "plan_held"
    SAS_PUSH = "sas_push"
    PATIENT_PURGED = "patient_purged"


_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

# Keys that would carry a patient's identity. Matching is on the normalised
# key; the error never echoes the value, which is the very thing to keep out.
_IDENTITY_KEYS = frozenset(
    {
        "name",
        "display_name",
        "full_name",
        "first_name",
        "last_name",
        "nom",
        "prenom",
        "prénom",
        "patient",
        "patient_name",
        "contact",
        "phone",
        "telephone",
        "téléphone",
        "mobile",
        "email",
        "mail",
        "birth_year",
        "birth_date",
        "birthdate",
        "date_of_birth",
        "dob",
        "address",
        "adresse",
        "nir",
        "ssn",
        "insurance_number",
    }
)
_IDENTITY_FRAGMENTS = ("phone", "birth", "email", "display_name", "patient_name")


class IdentityInPayloadError(ValueError):
    """A payload key looks like patient identity; pass ``patient_ref`` instead."""


# ---------------------------------------------------------------- canonical form


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not allowed in an audit payload")


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime in the audit trail; use an aware one")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8, datetimes as ISO UTC: one byte string
    per value, so a hash computed today is recomputed identically later."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    ).encode("utf-8")


def _check_no_identity(value: object, path: str = "payload") -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            normalised = str(key).strip().lower().replace("-", "_").replace(" ", "_")
            if normalised in _IDENTITY_KEYS or any(f in normalised for f in _IDENTITY_FRAGMENTS):
                raise IdentityInPayloadError(
                    f"{path}.{key} looks like patient identity; the audit trail takes "
                    "patient_ref (a keyed digest, see snp.patients.contact_digest) instead"
                )
            _check_no_identity(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_no_identity(item, f"{path}[{index}]")


def normalise_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload exactly as it will read back from a JSON column, so that the
    stored value and the hashed value are the same."""
    _check_no_identity(payload)
    loaded = json.loads(canonical_json(dict(payload)))
    assert isinstance(loaded, dict)
    return loaded


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    cpts_id: int,
    at: datetime,
    actor: str,
    kind: str,
    payload: Mapping[str, Any],
) -> str:
    material = {
        "prev_hash": prev_hash,
        "seq": seq,
        "cpts_id": cpts_id,
        "at": _iso_utc(at),
        "actor": actor,
        "kind": str(kind),
        "payload": payload,
    }
    return hashlib.sha256(canonical_json(material)).hexdigest()


def _row_hash(row: AuditEventRow | Any) -> str:
    return event_hash(
        prev_hash=row.prev_hash,
        seq=row.seq,
        cpts_id=row.cpts_id,
        at=row.at,
        actor=row.actor,
        kind=row.kind,
        payload=row.payload,
    )


# ---------------------------------------------------------------------- append
#
# Events are queued in the session and chained at commit (``before_commit``),
# so the chain lock is the *last* lock a transaction takes, held only for the
# head read, the inserts and the commit itself:
#
# * a transaction that holds a chain lock waits for nothing but the chain locks
#   of higher CPTS ids (taken in ascending order), never for a row lock, so the
#   chain cannot be part of a deadlock cycle;
# * writers of one CPTS no longer run one at a time for their whole
#   transaction: only their commits are serialised.
#
# The chain itself is unchanged: seq, prev_hash and hash are computed exactly
# as before, in commit order, which is the order the head moves in.

_PENDING = "snp.audit.pending"  # session.info key: events queued in this transaction
_MARKS = "snp.audit.savepoints"  # session.info key: queue length when each savepoint began


def lock_chain(session: Session, cpts_id: int) -> None:
    """Serialise appends to one chain until the caller's transaction ends.

    Taken by :func:`write_pending` at commit, after every other write of the
    transaction was flushed, and by :func:`checkpoint`; nothing waits for a row
    lock while holding it.

    Without it two transactions read the same head and the loser fails on the
    unique (cpts_id, seq) constraint. An advisory lock (rather than SELECT ...
    FOR UPDATE on the cpts row) does not block the foreign-key checks of
    unrelated inserts that reference the CPTS. SQLite needs nothing: our
    engine opens every transaction with BEGIN IMMEDIATE, one writer at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
            {"namespace": _PG_LOCK_NAMESPACE, "key": cpts_id % 2**31},
        )


def _head(session: Session, cpts_id: int) -> tuple[int, str]:
    row = session.execute(
        select(AuditEventRow.seq, AuditEventRow.hash)
        .where(AuditEventRow.cpts_id == cpts_id)
        .order_by(AuditEventRow.seq.desc())
        .limit(1)
    ).first()
    return (0, GENESIS_HASH) if row is None else (row.seq, row.hash)


def append(
    session: Session,
    *,
    cpts_id: int,
    actor: str,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> AuditEventRow:
    """Queue one event for the CPTS chain; it is chained when the caller's
    transaction commits (and vanishes with it on rollback).

    The returned row (never added to the session) gets its ``seq``,
    ``prev_hash`` and ``hash`` at commit.
    Raises :class:`IdentityInPayloadError` (a ValueError) for identity keys and
    ValueError for a malformed kind or actor, before anything is queued.
    """
    if not _KIND.match(str(kind)):
        raise ValueError(f"audit kind {kind!r} must be snake_case, at most 40 characters")
    if not actor or len(actor) > 120:
        raise ValueError("audit actor must be 1-120 characters")
    clean = normalise_payload(payload)
    at = at.astimezone(UTC) if at.tzinfo is not None else at
    _iso_utc(at)  # refuses naive times before they reach the hash
    row = AuditEventRow(cpts_id=cpts_id, at=at, actor=actor, kind=str(kind), payload=clean)
    session.info.setdefault(_PENDING, []).append(row)
    return row


def write_pending(session: Session) -> None:
    """Chain and insert the events queued in this transaction.

    Every other pending change is flushed first, so that all the transaction's
    row locks are taken before the chain lock; then, per CPTS in ascending id
    order: lock the chain, read its head, insert the events in the order they
    were appended.
    """
    if not session.info.get(_PENDING):
        return
    session.flush()
    pending: list[AuditEventRow] = session.info.pop(_PENDING)
    by_cpts: dict[int, list[AuditEventRow]] = {}
    for row in pending:
        by_cpts.setdefault(row.cpts_id, []).append(row)
    for cpts_id in sorted(by_cpts):
        lock_chain(session, cpts_id)
        seq, prev_hash = _head(session, cpts_id)
        values = []
        for row in by_cpts[cpts_id]:
            seq += 1
            row.seq, row.prev_hash = seq, prev_hash
            row.hash = prev_hash = _row_hash(row)
            values.append({c: getattr(row, c) for c in _INSERTED})
            # Kind and position only: payloads may hold references a log reader
            # should not correlate, and never identity.
            logger.debug("audit cpts=%d seq=%d kind=%s", cpts_id, seq, row.kind)
        # A plain INSERT (the rows stay out of the session): the shortest time
        # under the chain lock.
        session.execute(insert(AuditEventRow), values)


_INSERTED = ("cpts_id", "seq", "at", "actor", "kind", "payload", "prev_hash", "hash")


@event.listens_for(Session, "before_commit")
def _chain_on_commit(session: Session) -> None:
    # Also fires when a savepoint is released: its events are then written inside
    # the outer transaction, which is correct, only earlier than the outer commit.
    write_pending(session)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Events of a rolled-back savepoint (or transaction) are forgotten with it."""
    if previous_transaction.nested:
        mark = session.info.get(_MARKS, {}).get(id(previous_transaction))
        if mark is not None and _PENDING in session.info:
            del session.info[_PENDING][mark:]
    else:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.get(_MARKS, {}).pop(id(transaction), None)
    elif transaction.parent is None:
        # The outermost transaction ended: its events were written at commit, or
        # it was rolled back or closed and they never happened.
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)


# ------------------------------------------------------------------ checkpoints


def _signature(key: bytes, *, cpts_id: int, seq: int, head_hash: str, at: datetime) -> str:
    material = {"cpts_id": cpts_id, "seq": seq, "head_hash": head_hash, "at": _iso_utc(at)}
    return hmac.new(key, canonical_json(material), hashlib.sha256).hexdigest()


def checkpoint_is_authentic(row: AuditCheckpointRow, key: bytes) -> bool:
    expected = _signature(key, cpts_id=row.cpts_id, seq=row.seq, head_hash=row.head_hash, at=row.at)
    return hmac.compare_digest(expected, row.signature)


def checkpoint(session: Session, cpts_id: int, key: bytes, at: datetime) -> AuditCheckpointRow:
    """Sign the current head of the CPTS chain and store it apart from the chain."""
    if not key:
        raise ValueError("a checkpoint key is required")
    # The transaction's own queued events belong before the signed head; after
    # this, the chain lock is held and only reads and this insert follow.
    write_pending(session)
    lock_chain(session, cpts_id)  # the head must not move while we sign it
    seq, head_hash = _head(session, cpts_id)
    row = AuditCheckpointRow(
        cpts_id=cpts_id,
        seq=seq,
        head_hash=head_hash,
        at=at,
        signature=_signature(key, cpts_id=cpts_id, seq=seq, head_hash=head_hash, at=at),
    )
    session.add(row)
    session.flush()
    logger.info("audit checkpoint cpts=%d seq=%d", cpts_id, seq)
    return row


# ----------------------------------------------------------------------- verify


class Problem(StrEnum):
    HASH_MISMATCH = "hash_mismatch"  # the row's content was changed
    PREV_HASH_MISMATCH = "prev_hash_mismatch"  # a row inserted, reordered or replaced before it
    SEQ_GAP = "seq_gap"  # rows deleted from the middle
    TRUNCATED = "truncated"  # newest rows deleted: the head is behind a checkpoint
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # the chain differs from a signed head
    BAD_CHECKPOINT_SIGNATURE = "bad_checkpoint_signature"  # a checkpoint row was forged


@dataclass(frozen=True, slots=True)
class BrokenLink:
    cpts_id: int
    seq: int  # chain position where the chain stops being trustworthy
    row_id: int | None  # the audit_event (or audit_checkpoint) row found there
    problem: Problem
    detail: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    cpts_id: int
    cpts_code: str
    events: int
    head_seq: int
    head_hash: str
    checkpoints: int
    broken: BrokenLink | None
    published_checkpoint_seq: int | None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    chains: tuple[ChainReport, ...]

    @property
    def ok(self) -> bool:
        return all(chain.ok for chain in self.chains)

    @property
    def first_broken(self) -> BrokenLink | None:
        return next((c.broken for c in self.chains if c.broken is not None), None)


def _walk_chain(
    rows: Iterable[Any], cpts_id: int, wanted: set[int]
) -> tuple[int, int, str, BrokenLink | None, dict[int, str]]:
    """Walk rows in seq order: (count, head seq, head hash, first break, hashes
    at the wanted seqs)."""
    count, expected, prev_hash = 0, 1, GENESIS_HASH
    head_seq, head_hash = 0, GENESIS_HASH
    broken: BrokenLink | None = None
    hashes: dict[int, str] = {}
    for row in rows:
        count += 1
        head_seq, head_hash = row.seq, row.hash
        if row.seq in wanted:
            hashes[row.seq] = row.hash
        if broken is None:
            if row.seq != expected:
                broken = BrokenLink(
                    cpts_id,
                    expected,
                    row.id,
                    Problem.SEQ_GAP,
                    f"seq {expected} is missing (next row found is seq {row.seq}): "
                    "rows were deleted",
                )
            elif row.prev_hash != prev_hash:
                broken = BrokenLink(
                    cpts_id,
                    row.seq,
                    row.id,
                    Problem.PREV_HASH_MISMATCH,
                    f"prev_hash {row.prev_hash[:12]}… does not match the hash of seq "
                    f"{row.seq - 1} ({prev_hash[:12]}…): a row was inserted, replaced or "
                    "reordered here",
                )
            elif _row_hash(row) != row.hash:
                broken = BrokenLink(
                    cpts_id,
                    row.seq,
                    row.id,
                    Problem.HASH_MISMATCH,
                    "stored hash does not match the row's content: the row was changed",
                )
        expected, prev_hash = row.seq + 1, row.hash
    return count, head_seq, head_hash, broken, hashes


def _check_checkpoints(
    checkpoints: list[AuditCheckpointRow],
    key: bytes,
    head_seq: int,
    hashes: dict[int, str],
) -> list[BrokenLink]:
    problems: list[BrokenLink] = []
    for cp in checkpoints:
        if not checkpoint_is_authentic(cp, key):
            problems.append(
                BrokenLink(
                    cp.cpts_id,
                    cp.seq,
                    cp.id,
                    Problem.BAD_CHECKPOINT_SIGNATURE,
                    f"checkpoint #{cp.id} at seq {cp.seq} has an invalid signature: "
                    "the checkpoint was forged or altered (or the key is wrong)",
                )
            )
        elif cp.seq > head_seq:
            problems.append(
                BrokenLink(
                    cp.cpts_id,
                    head_seq + 1,
                    None,
                    Problem.TRUNCATED,
                    f"chain ends at seq {head_seq} but checkpoint #{cp.id} signed seq "
                    f"{cp.seq}: the newest rows were deleted",
                )
            )
        elif cp.seq > 0 and hashes.get(cp.seq) != cp.head_hash:
            problems.append(
                BrokenLink(
                    cp.cpts_id,
                    cp.seq,
                    None,
                    Problem.CHECKPOINT_MISMATCH,
                    f"the row at seq {cp.seq} differs from the head signed by checkpoint "
                    f"#{cp.id}: the chain was rewritten",
                )
            )
    return problems


def _verify_chain(
    session: Session, cpts: CptsRow, key: bytes, publish: bool, at: datetime
) -> ChainReport:
    checkpoints = list(
        session.scalars(
            select(AuditCheckpointRow)
            .where(AuditCheckpointRow.cpts_id == cpts.id)
            .order_by(AuditCheckpointRow.seq, AuditCheckpointRow.id)
        )
    )
    rows = session.execute(
        select(
            AuditEventRow.id,
            AuditEventRow.cpts_id,
            AuditEventRow.seq,
            AuditEventRow.at,
            AuditEventRow.actor,
            AuditEventRow.kind,
            AuditEventRow.payload,
            AuditEventRow.prev_hash,
            AuditEventRow.hash,
        )
        .where(AuditEventRow.cpts_id == cpts.id)
        .order_by(AuditEventRow.seq)
        .execution_options(yield_per=2000)  # long chains are streamed, not loaded
    )
    count, head_seq, head_hash, broken, hashes = _walk_chain(
        rows, cpts.id, {cp.seq for cp in checkpoints}
    )
    candidates = _check_checkpoints(checkpoints, key, head_seq, hashes)
    if broken is not None:
        candidates.insert(0, broken)  # on a tie the chain's own diagnosis is the sharper one
    first = min(candidates, key=lambda link: link.seq) if candidates else None
    published: int | None = None
    latest = checkpoints[-1].seq if checkpoints else None
    # Only an intact chain is signed, and only when its head moved: signing a
    # tampered head would launder it, and re-signing an unchanged one adds nothing.
    if publish and first is None and latest != head_seq:
        published = checkpoint(session, cpts.id, key, at).seq
    if first is not None:
        logger.warning(
            "audit chain of cpts=%d broken at seq %d: %s", cpts.id, first.seq, first.problem
        )
    return ChainReport(
        cpts_id=cpts.id,
        cpts_code=cpts.code,
        events=count,
        head_seq=head_seq,
        head_hash=head_hash,
        checkpoints=len(checkpoints) + (published is not None),
        broken=first,
        published_checkpoint_seq=published,
    )


def verify(
    session: Session,
    cpts_id: int | None = None,
    *,
    checkpoint_key: bytes,
    publish: bool = True,
    at: datetime | None = None,
) -> VerifyReport:
    """Verify one CPTS chain (or all), naming the first broken link of each.

    When a chain is intact and its head moved since the last checkpoint, a new
    signed checkpoint is written (``publish=False`` for a read-only check).
    """
    # The transaction's own queued events are part of what is verified (and signed).
    write_pending(session)
    query = select(CptsRow).order_by(CptsRow.id)
    if cpts_id is not None:
        query = query.where(CptsRow.id == cpts_id)
    moment = at or datetime.now(UTC)
    chains = tuple(
        _verify_chain(session, cpts, checkpoint_key, publish, moment)
        for cpts in session.scalars(query).all()
    )
    return VerifyReport(chains)


# ------------------------------------------------------------------------ purge


def purge_patient_contacts(
    session: Session, older_than: datetime, at: datetime, *, actor: str = "system:retention"
) -> dict[int, int]:
    """Erase the identity of contacts created before ``older_than`` (the end of
    the retention period, chosen by the caller) and record one
    ``patient_purged`` event per CPTS with the count. Returns {cpts_id: count}.

    The chain only ever held keyed digests, so it verifies unchanged afterwards.
    """
    # One UPDATE ... RETURNING: the counts are exactly the rows erased, even if
    # contacts are written concurrently.
    purged = session.execute(
        update(PatientContactRow)
        .where(PatientContactRow.created_at < older_than, PatientContactRow.purged_at.is_(None))
        .values(display_name=None, phone=None, birth_year=None, purged_at=at)
        .returning(PatientContactRow.cpts_id)
        .execution_options(synchronize_session=False)
    ).scalars()
    counts = Counter(purged)
    for cpts_id in sorted(counts):
        append(
            session,
            cpts_id=cpts_id,
            actor=actor,
            kind=EventKind.PATIENT_PURGED,
            payload={"count": counts[cpts_id], "older_than": older_than},
            at=at,
        )
    return dict(counts)
