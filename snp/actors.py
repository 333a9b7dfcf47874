"""Who is acting: a user with one role, scoped to one CPTS (admins: the platform)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # CPTS telephone orientation staff
    REGULATOR = "regulator"  # SAS regulation, often system to system
    PROFESSIONAL = "professional"  # own plages, slots and orientations
    COORDINATOR = "coordinator"  # own CPTS: indicators, statements, availability on behalf
    ADMIN = "admin"  # the platform: CPTS, agreements, users


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    name: str
    role: Role
    cpts_id: int | None  # None only for platform admins
    professional_id: int | None = None

    @property
    def label(self) -> str:
        """How the trace names the actor (no patient data, no secrets)."""
        return f"{self.role}:{self.user_id}"


SYSTEM = Actor(user_id=0, name="snp", role=Role.ADMIN, cpts_id=None)
