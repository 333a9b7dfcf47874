"""How a patient is seen, and where a request comes from."""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    IN_PERSON = "in_person"
    HOME_VISIT = "home_visit"
    TELECONSULTATION = "teleconsultation"


class Origin(StrEnum):
    CPTS = "cpts"  # the CPTS's own telephone orientation line
    SAS = "sas"  # pushed by a SAS regulator
