"""A small world for ledger tests: one CPTS, a few professionals, slots and
booked orientations, built directly (the orientation service is not needed)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from snp.orm import CareRequestRow, CptsRow, OrientationRow, ProfessionalRow, SiteRow, SlotRow

_counter = itertools.count(1)


@dataclass
class World:
    cpts_id: int
    professionals: list[int] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    orientations: list[int] = field(default_factory=list)


def paris(day: str, hour: int, minute: int = 0) -> datetime:
    """A UTC instant from a Paris local wall-clock time (CET/CEST, no DST edge here)."""
    local = datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00")
    offset = 2 if local.month in (4, 5, 6, 7, 8, 9, 10) else 1
    return (local - timedelta(hours=offset)).replace(tzinfo=UTC)


def add_cpts(session: Session) -> int:
    n = next(_counter)
    row = CptsRow(
        code=f"ledger-{n}-{id(session)}",
        name=f"CPTS {n}",
        departement_code="78",
        timezone="Europe/Paris",
        settings={},
    )
    session.add(row)
    session.flush()
    return row.id


def add_professional(
    session: Session, cpts_id: int, profession: int = 10, specialty: str | None = "SM54"
) -> int:
    n = next(_counter)
    site = SiteRow(
        cpts_id=cpts_id, name="Cabinet", address="", insee_code="78646", lat=48.80, lon=2.12
    )
    session.add(site)
    session.flush()
    row = ProfessionalRow(
        cpts_id=cpts_id,
        rpps=f"{n:011d}"[-11:],
        last_name="Martin",
        first_name="Anne",
        profession=profession,
        specialty=specialty,
        main_site_id=site.id,
    )
    session.add(row)
    session.flush()
    return row.id


def add_slot(
    session: Session, cpts_id: int, professional_id: int, start: datetime, minutes: int = 20
) -> int:
    pro = session.get(ProfessionalRow, professional_id)
    assert pro is not None and pro.main_site_id is not None
    row = SlotRow(
        cpts_id=cpts_id,
        professional_id=professional_id,
        site_id=pro.main_site_id,
        profession=pro.profession,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        modality="in_person",
        capacity=1,
        surnumeraire=1,
        taken=0,
    )
    session.add(row)
    session.flush()
    return row.id


def add_orientation(
    session: Session,
    cpts_id: int,
    slot_id: int,
    *,
    origin: str = "cpts",
    status: str = "booked",
    late: bool = False,
    surnumeraire: bool = False,
    request_cpts_id: int | None = None,
    medecin_traitant_id: int | None = None,
) -> int:
    slot = session.get(SlotRow, slot_id)
    assert slot is not None
    received = slot.start_at - timedelta(hours=3)
    request = CareRequestRow(
        cpts_id=request_cpts_id or cpts_id,
        origin=origin,
        profession=slot.profession,
        modalities="in_person",
        priority="same_day",
        received_at=received,
        earliest=None,
        deadline=slot.start_at - timedelta(minutes=30)
        if late
        else slot.start_at + timedelta(hours=2),
        insee_code="78646",
        lat=48.8,
        lon=2.12,
        radius_km=10.0,
        status="oriented",
        medecin_traitant_id=medecin_traitant_id,
    )
    session.add(request)
    session.flush()
    slot.taken += 1
    row = OrientationRow(
        cpts_id=cpts_id,
        request_id=request.id,
        slot_id=slot_id,
        status=status,
        surnumeraire=surnumeraire,
        created_at=received,
        held_until=None,
        booked_at=received,
        cost=0,
        distance_km=1.5,
    )
    session.add(row)
    session.flush()
    return row.id
