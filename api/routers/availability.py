"""Publishing availability: plages and slots, by professionals (their own) and
coordinators (on behalf of their CPTS's professionals)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from sqlalchemy import select, update

from api.auth import roles
from api.deps import DbSession, Now
from api.problems import ProblemError, ProblemRoute, invalid, not_found, problem_responses
from api.routers.professionals import visible_professional
from api.schemas.availability import (
    PlageCreate,
    PlageCreated,
    PlageOut,
    SlotCreate,
    SlotOut,
    SlotPatch,
)
from api.schemas.common import day_query
from snp.actors import Actor, Role
from snp.orm import CptsRow, PlageRow, ProfessionalRow, SiteRow, SlotRow
from snp.plage_rows import plage_from_row, plage_row
from snp.plages import Plage, find_overlap, parse_weekday
from snp.professions import Profession
from snp.publishing import publish_slots
from snp.slots import Slot

# Every operation here needs a token and a role, and names what it acts on.
ERRORS = problem_responses(401, 403, 404, 422)
router = APIRouter(tags=["availability"], responses=ERRORS, route_class=ProblemRoute)
Publisher = Annotated[Actor, roles(Role.PROFESSIONAL, Role.COORDINATOR)]


def _professional(session: DbSession, actor: Actor, professional_id: int | None) -> ProfessionalRow:
    """Whose availability this is: professionals act for themselves only."""
    if actor.role is Role.PROFESSIONAL:
        assert actor.professional_id is not None
        if professional_id not in (None, actor.professional_id):
            raise not_found("professional", professional_id)
        return visible_professional(session, actor, actor.professional_id)
    if professional_id is None:
        raise invalid(
            "professional_id", "missing", "Coordinators name the professional they publish for."
        )
    return visible_professional(session, actor, professional_id)


def _site_id(session: DbSession, pro: ProfessionalRow, site_id: int | None) -> int:
    chosen = site_id if site_id is not None else pro.main_site_id
    if chosen is None:
        raise invalid("site_id", "the professional has no main site", "Give a site_id.")
    site = session.get(SiteRow, chosen)
    if site is None or site.cpts_id != pro.cpts_id:
        raise invalid("site_id", f"no site {chosen} in this CPTS", "Use a site of the CPTS.")
    return chosen


def _zone(session: DbSession, cpts_id: int) -> ZoneInfo:
    tz = session.scalar(select(CptsRow.timezone).where(CptsRow.id == cpts_id))
    return ZoneInfo(tz or "Europe/Paris")


# ----------------------------------------------------------------------------- plages


@router.post("/plages", status_code=201, response_model=PlageCreated, tags=["plages"])
def create_plage(body: PlageCreate, session: DbSession, now: Now, actor: Publisher) -> PlageCreated:
    """Open a weekly SNP window; its slots over the next 48 h are published at once."""
    pro = _professional(session, actor, body.professional_id)
    site_id = _site_id(session, pro, body.site_id)
    plage = Plage(
        professional_rpps=pro.rpps,
        profession=Profession(pro.profession),
        weekday=parse_weekday(body.weekday),
        start=body.start,
        end=body.end,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        slot_minutes=body.slot_minutes,
        modality=body.modality,
        capacity=body.capacity,
        surnumeraire=body.surnumeraire,
        sas_reserved=body.sas_reserved,
    )
    plage.check_not_in_past(now.astimezone(_zone(session, pro.cpts_id)).date())
    existing = [
        plage_from_row(r, pro)
        for r in session.scalars(select(PlageRow).where(PlageRow.professional_id == pro.id))
    ]
    clash = find_overlap([*existing, plage])
    if clash is not None:
        other = clash[0]
        raise invalid(
            "start",
            f"overlaps the plage {other.start:%H:%M}-{other.end:%H:%M} on the same weekday",
            "Change the hours or the weekday, or delete the other plage first.",
        )
    row = plage_row(plage, pro.id, site_id)
    session.add(row)
    session.flush()
    published = publish_slots(session, now, plage_ids=[row.id])
    return PlageCreated(**_plage_out(row).model_dump(), slots_published=published)


def _plage_out(row: PlageRow) -> PlageOut:
    return PlageOut(
        id=row.id,
        professional_id=row.professional_id,
        site_id=row.site_id,
        weekday=row.weekday,
        start=row.start_local,
        end=row.end_local,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        slot_minutes=row.slot_minutes,
        modality=row.modality,
        capacity=row.capacity,
        surnumeraire=row.surnumeraire,
        sas_reserved=row.sas_reserved,
    )


@router.get("/plages", response_model=list[PlageOut], tags=["plages"])
def list_plages(
    session: DbSession,
    actor: Publisher,
    professional_id: Annotated[int | None, Query()] = None,
) -> list[PlageOut]:
    query = select(PlageRow).join(ProfessionalRow, PlageRow.professional_id == ProfessionalRow.id)
    if actor.role is Role.PROFESSIONAL:
        query = query.where(PlageRow.professional_id == actor.professional_id)
    else:
        query = query.where(ProfessionalRow.cpts_id == actor.cpts_id)
    if professional_id is not None:
        query = query.where(PlageRow.professional_id == professional_id)
    return [_plage_out(r) for r in session.scalars(query.order_by(PlageRow.id))]


def _plage(session: DbSession, actor: Actor, plage_id: int) -> PlageRow:
    row = session.get(PlageRow, plage_id)
    if row is None:
        raise not_found("plage", plage_id)
    try:
        visible_professional(session, actor, row.professional_id)
    except ProblemError:
        raise not_found("plage", plage_id) from None
    return row


@router.get("/plages/{plage_id}", response_model=PlageOut, tags=["plages"])
def get_plage(plage_id: int, session: DbSession, actor: Publisher) -> PlageOut:
    return _plage_out(_plage(session, actor, plage_id))


@router.delete("/plages/{plage_id}", status_code=204, tags=["plages"])
def delete_plage(plage_id: int, session: DbSession, now: Now, actor: Publisher) -> None:
    """Stop the plage. Its future slots nobody holds are withdrawn; slots with a
    patient stay (cancel those orientations explicitly, the patient must be told)."""
    row = _plage(session, actor, plage_id)
    session.execute(
        update(SlotRow)
        .where(SlotRow.plage_id == row.id, SlotRow.start_at >= now, SlotRow.taken == 0)
        .values(cancelled=True)
    )
    # Slots keep their history; only the link to the deleted plage goes.
    session.execute(update(SlotRow).where(SlotRow.plage_id == row.id).values(plage_id=None))
    session.delete(row)
    session.flush()


# ----------------------------------------------------------------------------- slots


@router.post("/slots", status_code=201, response_model=SlotOut, tags=["slots"])
def create_slot(body: SlotCreate, session: DbSession, now: Now, actor: Publisher) -> SlotOut:
    """A one-off slot outside any plage (an extra hour this afternoon)."""
    pro = _professional(session, actor, body.professional_id)
    site_id = _site_id(session, pro, body.site_id)
    slot = Slot(
        professional_rpps=pro.rpps,
        profession=Profession(pro.profession),
        start=body.start,
        end=body.end,
        modality=body.modality,
        capacity=body.capacity,
        surnumeraire=body.surnumeraire,
        sas_reserved=body.sas_reserved,
    )
    if slot.end <= now:
        raise invalid("end", "the slot is already over", "Publish slots that end in the future.")
    clash = session.scalar(
        select(SlotRow.id).where(
            SlotRow.professional_id == pro.id,
            SlotRow.cancelled.is_(False),
            SlotRow.start_at < slot.end,
            SlotRow.end_at > slot.start,
        )
    )
    if clash is not None:
        raise invalid(
            "start", f"overlaps slot {clash} of the same professional", "Change the time."
        )
    row = SlotRow(
        cpts_id=pro.cpts_id,
        professional_id=pro.id,
        site_id=site_id,
        plage_id=None,
        profession=pro.profession,
        start_at=slot.start,
        end_at=slot.end,
        modality=str(slot.modality),
        capacity=slot.capacity,
        surnumeraire=slot.surnumeraire,
        taken=0,
        sas_reserved=slot.sas_reserved,
        cancelled=False,
    )
    session.add(row)
    session.flush()
    return SlotOut.model_validate(row)


@router.get("/slots", response_model=list[SlotOut], tags=["slots"])
def list_slots(
    session: DbSession,
    now: Now,
    actor: Publisher,
    day: Annotated[date | None, day_query("local day; default: the next 48 h")] = None,
    professional_id: Annotated[int | None, Query()] = None,
    include_cancelled: bool = False,
) -> list[SlotOut]:
    query = select(SlotRow)
    if actor.role is Role.PROFESSIONAL:
        query = query.where(SlotRow.professional_id == actor.professional_id)
    else:
        query = query.where(SlotRow.cpts_id == actor.cpts_id)
    if professional_id is not None:
        query = query.where(SlotRow.professional_id == professional_id)
    if day is not None:
        assert actor.cpts_id is not None
        start = datetime.combine(day, time(0), _zone(session, actor.cpts_id))
        query = query.where(SlotRow.start_at >= start, SlotRow.start_at < start + timedelta(days=1))
    else:
        query = query.where(SlotRow.end_at > now, SlotRow.start_at < now + timedelta(hours=48))
    if not include_cancelled:
        query = query.where(SlotRow.cancelled.is_(False))
    rows = session.scalars(query.order_by(SlotRow.start_at, SlotRow.id).limit(5000))
    return [SlotOut.model_validate(r) for r in rows]


def _slot(session: DbSession, actor: Actor, slot_id: int) -> SlotRow:
    row = session.get(SlotRow, slot_id)
    visible = row is not None and (
        row.professional_id == actor.professional_id
        if actor.role is Role.PROFESSIONAL
        else row.cpts_id == actor.cpts_id
    )
    if row is None or not visible:
        raise not_found("slot", slot_id)
    return row


@router.get("/slots/{slot_id}", response_model=SlotOut, tags=["slots"])
def get_slot(slot_id: int, session: DbSession, actor: Publisher) -> SlotOut:
    return SlotOut.model_validate(_slot(session, actor, slot_id))


@router.patch("/slots/{slot_id}", response_model=SlotOut, tags=["slots"])
def update_slot(slot_id: int, body: SlotPatch, session: DbSession, actor: Publisher) -> SlotOut:
    """Change places or SAS reservation. Fewer places than patients already given
    is refused: those patients must be re-oriented first."""
    row = _slot(session, actor, slot_id)
    capacity = row.capacity if body.capacity is None else body.capacity
    surnumeraire = row.surnumeraire if body.surnumeraire is None else body.surnumeraire
    if capacity + surnumeraire == 0:
        raise invalid("capacity", "the slot would have no place", "Delete the slot instead.")
    values: dict[str, object] = {"capacity": capacity, "surnumeraire": surnumeraire}
    if body.sas_reserved is not None:
        values["sas_reserved"] = body.sas_reserved
    # Conditional on the live counter, not on what we read: a hold may land meanwhile.
    changed = session.execute(
        update(SlotRow)
        .where(SlotRow.id == slot_id, SlotRow.taken <= capacity + surnumeraire)
        .values(**values)
        .returning(SlotRow.id)
    ).first()
    if changed is None:
        raise ProblemError(
            409,
            "conflict",
            "Conflict",
            f"slot {slot_id} already has more patients than {capacity + surnumeraire} places",
        )
    session.refresh(row)
    return SlotOut.model_validate(row)


@router.delete("/slots/{slot_id}", status_code=204, tags=["slots"])
def withdraw_slot(slot_id: int, session: DbSession, actor: Publisher) -> None:
    """Withdraw a slot nobody holds (it stays in the history as cancelled)."""
    _slot(session, actor, slot_id)
    withdrawn = session.execute(
        update(SlotRow)
        .where(SlotRow.id == slot_id, SlotRow.taken == 0)
        .values(cancelled=True)
        .returning(SlotRow.id)
    ).first()
    if withdrawn is None:
        raise ProblemError(
            409,
            "conflict",
            "Conflict",
            f"slot {slot_id} has patients; cancel or re-orient their orientations first",
        )
