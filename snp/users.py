"""API users: one role in one CPTS (admins: the platform), and their actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from snp.actors import Actor, Role
from snp.errors import DomainError, NotFoundError
from snp.orm import CptsRow, ProfessionalRow, UserRow
from snp.professionals import normalise_rpps


@dataclass(frozen=True, slots=True)
class NewUser:
    name: str
    role: Role
    cpts_code: str | None = None
    professional_rpps: str | None = None  # only for the professional role


def create_user(session: Session, new: NewUser, now: datetime) -> UserRow:
    """Store a user after checking that its role, CPTS and professional fit together."""
    name = new.name.strip()
    if not name or len(name) > 120:
        raise DomainError("name", "missing or too long", "Give a name of 1-120 characters.")
    cpts_id = _cpts_id(session, new)
    professional_id = _professional_id(session, new, cpts_id)
    row = UserRow(
        name=name,
        role=str(new.role),
        cpts_id=cpts_id,
        professional_id=professional_id,
        active=True,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _cpts_id(session: Session, new: NewUser) -> int | None:
    if new.role is Role.ADMIN:
        if new.cpts_code is not None:
            raise DomainError(
                "cpts", "an admin belongs to the platform, not to a CPTS", "Leave cpts empty."
            )
        return None
    if not new.cpts_code:
        raise DomainError("cpts", "missing", f"A {new.role} works for one CPTS: give its code.")
    found = session.scalars(select(CptsRow.id).where(CptsRow.code == new.cpts_code)).first()
    if found is None:
        raise DomainError("cpts", f"unknown CPTS {new.cpts_code!r}", "Create the CPTS first.")
    return found


def _professional_id(session: Session, new: NewUser, cpts_id: int | None) -> int | None:
    if new.role is not Role.PROFESSIONAL:
        if new.professional_rpps is not None:
            raise DomainError(
                "professional_rpps",
                f"only professionals are linked to an RPPS, not a {new.role}",
                "Leave professional_rpps empty.",
            )
        return None
    if not new.professional_rpps:
        raise DomainError(
            "professional_rpps", "missing", "Give the RPPS of the professional this user is."
        )
    rpps = normalise_rpps(new.professional_rpps)
    row = session.scalars(select(ProfessionalRow).where(ProfessionalRow.rpps == rpps)).first()
    if row is None or row.cpts_id != cpts_id:
        raise DomainError(
            "professional_rpps",
            f"no professional with RPPS {rpps} in this CPTS",
            "Import or create the professional in the same CPTS first.",
        )
    return row.id


def actor_for(session: Session, user_id: int) -> tuple[Actor, str | None]:
    """The active user's actor and its CPTS code; NotFoundError when unknown or inactive."""
    found = session.execute(
        select(UserRow, CptsRow.code)
        .outerjoin(CptsRow, UserRow.cpts_id == CptsRow.id)
        .where(UserRow.id == user_id)
    ).first()
    if found is None or not found[0].active:
        raise NotFoundError("user", user_id)
    user, code = found
    actor = Actor(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        cpts_id=user.cpts_id,
        professional_id=user.professional_id,
    )
    return actor, code
