from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from snp.orm import Base, CptsRow, ProfessionalRow, SiteRow, SlotRow


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def _slot_fixture(session: Session) -> SlotRow:
    cpts = CptsRow(code="c1", name="CPTS 1", departement_code="78", timezone="Europe/Paris")
    session.add(cpts)
    session.flush()
    pro = ProfessionalRow(
        cpts_id=cpts.id, rpps="10000000008", last_name="Martin", first_name="Anne", profession=10
    )
    site = SiteRow(
        cpts_id=cpts.id, name="Cabinet", address="1 rue", insee_code="78646", lat=48.8, lon=2.1
    )
    session.add_all([pro, site])
    session.flush()
    start = datetime(2026, 11, 26, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    slot = SlotRow(
        cpts_id=cpts.id,
        professional_id=pro.id,
        site_id=site.id,
        profession=10,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        modality="in_person",
        capacity=1,
        surnumeraire=0,
        taken=0,
    )
    session.add(slot)
    session.flush()
    return slot


def test_times_come_back_aware_in_utc(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        slot_id = _slot_fixture(session).id
    with Session(engine) as session:
        start = session.scalars(select(SlotRow.start_at).where(SlotRow.id == slot_id)).one()
    assert start.tzinfo is not None
    assert start == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_database_refuses_overbooking_even_without_the_service(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        slot = _slot_fixture(session)
        slot.taken = 2
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        slot = _slot_fixture(session)
        slot.start_at = datetime(2026, 11, 26, 9, 0)
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()
        session.rollback()
