"""Integer weights of the cost model, one set per territory.

The caller (``snp``) builds a ``Weights`` from the CPTS settings; the defaults
are our own choices, documented in ``docs/matching-model.md``. All costs are
integer "points" so that the batch flow is solved exactly (no float rounding).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of every cost term. Integers; priority tuples are indexed by priority.

    Priority 0 is the most urgent class; a request whose priority is beyond the
    tuple uses the last entry.
    """

    per_km: int = 20
    """Cost of one kilometre of travel (great-circle distance, patient to site)."""
    per_minute_wait: int = 1
    """Cost of one minute between *now* and the slot start."""
    deadline_closeness: tuple[int, ...] = (600, 300, 100)
    """Cost of using the whole allowed window (earliest to deadline), per priority.

    The term is proportional to the share of the window consumed, so urgent
    classes are pushed towards the start of their window harder.
    """
    not_medecin_traitant: int = 300
    """Charged on every slot that is not the patient's médecin traitant (when known).

    Equivalent to a bonus of this size for the médecin traitant; kept as a
    non-negative charge so every cost stays ≥ 0.
    """
    other_cpts: int = 100
    """Charged when the slot belongs to another CPTS (mutualisation) — a bonus for the own CPTS."""
    surnumeraire: int = 500
    """Charged per patient seen beyond planned capacity, so planned capacity is used first."""
    fairness_daily_step: int = 60
    """The k-th SNP patient given to one professional on one day costs step × (k − 1)."""
    sas_weekly_cap: int = 20
    """National cap of the SAS majoration per doctor per week."""
    sas_weekly_step_beyond_cap: int = 2_000
    """The k-th SAS consultation of a professional's week costs step × (k − cap) beyond the cap."""
    unassigned: tuple[int, ...] = (30_000, 20_000, 10_000)
    """Extra penalty for leaving a request unserved, per priority (added to a safety bound)."""

    def __post_init__(self) -> None:
        scalars = {
            "per_km": self.per_km,
            "per_minute_wait": self.per_minute_wait,
            "not_medecin_traitant": self.not_medecin_traitant,
            "other_cpts": self.other_cpts,
            "surnumeraire": self.surnumeraire,
            "fairness_daily_step": self.fairness_daily_step,
            "sas_weekly_cap": self.sas_weekly_cap,
            "sas_weekly_step_beyond_cap": self.sas_weekly_step_beyond_cap,
        }
        for name, value in scalars.items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"weight {name} must be a non-negative integer, got {value!r}")
        for name, values in (
            ("deadline_closeness", self.deadline_closeness),
            ("unassigned", self.unassigned),
        ):
            if not values or any(not isinstance(v, int) or v < 0 for v in values):
                raise ValueError(f"weight {name} must be a non-empty tuple of integers ≥ 0")
        if any(a < b for a, b in zip(self.unassigned, self.unassigned[1:], strict=False)):
            raise ValueError("unassigned penalties must not grow as priority becomes less urgent")

    def for_priority(self, values: tuple[int, ...], priority: int) -> int:
        """The entry of a per-priority tuple, clamping to its last entry."""
        return values[min(priority, len(values) - 1)]

    def daily_marginal(self, k: int) -> int:
        """Cost of the k-th SNP patient (k ≥ 1) of one professional on one day."""
        return self.fairness_daily_step * (k - 1)

    def sas_marginal(self, k: int) -> int:
        """Cost of the k-th SAS consultation (k ≥ 1) of one professional in one week."""
        return self.sas_weekly_step_beyond_cap * max(0, k - self.sas_weekly_cap)
