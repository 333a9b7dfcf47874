"""Concrete SNP slots: one professional, one site, one start, some capacity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from snp.errors import DomainError
from snp.modalities import Modality
from snp.professions import Profession

MAX_SLOT = timedelta(hours=12)


def require_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(
            field, f"{value.isoformat()} has no time zone", "Give an ISO 8601 time with an offset."
        )


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable window. ``capacity`` counts planned places; ``surnumeraire``
    the extra places the professional accepts beyond the agenda."""

    professional_rpps: str
    profession: Profession
    start: datetime
    end: datetime
    modality: Modality = Modality.IN_PERSON
    capacity: int = 1
    surnumeraire: int = 0
    sas_reserved: bool = False

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        require_aware(self.end, "end")
        if self.end <= self.start:
            raise DomainError(
                "end",
                f"the slot ends ({self.end.isoformat()}) "
                f"before it starts ({self.start.isoformat()})",
                "Give an end time after the start time.",
            )
        if self.end - self.start > MAX_SLOT:
            raise DomainError("end", "a slot longer than 12 h", "Split it into shorter slots.")
        if self.capacity < 0 or self.surnumeraire < 0:
            raise DomainError("capacity", "capacity cannot be negative", "Give 0 or more places.")
        if self.capacity + self.surnumeraire == 0:
            raise DomainError("capacity", "the slot has no place at all", "Give at least 1 place.")
