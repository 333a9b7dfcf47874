"""Small builders of database rows for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from snp.orm import CareRequestRow, CptsRow, ProfessionalRow, SiteRow, SlotRow

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def cpts(session: Session, code: str = "c1") -> CptsRow:
    row = CptsRow(code=code, name=f"CPTS {code}", departement_code="78", timezone="Europe/Paris")
    session.add(row)
    session.flush()
    return row


def professional(session: Session, cpts_id: int, rpps: str = "10000000009") -> ProfessionalRow:
    row = ProfessionalRow(
        cpts_id=cpts_id, rpps=rpps, last_name="Martin", first_name="Anne", profession=10
    )
    session.add(row)
    session.flush()
    return row


def site(session: Session, cpts_id: int) -> SiteRow:
    row = SiteRow(
        cpts_id=cpts_id,
        name="Cabinet",
        address="1 rue de Paris",
        insee_code="78646",
        lat=48.8049,
        lon=2.1204,
    )
    session.add(row)
    session.flush()
    return row


def slot(
    session: Session,
    cpts_id: int,
    professional_id: int,
    site_id: int,
    *,
    capacity: int = 1,
    surnumeraire: int = 0,
    start: datetime = T0,
) -> SlotRow:
    row = SlotRow(
        cpts_id=cpts_id,
        professional_id=professional_id,
        site_id=site_id,
        profession=10,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        modality="in_person",
        capacity=capacity,
        surnumeraire=surnumeraire,
        taken=0,
    )
    session.add(row)
    session.flush()
    return row


def care_request(session: Session, cpts_id: int) -> CareRequestRow:
    row = CareRequestRow(
        cpts_id=cpts_id,
        origin="cpts",
        profession=10,
        modalities="in_person",
        priority="same_day",
        received_at=T0 - timedelta(hours=1),
        deadline=T0 + timedelta(hours=8),
        insee_code="78646",
        lat=48.80,
        lon=2.12,
        radius_km=10.0,
        status="pending",
    )
    session.add(row)
    session.flush()
    return row
