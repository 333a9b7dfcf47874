"""The web console: French pages for orientation staff, professionals and
coordinators, served by the API itself, with a few JSON helpers of its own.

Pages are static HTML shells (one layout, one fragment per page) driven by
vanilla JavaScript that calls the JSON API with the user's bearer token, kept
in the tab's ``sessionStorage``. Nothing is fetched from outside: the Content
Security Policy of every page allows this origin only.

Helpers under ``/console/api``: the commune autocomplete, a médecin traitant
search for operators, the SVG territory map of a request, who is logged in, and
(demo deployments only, i.e. signed with the development secret) a login by
user name and the creation of the demo users.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import case, func, or_, select

from api.auth import CurrentActor, roles
from api.console.territory_map import MapCommune, MapPatient, MapProposal, MapSite, territory_svg
from api.deps import Ctx, DbSession, Now
from api.problems import ProblemError, ProblemRoute, invalid, not_found, problem_responses
from api.schemas.common import day_query
from snp import orienting
from snp.actors import Actor, Role
from snp.geo import Commune, default_directory
from snp.intake import cpts_settings
from snp.orm import (
    AgreementRow,
    CptsCommuneRow,
    CptsRow,
    OrientationRow,
    ProfessionalRow,
    SiteRow,
    SlotRow,
    UserRow,
)
from snp.professions import Profession
from snp.tokens import issue_token
from snp.users import NewUser, create_user

HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGES_DIR = HERE / "pages"

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


class Page(BaseModel):
    slug: str
    title: str
    script: str


PAGES = {
    p.slug: p
    for p in (
        Page(slug="connexion", title="Connexion", script="connexion.js"),
        Page(slug="demande", title="Nouvelle demande", script="demande.js"),
        Page(slug="reserver", title="Réserver un créneau", script="reserver.js"),
        Page(slug="journee", title="Journée", script="journee.js"),
        Page(slug="disponibilites", title="Mes disponibilités", script="disponibilites.js"),
        Page(slug="tableau-de-bord", title="Tableau de bord", script="tableau.js"),
    )
}

router = APIRouter(tags=["console"], route_class=ProblemRoute)
# The console's unauthenticated helpers (demo login, commune search) stay out of the
# published API description: every documented operation there needs a token.
Orienter = Annotated[Actor, roles(Role.OPERATOR, Role.REGULATOR, Role.COORDINATOR)]

ROLE_LABELS = {
    Role.OPERATOR: "Opérateur·rice d’orientation",
    Role.REGULATOR: "Régulation SAS",
    Role.PROFESSIONAL: "Professionnel·le de santé",
    Role.COORDINATOR: "Coordination CPTS",
    Role.ADMIN: "Administration",
}
DEMO_USERS = (
    ("Opératrice démo", Role.OPERATOR),
    ("Régulateur SAS démo", Role.REGULATOR),
    ("Coordination démo", Role.COORDINATOR),
)


# ----------------------------------------------------------------------------- pages


@cache
def _layout() -> str:
    return (PAGES_DIR / "layout.html").read_text(encoding="utf-8")


@cache
def _fragment(slug: str) -> str:
    return (PAGES_DIR / f"{slug}.html").read_text(encoding="utf-8")


def _render(page: Page) -> HTMLResponse:
    html = (
        _layout()
        .replace("{{title}}", page.title)
        .replace("{{slug}}", page.slug)
        .replace("{{script}}", page.script)
        .replace("{{content}}", _fragment(page.slug))
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console", include_in_schema=False)
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/", include_in_schema=False)
def home() -> HTMLResponse:
    return _render(PAGES["connexion"])


@router.get("/console/static/{name}", include_in_schema=False)
def static_file(name: str) -> FileResponse:
    path = STATIC / name
    # Flat directory, known extensions only: no path can leave it.
    if "/" in name or "\\" in name or path.suffix not in STATIC_TYPES or not path.is_file():
        raise not_found("file", name)
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/console/{slug}", include_in_schema=False)
def page(slug: str) -> HTMLResponse:
    found = PAGES.get(slug)
    if found is None:
        raise not_found("page", slug)
    return _render(found)


# ----------------------------------------------------------------------------- session


def _demo_login_enabled(ctx: Ctx) -> bool:
    """Login by name is for demo deployments only: those still signed with the
    development secret, unless ``SNP_CONSOLE_DEMO_LOGIN`` says otherwise."""
    flag = os.environ.get("SNP_CONSOLE_DEMO_LOGIN", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    if flag in ("1", "true", "yes", "on"):
        return True
    return ctx.token_settings.uses_dev_secret


class DemoUserOut(BaseModel):
    id: int
    name: str
    role: str
    role_label: str
    cpts_code: str | None


class LoginOptionsOut(BaseModel):
    demo_login: bool = Field(description="login by user name (demo deployments only)")
    users: list[DemoUserOut]


class LoginIn(BaseModel):
    user_id: int


class LoginOut(BaseModel):
    token: str
    user: DemoUserOut


def _users(session: DbSession) -> list[DemoUserOut]:
    rows = session.execute(
        select(UserRow, CptsRow.code)
        .outerjoin(CptsRow, UserRow.cpts_id == CptsRow.id)
        .where(UserRow.active.is_(True), UserRow.role != str(Role.ADMIN))
        .order_by(UserRow.id)
        .limit(200)
    ).all()
    return [
        DemoUserOut(
            id=u.id, name=u.name, role=u.role, role_label=ROLE_LABELS[Role(u.role)], cpts_code=code
        )
        for u, code in rows
    ]


def _require_demo(ctx: Ctx) -> None:
    if not _demo_login_enabled(ctx):
        raise ProblemError(
            403,
            "forbidden",
            "Forbidden",
            "login by name is only open on demo deployments; paste your bearer token instead",
        )


@router.get("/console/api/login-options", response_model=LoginOptionsOut, include_in_schema=False)
def login_options(session: DbSession, ctx: Ctx) -> LoginOptionsOut:
    """Whether the demo login is open, and then the users one may log in as."""
    demo = _demo_login_enabled(ctx)
    return LoginOptionsOut(demo_login=demo, users=_users(session) if demo else [])


@router.post("/console/api/login", response_model=LoginOut, include_in_schema=False)
def login(body: LoginIn, session: DbSession, ctx: Ctx) -> LoginOut:
    """Demo deployments: a local token for one of the existing users."""
    _require_demo(ctx)
    user = next((u for u in _users(session) if u.id == body.user_id), None)
    if user is None:
        raise not_found("user", body.user_id)
    token = issue_token(
        user.id,
        Role(user.role),
        user.cpts_code,
        secret=ctx.token_settings.jwt_secret.get_secret_value(),
        now=datetime.now(UTC),
        ttl=timedelta(hours=ctx.token_settings.jwt_ttl_hours),
    )
    return LoginOut(token=token, user=user)


@router.post(
    "/console/api/demo-users",
    response_model=list[DemoUserOut],
    status_code=201,
    include_in_schema=False,
)
def create_demo_users(session: DbSession, ctx: Ctx, now: Now) -> list[DemoUserOut]:
    """Demo deployments: an operator, a SAS regulator, a coordinator and a doctor of
    the CPTS with the most open slots ahead (created once; calling again is harmless)."""
    _require_demo(ctx)
    busiest = session.execute(
        select(SlotRow.cpts_id, func.count())
        .where(SlotRow.start_at >= now, SlotRow.cancelled.is_(False))
        .group_by(SlotRow.cpts_id)
        .order_by(func.count().desc(), SlotRow.cpts_id)
        .limit(1)
    ).first()
    cpts = (
        session.get(CptsRow, busiest[0])
        if busiest is not None
        else session.scalars(select(CptsRow).order_by(CptsRow.id)).first()
    )
    if cpts is None:
        raise ProblemError(
            409, "conflict", "Conflict", "no CPTS yet: load the demo first (snp demo)"
        )
    doctor = session.execute(
        select(ProfessionalRow)
        .join(SlotRow, SlotRow.professional_id == ProfessionalRow.id)
        .where(
            ProfessionalRow.cpts_id == cpts.id,
            ProfessionalRow.profession == int(Profession.MEDECIN),
            SlotRow.start_at >= now,
        )
        .group_by(ProfessionalRow.id)
        .order_by(func.count().desc(), ProfessionalRow.id)
        .limit(1)
    ).scalar_one_or_none()
    wanted: list[tuple[str, Role, str | None]] = [(name, role, None) for name, role in DEMO_USERS]
    if doctor is not None:
        wanted.append(
            (f"Dr {doctor.first_name} {doctor.last_name}", Role.PROFESSIONAL, doctor.rpps)
        )
    existing = set(session.scalars(select(UserRow.name).where(UserRow.cpts_id == cpts.id)).all())
    for name, role, rpps in wanted:
        if name not in existing:
            create_user(session, NewUser(name, role, cpts.code, rpps), now)
    return _users(session)


class CptsInfo(BaseModel):
    id: int
    code: str
    name: str
    hold_minutes: int
    priorities: list[str]
    timezone: str


class ProfessionalInfo(BaseModel):
    id: int
    name: str
    profession: int
    rpps: str


class MeOut(BaseModel):
    user_id: int
    name: str
    role: str
    role_label: str
    cpts: CptsInfo | None
    professional: ProfessionalInfo | None
    server_now: datetime = Field(description="the server's clock, to time hold countdowns")


@router.get("/console/api/me", response_model=MeOut, responses=problem_responses(401))
def me(actor: CurrentActor, session: DbSession, now: Now) -> MeOut:
    """Who is logged in, their CPTS's priority classes and hold time."""
    cpts = None
    if actor.cpts_id is not None:
        row = session.get(CptsRow, actor.cpts_id)
        assert row is not None
        settings = cpts_settings(row)
        cpts = CptsInfo(
            id=row.id,
            code=row.code,
            name=row.name,
            hold_minutes=settings.hold_minutes,
            priorities=list(settings.calendar.priorities.names),
            timezone=row.timezone,
        )
    professional = None
    if actor.professional_id is not None:
        pro = session.get(ProfessionalRow, actor.professional_id)
        if pro is not None:
            professional = ProfessionalInfo(
                id=pro.id,
                name=f"{pro.first_name} {pro.last_name}",
                profession=pro.profession,
                rpps=pro.rpps,
            )
    return MeOut(
        user_id=actor.user_id,
        name=actor.name,
        role=str(actor.role),
        role_label=ROLE_LABELS[actor.role],
        cpts=cpts,
        professional=professional,
        server_now=now,
    )


# ----------------------------------------------------------------------------- communes


class CommuneOut(BaseModel):
    insee_code: str
    name: str
    postal_codes: list[str]
    population: int
    lat: float | None
    lon: float | None


def _commune_out(c: Commune) -> CommuneOut:
    return CommuneOut(
        insee_code=c.insee_code,
        name=c.name,
        postal_codes=list(c.postal_codes),
        population=c.population,
        lat=c.lat,
        lon=c.lon,
    )


@router.get("/console/api/communes", response_model=list[CommuneOut], include_in_schema=False)
def communes(
    q: Annotated[str | None, Query(max_length=80, description="name or postal code")] = None,
    codes: Annotated[
        str | None, Query(max_length=2000, description="comma-separated INSEE codes")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=30)] = 10,
) -> list[CommuneOut]:
    """Commune autocomplete over the reference list (public data: no token needed)."""
    directory = default_directory()
    if codes:
        found = [directory.find(code) for code in codes.split(",")[:100]]
        return [_commune_out(c) for c in found if c is not None]
    if not q:
        return []
    return [_commune_out(c) for c in directory.search(q, limit) if c.has_coordinates]


# ----------------------------------------------------------------------------- médecins


class DoctorOut(BaseModel):
    rpps: str
    name: str
    commune: str


def _partner_ids(session: DbSession, cpts_id: int) -> list[int]:
    partners = session.scalars(
        select(AgreementRow.partner_id).where(AgreementRow.cpts_id == cpts_id)
    ).all()
    return [cpts_id, *partners]


@router.get(
    "/console/api/medecins",
    response_model=list[DoctorOut],
    responses=problem_responses(401, 403, 422),
)
def doctors(
    session: DbSession,
    actor: Orienter,
    q: Annotated[str, Query(min_length=2, max_length=80, description="name")],
) -> list[DoctorOut]:
    """Find the patient's médecin traitant by name among the doctors the CPTS may
    orient to (its own and its partners')."""
    assert actor.cpts_id is not None
    pattern = f"%{q.strip().lower()}%"
    rows = session.execute(
        select(ProfessionalRow, SiteRow.insee_code)
        .outerjoin(SiteRow, ProfessionalRow.main_site_id == SiteRow.id)
        .where(
            ProfessionalRow.cpts_id.in_(_partner_ids(session, actor.cpts_id)),
            ProfessionalRow.profession == int(Profession.MEDECIN),
            or_(
                func.lower(ProfessionalRow.last_name).like(pattern),
                func.lower(ProfessionalRow.first_name).like(pattern),
                ProfessionalRow.rpps.like(pattern),
            ),
        )
        .order_by(ProfessionalRow.last_name, ProfessionalRow.first_name, ProfessionalRow.id)
        .limit(10)
    ).all()
    directory = default_directory()
    out = []
    for pro, code in rows:
        commune = directory.find(code) if code else None
        out.append(
            DoctorOut(
                rpps=pro.rpps,
                name=f"Dr {pro.first_name} {pro.last_name}",
                commune=commune.name if commune else "",
            )
        )
    return out


# ----------------------------------------------------------------------------- load


class LoadOut(BaseModel):
    professional_id: int
    name: str
    profession: int
    orientations: int = Field(description="booked, honoured, no-show or redirected")
    honoured: int


LOADED = ("booked", "honoured", "no_show", "redirected_15", "redirected_ed")


@router.get(
    "/console/api/load", response_model=list[LoadOut], responses=problem_responses(401, 403, 422)
)
def load(
    session: DbSession,
    actor: Annotated[Actor, roles(Role.COORDINATOR)],
    date_from: Annotated[date, day_query("first local day", alias="from")],
    date_to: Annotated[date, day_query("day after the last one", alias="to")],
) -> list[LoadOut]:
    """SNP patients given to each professional of the CPTS, by appointment day
    (the dashboard's load plot): every professional with a slot in the window."""
    assert actor.cpts_id is not None
    if date_to <= date_from or (date_to - date_from).days > 366:
        raise invalid("to", "not after `from`, or more than a year", "Give 1 to 366 days.")
    row = session.get(CptsRow, actor.cpts_id)
    tz = ZoneInfo(row.timezone if row is not None else "Europe/Paris")
    start = datetime.combine(date_from, time(0), tz)
    end = datetime.combine(date_to, time(0), tz)
    in_window = (SlotRow.start_at >= start, SlotRow.start_at < end)
    given = case((OrientationRow.status.in_(LOADED), 1), else_=0)
    honoured = case((OrientationRow.status == "honoured", 1), else_=0)
    rows = session.execute(
        select(
            ProfessionalRow,
            func.coalesce(func.sum(given), 0),
            func.coalesce(func.sum(honoured), 0),
        )
        .join(SlotRow, SlotRow.professional_id == ProfessionalRow.id)
        .outerjoin(OrientationRow, OrientationRow.slot_id == SlotRow.id)
        .where(SlotRow.cpts_id == actor.cpts_id, *in_window)
        .group_by(ProfessionalRow.id)
    ).all()
    out = [
        LoadOut(
            professional_id=pro.id,
            name=f"{pro.first_name} {pro.last_name}",
            profession=pro.profession,
            orientations=int(n),
            honoured=int(h),
        )
        for pro, n, h in rows
    ]
    return sorted(out, key=lambda r: (-r.orientations, r.name, r.professional_id))


# ----------------------------------------------------------------------------- map


MAP_SVG: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        "description": "the map (SVG)",
    }
}


def _map_communes(session: DbSession, cpts_id: int) -> list[MapCommune]:
    own = set(
        session.scalars(
            select(CptsCommuneRow.insee_code).where(CptsCommuneRow.cpts_id == cpts_id)
        ).all()
    )
    directory = default_directory()
    departements = {c.departement_code for c in map(directory.find, own) if c is not None}
    return [
        MapCommune(c.name, c.lat, c.lon, c.population, c.insee_code in own)
        for c in directory
        if c.lat is not None
        and c.lon is not None
        and (c.insee_code in own or c.departement_code in departements)
    ]


@router.get(
    "/console/api/requests/{request_id}/map",
    response_class=Response,
    responses=MAP_SVG | problem_responses(401, 403, 404, 422),
)
def request_map(
    request_id: int,
    session: DbSession,
    actor: Orienter,
    slots: Annotated[
        str | None, Query(max_length=400, description="proposal slot ids, best first")
    ] = None,
) -> Response:
    """The territory of the request's CPTS with the patient, the professionals'
    sites and the proposals (numbered as given), drawn from the commune data."""
    request = orienting.get_request(session, actor, request_id)
    allowed = _partner_ids(session, request.cpts_id)
    ids = [int(s) for s in (slots or "").split(",") if s.strip().isdigit()][:20]
    found = {
        slot.id: (slot, site, pro)
        for slot, site, pro in session.execute(
            select(SlotRow, SiteRow, ProfessionalRow)
            .join(SiteRow, SlotRow.site_id == SiteRow.id)
            .join(ProfessionalRow, SlotRow.professional_id == ProfessionalRow.id)
            .where(SlotRow.id.in_(ids), SlotRow.cpts_id.in_(allowed))
        ).all()
    }
    directory = default_directory()
    proposals = []
    for rank, slot_id in enumerate(ids, start=1):
        if slot_id not in found:
            continue
        _, site, pro = found[slot_id]
        commune = directory.find(site.insee_code)
        where = f", {commune.name}" if commune else ""
        proposals.append(
            MapProposal(rank, f"{pro.first_name} {pro.last_name}{where}", site.lat, site.lon)
        )
    sites = [
        MapSite(name, lat, lon)
        for name, lat, lon in session.execute(
            select(SiteRow.name, SiteRow.lat, SiteRow.lon).where(SiteRow.cpts_id == request.cpts_id)
        ).all()
    ]
    commune = directory.find(request.insee_code) if request.insee_code else None
    patient = MapPatient(
        f"Patient{' à ' + commune.name if commune else ''}",
        request.lat,
        request.lon,
        request.radius_km,
    )
    svg = territory_svg(
        _map_communes(session, request.cpts_id),
        sites,
        patient,
        proposals,
        f"Carte du territoire : demande n° {request.id}",
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
