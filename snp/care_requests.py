"""Care requests: what a patient needs, how soon, and from where.

The request carries no patient identity: the contact needed to call the patient
back lives in :mod:`snp.patients`, referenced by id and purgeable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from snp.errors import DomainError
from snp.modalities import Modality, Origin
from snp.professions import Profession
from snp.sites import check_coordinates
from snp.slots import require_aware


class RequestStatus(StrEnum):
    PENDING = "pending"  # waiting for a slot (waiting list included)
    ORIENTED = "oriented"  # a slot is held or booked for it
    UNSERVED = "unserved"  # closed without a slot (deadline passed, redirected)
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PatientLocation:
    """Where the patient is: a commune code, precise coordinates, or both."""

    insee_code: str | None = None
    lat: float | None = None
    lon: float | None = None

    def __post_init__(self) -> None:
        if (self.lat is None) != (self.lon is None):
            raise DomainError("location", "only one coordinate", "Give both lat and lon.")
        if self.insee_code is None and self.lat is None:
            raise DomainError(
                "location",
                "no commune code and no coordinates",
                "Give the patient's commune (INSEE code) or latitude and longitude.",
            )
        if self.lat is not None and self.lon is not None:
            check_coordinates(self.lat, self.lon, "location")


@dataclass(frozen=True, slots=True)
class CareRequest:
    cpts_code: str
    origin: Origin
    profession: Profession
    priority: str
    received_at: datetime
    deadline: datetime
    location: PatientLocation
    modalities: frozenset[Modality] = field(default_factory=lambda: frozenset(Modality))
    earliest: datetime | None = None
    radius_km: float | None = None
    medecin_traitant_rpps: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.received_at, "received_at")
        require_aware(self.deadline, "deadline")
        if self.deadline <= self.received_at:
            raise DomainError(
                "deadline",
                f"{self.deadline.isoformat()} is not after the request time "
                f"{self.received_at.isoformat()}",
                "Give a deadline in the future, or let the priority class compute it.",
            )
        if self.earliest is not None:
            require_aware(self.earliest, "earliest")
            if self.earliest >= self.deadline:
                raise DomainError(
                    "earliest",
                    "the patient is available only after the deadline",
                    "Give an earliest time before the deadline.",
                )
        if not self.modalities:
            raise DomainError("modalities", "no modality accepted", "Accept at least one modality.")
        if self.radius_km is not None and not 0 < self.radius_km <= 200:
            raise DomainError("radius_km", f"{self.radius_km} km", "Use a radius in (0, 200] km.")

    @property
    def starts_from(self) -> datetime:
        return max(self.received_at, self.earliest or self.received_at)
