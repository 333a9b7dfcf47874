"""What the SAS FHIR interface needs beyond the orientation service.

The national guide names appointments and regulators with its own identifiers
and shows each CPTS under its FINESS; the service knows none of that. This
module keeps those links in their own tables (``fhir_*``) and states the SAS
tenancy rule: the SAS is departmental, so a regulator account tied to one CPTS
acts for every CPTS of that CPTS's département.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from snp.actors import Actor, Role
from snp.errors import DomainError
from snp.orm import (
    CptsRow,
    FhirAppointmentRow,
    FhirCptsFinessRow,
    FhirRegulatorIdentifierRow,
    FhirRegulatorRow,
    UserRow,
)
from snp.users import NewUser, create_user

# --------------------------------------------------------------------------- tenancy


def sas_departement(session: Session, actor: Actor) -> str | None:
    """The département whose SNP slots the actor regulates; None for platform admins
    (every département). Only regulators and admins regulate."""
    if actor.role is Role.ADMIN and actor.cpts_id is None:
        return None
    if actor.role is not Role.REGULATOR or actor.cpts_id is None:
        raise PermissionError(f"the {actor.role} role does not regulate SAS requests")
    code = session.scalar(select(CptsRow.departement_code).where(CptsRow.id == actor.cpts_id))
    if code is None:
        raise PermissionError("the regulator's CPTS no longer exists")
    return code


def acting_for(actor: Actor, cpts_id: int) -> Actor:
    """The regulator acting for another CPTS of its département.

    The service scopes every call to one CPTS; the SAS answers for the whole
    département, so once the caller has checked the département rule the
    request is recorded in the CPTS that owns the slot, under the regulator's
    own user id (the audit names the same person).
    """
    return Actor(user_id=actor.user_id, name=actor.name, role=Role.REGULATOR, cpts_id=cpts_id)


# --------------------------------------------------------------------------- CPTS FINESS


def set_cpts_finess(session: Session, cpts_id: int, finess: str) -> None:
    """Record the 9-character FINESS a CPTS is registered under."""
    value = finess.strip().upper()
    if len(value) != 9 or not value.isalnum():
        raise DomainError("finess", f"{finess!r} is not a FINESS number", "Give 9 characters.")
    row = session.get(FhirCptsFinessRow, cpts_id)
    if row is None:
        session.add(FhirCptsFinessRow(cpts_id=cpts_id, finess=value))
    else:
        row.finess = value
    session.flush()


def cpts_finess(session: Session, cpts_ids: Iterable[int]) -> dict[int, str]:
    ids = list(cpts_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(FhirCptsFinessRow.cpts_id, FhirCptsFinessRow.finess).where(
            FhirCptsFinessRow.cpts_id.in_(ids)
        )
    )
    return {cpts_id: finess for cpts_id, finess in rows}


# --------------------------------------------------------------------------- appointments


def find_appointment(session: Session, system: str, value: str) -> FhirAppointmentRow | None:
    return session.scalars(
        select(FhirAppointmentRow).where(
            FhirAppointmentRow.system == system, FhirAppointmentRow.value == value
        )
    ).first()


def link_appointment(
    session: Session,
    *,
    cpts_id: int,
    system: str,
    value: str,
    orientation_id: int,
    operator: tuple[str, str],
    now: datetime,
) -> FhirAppointmentRow:
    row = FhirAppointmentRow(
        cpts_id=cpts_id,
        system=system,
        value=value,
        orientation_id=orientation_id,
        operator_system=operator[0],
        operator_value=operator[1],
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


# --------------------------------------------------------------------------- regulators


@dataclass(frozen=True, slots=True)
class RegulatorAccount:
    """What INT_R02 says about a regulator."""

    identifiers: Sequence[tuple[str, str]]  # (system, value), SAS UUID and/or national id
    family: str
    given: str
    email: str | None
    active: bool


def find_regulator(
    session: Session, identifiers: Iterable[tuple[str, str]]
) -> FhirRegulatorRow | None:
    for system, value in identifiers:
        found = session.scalars(
            select(FhirRegulatorRow)
            .join(
                FhirRegulatorIdentifierRow,
                FhirRegulatorIdentifierRow.regulator_id == FhirRegulatorRow.id,
            )
            .where(
                FhirRegulatorIdentifierRow.system == system,
                FhirRegulatorIdentifierRow.value == value,
            )
        ).first()
        if found is not None:
            return found
    return None


def regulator_identifiers(session: Session, regulator_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(FhirRegulatorIdentifierRow.system, FhirRegulatorIdentifierRow.value)
        .where(FhirRegulatorIdentifierRow.regulator_id == regulator_id)
        .order_by(FhirRegulatorIdentifierRow.id)
    )
    return [(system, value) for system, value in rows]


def create_regulator(
    session: Session, cpts_code: str, account: RegulatorAccount, now: datetime
) -> FhirRegulatorRow:
    """A regulator user of the CPTS plus its SAS identifiers."""
    user = create_user(
        session,
        NewUser(f"{account.given} {account.family}".strip(), Role.REGULATOR, cpts_code),
        now,
    )
    user.active = account.active
    assert user.cpts_id is not None
    row = FhirRegulatorRow(
        cpts_id=user.cpts_id,
        user_id=user.id,
        family=account.family,
        given=account.given,
        email=account.email,
        active=account.active,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    _add_identifiers(session, row.id, account.identifiers)
    return row


def update_regulator(
    session: Session, row: FhirRegulatorRow, account: RegulatorAccount, now: datetime
) -> bool:
    """Apply the account as sent; True when something changed (a replay changes nothing).

    Identifiers are only added: the SAS attaches the national one to an account
    known by its technical UUID, it never takes one back.
    """
    known = set(regulator_identifiers(session, row.id))
    new = [i for i in dict.fromkeys(account.identifiers) if i not in known]
    fields = (account.family, account.given, account.email, account.active)
    changed = bool(new) or fields != (row.family, row.given, row.email, row.active)
    if not changed:
        return False
    row.family, row.given, row.email, row.active = fields
    row.updated_at = now
    user = session.get(UserRow, row.user_id)
    assert user is not None
    # active=false disables the account: its tokens stop working at once (auth
    # checks the user row on every request).
    user.active = account.active
    user.name = f"{account.given} {account.family}".strip()
    _add_identifiers(session, row.id, new)
    session.flush()
    return True


def _add_identifiers(
    session: Session, regulator_id: int, identifiers: Iterable[tuple[str, str]]
) -> None:
    for system, value in dict.fromkeys(identifiers):
        session.add(
            FhirRegulatorIdentifierRow(regulator_id=regulator_id, system=system, value=value)
        )
    session.flush()
