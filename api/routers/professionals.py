"""Participating professionals of a CPTS and their main site (coordinators, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import select

from api.auth import roles
from api.deps import DbSession
from api.problems import ProblemRoute, invalid, not_found, problem_responses
from api.schemas.admin import ProfessionalCreate, ProfessionalOut, ProfessionalPatch
from snp.actors import Actor, Role
from snp.geo import UnknownCommuneError, default_directory
from snp.orm import CptsRow, ProfessionalRow, SiteRow
from snp.professionals import Professional
from snp.professions import parse_profession
from snp.sites import Site

# Every operation here needs a token and a role, and names what it acts on.
ERRORS = problem_responses(401, 403, 404, 422)
router = APIRouter(
    prefix="/professionals", tags=["professionals"], responses=ERRORS, route_class=ProblemRoute
)
Manager = Annotated[Actor, roles(Role.ADMIN, Role.COORDINATOR)]
Reader = Annotated[Actor, roles(Role.ADMIN, Role.COORDINATOR, Role.PROFESSIONAL)]


def visible_professional(session: DbSession, actor: Actor, professional_id: int) -> ProfessionalRow:
    """The professional if the actor may act on them: themselves, or one of their CPTS."""
    row = session.get(ProfessionalRow, professional_id)
    if row is None:
        raise not_found("professional", professional_id)
    if actor.role is Role.PROFESSIONAL and actor.professional_id != row.id:
        raise not_found("professional", professional_id)
    if actor.role is not Role.ADMIN and actor.cpts_id != row.cpts_id:
        raise not_found("professional", professional_id)
    return row


def _target_cpts(session: DbSession, actor: Actor, code: str | None) -> int:
    if actor.role is not Role.ADMIN:
        if code is not None:
            raise invalid("cpts", "you register professionals of your own CPTS", "Remove cpts.")
        assert actor.cpts_id is not None
        return actor.cpts_id
    if code is None:
        raise invalid("cpts", "missing", "Admins name the professional's CPTS by its code.")
    found = session.scalar(select(CptsRow.id).where(CptsRow.code == code))
    if found is None:
        raise invalid("cpts", f"unknown CPTS {code!r}", "Create the CPTS first.")
    return found


@router.post("", status_code=201, response_model=ProfessionalOut)
def create_professional(
    body: ProfessionalCreate, session: DbSession, actor: Manager
) -> ProfessionalOut:
    cpts_id = _target_cpts(session, actor, body.cpts)
    pro = Professional(
        rpps=body.rpps,
        last_name=body.last_name,
        first_name=body.first_name,
        profession=parse_profession(body.profession),
        cpts_code="",
        specialty=body.specialty,
        accepts_surnumeraire=body.accepts_surnumeraire,
    )
    if session.scalar(select(ProfessionalRow.id).where(ProfessionalRow.rpps == pro.rpps)):
        raise invalid("rpps", f"RPPS {pro.rpps} is already registered", "Update it instead.")
    lat, lon = body.site.lat, body.site.lon
    if lat is None or lon is None:
        # The commune centroid is a fair stand-in for distances at SNP radii (10-25 km).
        try:
            lat, lon = default_directory().get(body.site.insee_code).point().latlon
        except UnknownCommuneError:
            raise invalid(
                "site.insee_code",
                f"no commune {body.site.insee_code} in the directory",
                "Check the code, or give the site's lat and lon.",
            ) from None
    site = Site(body.site.name, body.site.address, body.site.insee_code, lat, lon)
    site_row = SiteRow(
        cpts_id=cpts_id,
        name=site.name,
        address=site.address,
        insee_code=site.insee_code,
        lat=site.lat,
        lon=site.lon,
    )
    session.add(site_row)
    session.flush()
    row = ProfessionalRow(
        cpts_id=cpts_id,
        rpps=pro.rpps,
        last_name=pro.last_name,
        first_name=pro.first_name,
        profession=int(pro.profession),
        specialty=pro.specialty,
        accepts_surnumeraire=pro.accepts_surnumeraire,
        main_site_id=site_row.id,
    )
    session.add(row)
    session.flush()
    return ProfessionalOut.model_validate(row)


@router.get("", response_model=list[ProfessionalOut])
def list_professionals(session: DbSession, actor: Reader) -> list[ProfessionalOut]:
    query = select(ProfessionalRow).order_by(ProfessionalRow.id)
    if actor.role is Role.PROFESSIONAL:
        query = query.where(ProfessionalRow.id == actor.professional_id)
    elif actor.role is not Role.ADMIN:
        query = query.where(ProfessionalRow.cpts_id == actor.cpts_id)
    return [ProfessionalOut.model_validate(r) for r in session.scalars(query)]


@router.get("/{professional_id}", response_model=ProfessionalOut)
def get_professional(professional_id: int, session: DbSession, actor: Reader) -> ProfessionalOut:
    return ProfessionalOut.model_validate(visible_professional(session, actor, professional_id))


@router.patch("/{professional_id}", response_model=ProfessionalOut)
def update_professional(
    professional_id: int, body: ProfessionalPatch, session: DbSession, actor: Reader
) -> ProfessionalOut:
    """A professional accepts (or stops accepting) surnuméraire patients; coordinators
    may record it on their behalf."""
    row = visible_professional(session, actor, professional_id)
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(row, name, value)
    session.flush()
    return ProfessionalOut.model_validate(row)
