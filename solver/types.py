"""Inputs and outputs of the matching core.

The solver sees plain numbers: ids are integers chosen by the caller, times are
UTC epoch seconds, coordinates are WGS84 degrees, costs are integers. The slot
pool is a struct of numpy arrays (one index per slot) so that screening a
request against hundreds of thousands of slots stays vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Modality(IntEnum):
    """How the patient is seen. Distance rules apply to all but teleconsultation."""

    IN_PERSON = 0
    HOME_VISIT = 1
    TELECONSULTATION = 2


class Origin(IntEnum):
    CPTS = 0  # the CPTS's own telephone line
    SAS = 1  # pushed by a SAS regulator


@dataclass(frozen=True, slots=True)
class SlotPool:
    """Every slot the solver may use, as parallel arrays of equal length.

    ``capacity`` is the remaining planned capacity (already net of bookings and
    live holds); ``surnumeraire`` is the extra capacity the professional accepts
    beyond the agenda (0 when they do not accept surnuméraire). ``day`` is the
    caller's local calendar day number of the slot (in the CPTS time zone) and
    ``week`` its local ISO week number: the fairness terms count per
    (professional, day) and per (professional, week).
    """

    slot_id: IntArray
    professional: IntArray
    lat: FloatArray
    lon: FloatArray
    start: IntArray
    end: IntArray
    profession: IntArray
    modality: IntArray
    capacity: IntArray
    surnumeraire: IntArray
    sas_reserved: BoolArray
    cpts: IntArray
    day: IntArray
    week: IntArray

    def __len__(self) -> int:
        return int(self.slot_id.shape[0])


@dataclass(frozen=True, slots=True)
class Request:
    """One care request, as the solver needs it (no patient identity)."""

    request_id: int
    lat: float
    lon: float
    profession: int
    modalities: frozenset[Modality]
    earliest: int
    deadline: int
    priority: int  # 0 = most urgent; larger = less urgent
    radius_km: float
    cpts: int
    allowed_cpts: frozenset[int]  # own CPTS plus those with a mutualisation agreement
    origin: Origin = Origin.CPTS
    medecin_traitant: int | None = None  # professional id of the patient's GP, if any


@dataclass(frozen=True, slots=True)
class Load:
    """Current SNP load already given to professionals (bookings and holds).

    ``daily`` maps (professional, day) to the number of SNP patients already
    given that day; ``weekly_sas`` maps (professional, week) to SAS-regulated
    consultations already given that week.
    """

    daily: dict[tuple[int, int], int] = field(default_factory=dict)
    weekly_sas: dict[tuple[int, int], int] = field(default_factory=dict)
