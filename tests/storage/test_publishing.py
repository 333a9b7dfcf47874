"""Imported plages become slots, once, at the local hour published."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from snp.geo import CommuneDirectory
from snp.importers import import_plages, import_professionals
from snp.orm import CptsRow, ProfessionalRow, SlotRow
from snp.publishing import publish_slots

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
PARIS = ZoneInfo("Europe/Paris")


def test_sample_plages_publish_a_week_of_slots_idempotently(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        s.add(
            CptsRow(
                code="cpts-versailles",
                name="CPTS Versailles",
                departement_code="78",
                timezone="Europe/Paris",
                settings={},
            )
        )
        s.flush()
        import_professionals(
            s,
            SAMPLES / "professionals.csv",
            CommuneDirectory.from_csv(SAMPLES.parent / "communes_78.csv"),
        )
        import_plages(s, SAMPLES / "plages.csv", today=date(2026, 11, 25))
    monday = datetime(2026, 12, 7, 0, 0, tzinfo=PARIS).astimezone(UTC)
    with Session(engine) as s, s.begin():
        created = publish_slots(s, monday, timedelta(days=7))
    with Session(engine) as s, s.begin():
        assert publish_slots(s, monday, timedelta(days=7)) == 0
    # Mon 9-12 by 20 min = 9, Thu 17-19 by 20 = 6, Tue 14-16 by 15 = 8, Wed 8-10 by 30 = 4,
    # Fri 10-12 by 30 = 4.
    assert created == 31
    with Session(engine) as s:
        martin = s.scalars(
            select(ProfessionalRow.id).where(ProfessionalRow.rpps == "10000000009")
        ).one()
        starts = s.scalars(
            select(SlotRow.start_at)
            .where(SlotRow.professional_id == martin)
            .order_by(SlotRow.start_at)
        ).all()
        assert starts[0].astimezone(PARIS) == datetime(2026, 12, 7, 9, 0, tzinfo=PARIS)
        sas = s.scalar(select(func.count()).select_from(SlotRow).where(SlotRow.sas_reserved))
        assert sas == 6
