"""CPTS: the tenant. Its territory, its calendar and its orientation settings."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from snp.calendar import CptsCalendar
from solver import Weights


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

    @field_validator("solver_weights")
    @classmethod
    def _known_weights(cls, value: dict[str, int | list[int]]) -> dict[str, int | list[int]]:
        """Only the solver's own weights, each of its shape: an unknown name stored
        here made every later plan and freed-place offer of the CPTS fail."""
        defaults = Weights()
        known = {f.name for f in fields(Weights)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown solver weight(s) {unknown}; known: {sorted(known)}")
        for name, weight in value.items():
            if isinstance(getattr(defaults, name), tuple) != isinstance(weight, list):
                raise ValueError(f"solver weight {name} has the wrong shape (integer or list)")
        overrides: dict[str, Any] = {
            n: tuple(w) if isinstance(w, list) else w for n, w in value.items()
        }
        replace(defaults, **overrides)  # the solver's own checks (ValueError → 422)
        return value

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
