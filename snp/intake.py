"""Receiving a care request: validate, locate, set its deadline, store it apart
from the patient's contact."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from snp.calendar import OutOfHoursError, UnknownPriorityError
from snp.care_requests import CareRequest, PatientLocation, RequestStatus
from snp.cpts import CptsSettings
from snp.errors import DomainError, NotFoundError
from snp.geo import CommuneDirectory, RadiusPolicy, UnknownCommuneError
from snp.modalities import Modality, Origin
from snp.orm import CareRequestRow, CptsRow, PatientContactRow, ProfessionalRow
from snp.patients import PatientContact
from snp.professions import Profession


@dataclass(frozen=True, slots=True)
class IntakeForm:
    """What the operator (or the SAS software) tells us about a request."""

    cpts_code: str
    origin: Origin
    profession: Profession
    priority: str
    location: PatientLocation
    modalities: frozenset[Modality] = frozenset(Modality)
    earliest: datetime | None = None
    radius_km: float | None = None
    medecin_traitant_rpps: str | None = None


def cpts_settings(row: CptsRow) -> CptsSettings:
    """The CPTS's settings as stored on its row (read fresh by the caller).

    Validating them builds a calendar: that is cached per stored value (the
    settings are frozen), so a change on the row is seen at once."""
    return parse_cpts_settings(row.departement_code, row.settings)


def parse_cpts_settings(departement_code: str, settings: dict[str, Any]) -> CptsSettings:
    """:func:`cpts_settings` from the row's two columns."""
    stored = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return _parse_settings(departement_code, stored)


@lru_cache(maxsize=256)
def _parse_settings(departement_code: str, stored: str) -> CptsSettings:
    return CptsSettings.model_validate(
        {"calendar": {"departement_code": departement_code}} | json.loads(stored)
    )


def receive(
    session: Session,
    directory: CommuneDirectory,
    form: IntakeForm,
    received_at: datetime,
    patient: PatientContact | None = None,
) -> CareRequestRow:
    """Validate and store a request; the deadline follows from its priority class."""
    cpts = session.scalars(select(CptsRow).where(CptsRow.code == form.cpts_code)).first()
    if cpts is None:
        raise NotFoundError("CPTS", form.cpts_code)
    settings = cpts_settings(cpts)
    try:
        deadline = settings.calendar.deadline(form.priority, received_at)
    except (UnknownPriorityError, OutOfHoursError) as error:
        raise DomainError("priority", str(error), "Choose a valid class, or redirect.") from None
    lat, lon, radius = _locate(directory, form, settings)
    request = CareRequest(
        cpts_code=form.cpts_code,
        origin=form.origin,
        profession=form.profession,
        priority=form.priority,
        received_at=received_at,
        deadline=deadline,
        location=form.location,
        modalities=form.modalities,
        earliest=form.earliest,
        radius_km=radius,
        medecin_traitant_rpps=form.medecin_traitant_rpps,
    )
    row = CareRequestRow(
        cpts_id=cpts.id,
        origin=str(request.origin),
        profession=int(request.profession),
        modalities=",".join(sorted(str(m) for m in request.modalities)),
        priority=request.priority,
        received_at=request.received_at,
        earliest=request.earliest,
        deadline=request.deadline,
        insee_code=form.location.insee_code,
        lat=lat,
        lon=lon,
        radius_km=radius,
        medecin_traitant_id=_professional_id(session, form.medecin_traitant_rpps),
        patient_id=_store_contact(session, cpts.id, patient, received_at),
        status=str(RequestStatus.PENDING),
    )
    session.add(row)
    session.flush()
    return row


def _locate(
    directory: CommuneDirectory, form: IntakeForm, settings: CptsSettings
) -> tuple[float, float, float]:
    location = form.location
    policy = RadiusPolicy(
        dense_radius_km=settings.radius_dense_km, rural_radius_km=settings.radius_rural_km
    )
    commune = None
    if location.insee_code is not None:
        try:
            commune = directory.get(location.insee_code)
        except UnknownCommuneError as error:
            raise DomainError("location.insee_code", str(error), "Check the code.") from None
    if location.lat is not None and location.lon is not None:
        lat, lon = location.lat, location.lon
    else:
        assert commune is not None  # PatientLocation guarantees a code or a point
        lat, lon = commune.point().latlon
    if form.radius_km is not None:
        radius = form.radius_km
    elif commune is not None:
        radius = directory.default_radius_km(commune, policy)
    else:
        radius = settings.radius_rural_km
    return lat, lon, radius


def _professional_id(session: Session, rpps: str | None) -> int | None:
    if rpps is None:
        return None
    found = session.scalars(select(ProfessionalRow.id).where(ProfessionalRow.rpps == rpps)).first()
    if found is None:
        raise DomainError(
            "medecin_traitant_rpps",
            f"no participating professional has RPPS {rpps}",
            "Leave it empty when the médecin traitant does not take part in SNP.",
        )
    return found


def _store_contact(
    session: Session, cpts_id: int, patient: PatientContact | None, at: datetime
) -> int | None:
    if patient is None:
        return None
    row = PatientContactRow(
        cpts_id=cpts_id,
        display_name=patient.display_name,
        phone=patient.phone,
        birth_year=patient.birth_year,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row.id
