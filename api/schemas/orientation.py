"""Intake, proposals, holds, bookings and outcomes (FHIR Slot/Appointment words).

Responses carry no patient identity: the contact is stored apart and never read
back through the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from api.schemas.common import Input, Output
from snp.modalities import Modality

_INTAKE_EXAMPLE: dict[str, Any] = {
    "profession": 10,
    "priority": "same_day",
    "location": {"insee_code": "78646"},
    "modalities": ["in_person", "teleconsultation"],
    "patient": {"display_name": "M. D.", "phone": "06 12 34 56 78", "birth_year": 1984},
}


class LocationIn(Input):
    insee_code: str | None = Field(default=None, pattern=r"^[0-9][0-9AB][0-9]{3}$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class PatientIn(Input):
    """The minimum needed to call the patient back; stored apart, purgeable."""

    display_name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=20)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)


class CareRequestCreate(Input):
    profession: int | str = Field(description="ANS code (10) or name (medecin, infirmier…)")
    priority: str = Field(description="urgent_same_day, same_day or within_48h (per CPTS)")
    location: LocationIn
    modalities: list[Modality] = Field(default_factory=lambda: list(Modality), min_length=1)
    earliest: AwareDatetime | None = Field(default=None, description="patient available from")
    radius_km: float | None = Field(default=None, gt=0, le=200)
    medecin_traitant_rpps: str | None = None
    patient: PatientIn | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [_INTAKE_EXAMPLE]})


class RequestOut(Output):
    id: int
    cpts_id: int
    origin: str
    profession: int
    priority: str
    received_at: datetime
    deadline: datetime
    insee_code: str | None
    lat: float
    lon: float
    radius_km: float
    modalities: list[str]
    status: str
    unserved_reason: str | None


class ProposalOut(Output):
    slot_id: int
    professional_id: int
    professional_name: str
    profession: int
    site_name: str
    insee_code: str
    start: datetime
    end: datetime
    modality: str
    distance_km: float | None
    wait_minutes: int
    cost: int
    terms: dict[str, int]
    explanation: str
    surnumeraire: bool


class ProposalsOut(Output):
    request_id: int
    proposals: list[ProposalOut]
    excluded: dict[str, int] = Field(description="slots excluded, by the rule that excluded them")
    unserved_reason: str | None


class OrientationOut(Output):
    id: int
    request_id: int
    slot_id: int
    status: str
    surnumeraire: bool
    held_until: datetime | None
    booked_at: datetime | None
    rescheduled_from_id: int | None
    distance_km: float | None
    start: datetime
    end: datetime
    professional_id: int
    professional_name: str
    site_name: str
    insee_code: str


class IntakeOut(Output):
    request: RequestOut
    proposals: ProposalsOut
    orientation: OrientationOut | None = Field(description="set when oriented on push")


class HoldCreate(Input):
    slot_id: int
    surnumeraire_reason: str | None = Field(
        default=None,
        min_length=3,
        max_length=300,
        description="needed to book beyond the slot's planned capacity",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"slot_id": 42}]})


class CancellationIn(Input):
    reason: str | None = Field(default=None, max_length=300)
    close_request: bool = Field(
        default=False, description="the patient no longer needs care (else: back to waiting list)"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "patient unavailable", "close_request": False}]}
    )


class ReorientationIn(Input):
    slot_id: int

    model_config = ConfigDict(json_schema_extra={"examples": [{"slot_id": 43}]})


class OutcomeIn(Input):
    outcome: Literal["honoured", "no_show", "redirected_15", "redirected_ed"]

    model_config = ConfigDict(json_schema_extra={"examples": [{"outcome": "honoured"}]})


class PlanOut(Output):
    cpts_ids: list[int]
    held: list[OrientationOut]
    unserved: dict[int, str] = Field(description="request id → why it stayed unserved")
    objective: int


class SlotTakenOut(Output):
    """The 409 answer when another caller got the slot first."""

    type: str
    title: str
    status: int
    detail: str
    slot_id: int
    next_proposals: list[ProposalOut]
