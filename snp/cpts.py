"""CPTS: the tenant. Its territory, its calendar and its orientation settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from snp.calendar import CptsCalendar


class CptsSettings(BaseModel):
    """What a CPTS configures for itself; stored as JSON on the CPTS row.

    ``solver_weights`` overrides fields of the solver's ``Weights`` by name (its
    defaults are documented in docs/matching-model.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    calendar: CptsCalendar
    hold_minutes: int = Field(default=5, ge=1, le=60)
    radius_dense_km: float = Field(default=10.0, gt=0, le=200)
    radius_rural_km: float = Field(default=25.0, gt=0, le=200)
    auto_orient_sas: bool = False
    solver_weights: dict[str, int | list[int]] = Field(default_factory=dict)

    @property
    def hold_for(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)

    def priority_rank(self, priority: str) -> int:
        """0 for the most urgent class, in the order the CPTS lists them."""
        return self.calendar.priorities.names.index(priority)


@dataclass(frozen=True, slots=True)
class Cpts:
    code: str
    name: str
    settings: CptsSettings
    territory: frozenset[str]  # INSEE commune codes

    @property
    def departement_code(self) -> str:
        return self.settings.calendar.departement_code


def default_settings(departement_code: str) -> CptsSettings:
    return CptsSettings(calendar=CptsCalendar(departement_code=departement_code))
