"""Publishing availability: plages (weekly windows) and slots (concrete places)."""

from __future__ import annotations

from datetime import date, time

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from api.schemas.common import Input, Output
from snp.modalities import Modality


class PlageCreate(Input):
    professional_id: int | None = Field(
        default=None, description="required for coordinators; professionals publish their own"
    )
    site_id: int | None = Field(default=None, description="default: the professional's main site")
    weekday: int | str = Field(description="0-6 (Monday=0) or a day name (tuesday, mardi)")
    start: time
    end: time
    valid_from: date
    valid_until: date | None = None
    slot_minutes: int = Field(default=20, ge=5, le=240)
    modality: Modality = Modality.IN_PERSON
    capacity: int = Field(default=1, ge=0, le=50)
    surnumeraire: int = Field(default=0, ge=0, le=50, description="extra places beyond plan")
    sas_reserved: bool = False

    @field_validator("start", "end")
    @classmethod
    def _local_clock_time(cls, value: time) -> time:
        # The plage repeats in the CPTS's time zone (summer and winter time alike):
        # an offset cannot hold for both (it was a 500 from the calendar).
        if value.tzinfo is not None:
            raise ValueError("a local clock time without offset, like 09:00")
        return value

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "weekday": "tuesday",
                    "start": "09:00",
                    "end": "12:00",
                    "valid_from": "2026-11-24",
                    "slot_minutes": 20,
                    "modality": "in_person",
                    "capacity": 1,
                    "surnumeraire": 1,
                }
            ]
        }
    )


class PlageOut(Output):
    id: int
    professional_id: int
    site_id: int
    weekday: int
    start: time
    end: time
    valid_from: date
    valid_until: date | None
    slot_minutes: int
    modality: Modality
    capacity: int
    surnumeraire: int
    sas_reserved: bool


class PlageCreated(PlageOut):
    slots_published: int = Field(description="slots created over the next 48 h")


class SlotCreate(Input):
    professional_id: int | None = Field(
        default=None, description="required for coordinators; professionals publish their own"
    )
    site_id: int | None = Field(default=None, description="default: the professional's main site")
    start: AwareDatetime
    end: AwareDatetime
    modality: Modality = Modality.IN_PERSON
    capacity: int = Field(default=1, ge=0, le=50)
    surnumeraire: int = Field(default=0, ge=0, le=50)
    sas_reserved: bool = False

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-11-26T14:00:00+01:00",
                    "end": "2026-11-26T14:20:00+01:00",
                    "modality": "in_person",
                    "capacity": 1,
                    "surnumeraire": 0,
                    "sas_reserved": True,
                }
            ]
        }
    )


class SlotPatch(Input):
    capacity: int | None = Field(default=None, ge=0, le=50)
    surnumeraire: int | None = Field(default=None, ge=0, le=50)
    sas_reserved: bool | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"capacity": 2, "surnumeraire": 1}]})


class SlotOut(Output):
    id: int
    cpts_id: int
    professional_id: int
    site_id: int
    plage_id: int | None
    profession: int
    start: AwareDatetime = Field(validation_alias="start_at")
    end: AwareDatetime = Field(validation_alias="end_at")
    modality: Modality
    capacity: int
    surnumeraire: int
    taken: int
    sas_reserved: bool
    cancelled: bool
