"""Idempotency keys for pushes from SAS software: same key and body, same answer.

A retry after a timeout must not create a second request. The first answer is
stored with a hash of the body; a replay with the same body gets it back, a
reuse of the key for another body is refused (the client has a bug). Keys are
kept at least 72 hours (``KEEP_FOR``) before :func:`forget_expired` may drop them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from snp.errors import DomainError
from snp.orm import IdempotencyKeyRow

KEEP_FOR = timedelta(hours=72)
MAX_KEY_LENGTH = 200


def body_hash(body: Any) -> str:
    """Hash of the parsed body, so that whitespace or key order do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            "Idempotency-Key",
            "missing or longer than 200 characters",
            "Send a unique key per request (a UUID) in the Idempotency-Key header.",
        )
    return key.strip()


def replay(
    session: Session, cpts_id: int, key: str, digest: str
) -> tuple[int, dict[str, Any]] | None:
    """The stored answer for this key, or None when the key is new."""
    row = session.scalars(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.cpts_id == cpts_id, IdempotencyKeyRow.key == key
        )
    ).first()
    if row is None:
        return None
    if row.body_hash != digest:
        raise DomainError(
            "Idempotency-Key",
            f"key {key!r} was already used for a different request body",
            "Use a new key for a new request; reuse a key only to retry the same body.",
        )
    return row.status_code, row.response


def remember(
    session: Session,
    cpts_id: int,
    key: str,
    digest: str,
    status: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Store the answer in the same transaction as the work it describes.

    The unique (cpts_id, key) constraint makes a concurrent duplicate fail at
    commit; the caller retries once and then finds the answer with :func:`replay`.
    """
    session.add(
        IdempotencyKeyRow(
            cpts_id=cpts_id,
            key=key,
            body_hash=digest,
            status_code=status,
            response=body,
            created_at=now,
        )
    )
    session.flush()


def forget_expired(session: Session, now: datetime) -> int:
    result = session.execute(
        delete(IdempotencyKeyRow)
        .where(IdempotencyKeyRow.created_at < now - KEEP_FOR)
        .returning(IdempotencyKeyRow.id)
    )
    return len(result.all())
