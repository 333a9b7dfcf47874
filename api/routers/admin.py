"""The platform: CPTS, mutualisation agreements, users, the audit check (admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError
from sqlalchemy import delete, select

from api.auth import roles
from api.deps import Ctx, DbSession, Now
from api.problems import (
    ProblemError,
    ProblemRoute,
    invalid,
    not_found,
    problem_responses,
    validation_errors,
)
from api.schemas.admin import (
    AgreementIn,
    AgreementOut,
    CptsCreate,
    CptsOut,
    CptsSettingsIn,
    UserCreate,
    UserOut,
    UserPatch,
)
from snp import audit
from snp.actors import Actor, Role
from snp.calendar import UnknownDepartementError, normalize_departement, zone_for_departement
from snp.cpts import CptsSettings
from snp.orm import AgreementRow, CptsCommuneRow, CptsRow, UserRow
from snp.tokens import issue_token
from snp.users import NewUser, create_user

# Every operation here needs a token and a role, and names what it acts on.
ERRORS = problem_responses(401, 403, 404, 422)
router = APIRouter(tags=["administration"], responses=ERRORS, route_class=ProblemRoute)
Admin = Annotated[Actor, roles(Role.ADMIN)]
AdminOrCoordinator = Annotated[Actor, roles(Role.ADMIN, Role.COORDINATOR)]


def _checked_settings(departement: str, stored: dict[str, Any]) -> dict[str, Any]:
    """Validate the merged settings the way the services will read them."""
    try:
        CptsSettings.model_validate({"calendar": {"departement_code": departement}} | stored)
    except ValidationError as error:
        errors = validation_errors(error.errors())
        for e in errors:
            e["field"] = "settings." + e["field"]
        raise ProblemError(
            422, "invalid-input", "Invalid input", "invalid settings", errors
        ) from None
    return stored


def _cpts_out(row: CptsRow) -> CptsOut:
    return CptsOut.model_validate(row)


def _cpts_by_code(session: DbSession, code: str, field: str) -> CptsRow:
    row = session.scalars(select(CptsRow).where(CptsRow.code == code)).first()
    if row is None:
        raise invalid(field, f"unknown CPTS {code!r}", "Give the code of an existing CPTS.")
    return row


@router.post("/cpts", status_code=201, response_model=CptsOut)
def create_cpts(body: CptsCreate, session: DbSession, _: Admin) -> CptsOut:
    try:
        departement = normalize_departement(body.departement_code)
        zone = zone_for_departement(departement)
    except (UnknownDepartementError, KeyError):
        raise invalid(
            "departement_code", f"unknown département {body.departement_code!r}", "Use 78, 2A, 971…"
        ) from None
    if session.scalar(select(CptsRow.id).where(CptsRow.code == body.code)) is not None:
        raise invalid("code", f"CPTS {body.code!r} already exists", "Choose another code.")
    settings = _checked_settings(departement, body.settings.model_dump(exclude_none=True))
    row = CptsRow(
        code=body.code,
        name=body.name,
        departement_code=departement,
        timezone=zone.key,
        settings=settings,
    )
    session.add(row)
    session.flush()
    for code in sorted(set(body.communes)):
        session.add(CptsCommuneRow(cpts_id=row.id, insee_code=code))
    session.flush()
    return _cpts_out(row)


@router.get("/cpts", response_model=list[CptsOut])
def list_cpts(session: DbSession, actor: AdminOrCoordinator) -> list[CptsOut]:
    query = select(CptsRow).order_by(CptsRow.id)
    if actor.role is not Role.ADMIN:
        query = query.where(CptsRow.id == actor.cpts_id)
    return [_cpts_out(r) for r in session.scalars(query)]


def _visible_cpts(session: DbSession, actor: Actor, cpts_id: int) -> CptsRow:
    row = session.get(CptsRow, cpts_id)
    if row is None or (actor.role is not Role.ADMIN and actor.cpts_id != cpts_id):
        raise not_found("CPTS", cpts_id)
    return row


@router.get("/cpts/{cpts_id}", response_model=CptsOut)
def get_cpts(cpts_id: int, session: DbSession, actor: AdminOrCoordinator) -> CptsOut:
    return _cpts_out(_visible_cpts(session, actor, cpts_id))


@router.patch("/cpts/{cpts_id}/settings", response_model=CptsOut)
def update_settings(
    cpts_id: int, body: CptsSettingsIn, session: DbSession, actor: AdminOrCoordinator
) -> CptsOut:
    """Coordinators tune their own CPTS (hold time, radii, auto-orientation of SAS pushes)."""
    row = _visible_cpts(session, actor, cpts_id)
    merged = dict(row.settings) | body.model_dump(exclude_none=True)
    # A new dict, not an in-place edit: the JSON column only notices assignment.
    row.settings = _checked_settings(row.departement_code, merged)
    session.flush()
    return _cpts_out(row)


@router.post("/agreements", status_code=201, response_model=AgreementOut)
def create_agreement(body: AgreementIn, session: DbSession, _: Admin) -> AgreementOut:
    """CPTS ``cpts``'s requests may then use ``partner``'s slots (not the reverse)."""
    cpts = _cpts_by_code(session, body.cpts, "cpts")
    partner = _cpts_by_code(session, body.partner, "partner")
    if cpts.id == partner.id:
        raise invalid("partner", "a CPTS always uses its own slots", "Name another CPTS.")
    exists = session.get(AgreementRow, (cpts.id, partner.id))
    if exists is None:
        session.add(AgreementRow(cpts_id=cpts.id, partner_id=partner.id))
        session.flush()
    return AgreementOut(cpts=cpts.code, partner=partner.code)


@router.get("/agreements", response_model=list[AgreementOut])
def list_agreements(session: DbSession, _: Admin) -> list[AgreementOut]:
    own = CptsRow.__table__.alias("own")
    other = CptsRow.__table__.alias("other")
    rows = session.execute(
        select(own.c.code, other.c.code)
        .select_from(AgreementRow)
        .join(own, own.c.id == AgreementRow.cpts_id)
        .join(other, other.c.id == AgreementRow.partner_id)
        .order_by(own.c.code, other.c.code)
    ).all()
    return [AgreementOut(cpts=a, partner=b) for a, b in rows]


@router.delete("/agreements", status_code=204)
def delete_agreement(
    session: DbSession,
    _: Admin,
    cpts: Annotated[str, Query(description="CPTS code")],
    partner: Annotated[str, Query(description="partner CPTS code")],
) -> None:
    own = _cpts_by_code(session, cpts, "cpts")
    other = _cpts_by_code(session, partner, "partner")
    deleted = session.execute(
        delete(AgreementRow)
        .where(AgreementRow.cpts_id == own.id, AgreementRow.partner_id == other.id)
        .returning(AgreementRow.cpts_id)
    ).first()
    if deleted is None:
        raise not_found("agreement", f"{cpts}→{partner}")


@router.post("/users", status_code=201, response_model=UserOut)
def create_user_route(
    body: UserCreate, session: DbSession, ctx: Ctx, now: Now, _: Admin
) -> UserOut:
    """Create a user; with ``issue_token`` the answer carries a local bearer token."""
    row = create_user(
        session,
        NewUser(
            name=body.name,
            role=body.role,
            cpts_code=body.cpts,
            professional_rpps=body.professional_rpps,
        ),
        now,
    )
    out = UserOut.model_validate(row)
    if body.issue_token:
        out.token = issue_token(
            row.id,
            body.role,
            body.cpts,
            secret=ctx.token_settings.jwt_secret.get_secret_value(),
            # Wall-clock time, not the app's clock: verifiers check exp/iat against it.
            now=datetime.now(UTC),
            ttl=timedelta(hours=ctx.token_settings.jwt_ttl_hours),
        )
    return out


@router.get("/users", response_model=list[UserOut])
def list_users(session: DbSession, _: Admin) -> list[UserOut]:
    return [
        UserOut.model_validate(r) for r in session.scalars(select(UserRow).order_by(UserRow.id))
    ]


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: int, body: UserPatch, session: DbSession, actor: Admin) -> UserOut:
    """Deactivating a user revokes their tokens at once (every call checks the row).
    An admin cannot deactivate their own account: the last admin would lock the
    platform out (only the command line could let anyone back in)."""
    row = session.get(UserRow, user_id)
    if row is None:
        raise not_found("user", user_id)
    if row.id == actor.user_id and not body.active:
        raise invalid(
            "active", "you cannot deactivate your own account", "Ask another admin to do it."
        )
    row.active = body.active
    session.flush()
    return UserOut.model_validate(row)


@router.get("/admin/audit/verify")
def verify_audit(
    session: DbSession,
    ctx: Ctx,
    now: Now,
    _: Admin,
    cpts_id: Annotated[int | None, Query(description="one CPTS; default all")] = None,
) -> dict[str, Any]:
    """Walk the hash chains (read-only: no checkpoint is written) and name the first break."""
    report = audit.verify(session, cpts_id, checkpoint_key=ctx.audit_key, publish=False, at=now)
    return {
        "ok": report.ok,
        "chains": [
            {
                "cpts_id": c.cpts_id,
                "cpts_code": c.cpts_code,
                "events": c.events,
                "head_seq": c.head_seq,
                "checkpoints": c.checkpoints,
                "ok": c.ok,
                "broken": None
                if c.broken is None
                else {
                    "seq": c.broken.seq,
                    "row_id": c.broken.row_id,
                    "problem": str(c.broken.problem),
                    "detail": c.broken.detail,
                },
            }
            for c in report.chains
        ],
    }
