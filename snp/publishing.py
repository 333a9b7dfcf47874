"""Turning stored plages into bookable slots over a horizon.

Expansion is idempotent: a slot already published for the same professional
and start is left as it is (with its bookings), so it can run on a schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from snp.orm import CptsRow, PlageRow, ProfessionalRow, SlotRow
from snp.plage_rows import plage_from_row

DEFAULT_HORIZON = timedelta(hours=48)


def publish_slots(
    session: Session,
    now: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
    *,
    plage_ids: Iterable[int] | None = None,
) -> int:
    """Create the slots of the plages (all, or those given) starting in
    [now, now + horizon); returns how many."""
    until = now + horizon
    query = (
        select(PlageRow, ProfessionalRow, CptsRow)
        .join(ProfessionalRow, PlageRow.professional_id == ProfessionalRow.id)
        .join(CptsRow, ProfessionalRow.cpts_id == CptsRow.id)
    )
    if plage_ids is not None:
        query = query.where(PlageRow.id.in_(list(plage_ids)))
    rows = session.execute(query).all()
    existing: set[tuple[int, datetime]] = {
        (pid, start)
        for pid, start in session.execute(
            select(SlotRow.professional_id, SlotRow.start_at).where(
                SlotRow.start_at >= now, SlotRow.start_at < until
            )
        )
    }
    new_rows = []
    for plage_row, pro, cpts in rows:
        plage = plage_from_row(plage_row, pro)
        tz = _zone(cpts)
        for slot in plage.expand(tz, now, until, departement=cpts.departement_code):
            if (pro.id, slot.start) in existing:
                continue
            existing.add((pro.id, slot.start))
            new_rows.append(
                {
                    "cpts_id": cpts.id,
                    "professional_id": pro.id,
                    "site_id": plage_row.site_id,
                    "plage_id": plage_row.id,
                    "profession": int(slot.profession),
                    "start_at": slot.start,
                    "end_at": slot.end,
                    "modality": str(slot.modality),
                    "capacity": slot.capacity,
                    "surnumeraire": slot.surnumeraire,
                    "taken": 0,
                    "sas_reserved": slot.sas_reserved,
                    "cancelled": False,
                }
            )
    if new_rows:
        session.execute(insert(SlotRow), new_rows)
    return len(new_rows)


def _zone(cpts: CptsRow) -> ZoneInfo:
    return ZoneInfo(cpts.timezone)
