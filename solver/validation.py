"""Input checks: reject malformed pools and requests with a message naming the item.

Checks are vectorised over the pool (one pass per rule) so building an index
of 200k slots stays within its time budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from solver.errors import InvalidInputError
from solver.types import Load, Modality, Request, SlotPool

MAX_ID = 2**40
"""Ids (slot, professional, CPTS) are packed into int64 keys; they must stay below 2**40."""

# Built once: ``rank`` validates every request and this check is on its hot path.
_MODALITIES = frozenset(Modality)

_POOL_FIELDS = (
    "slot_id", "professional", "lat", "lon", "start", "end", "profession", "modality",
    "capacity", "surnumeraire", "sas_reserved", "cpts", "day", "week",
)  # fmt: skip


def _first_bad(pool: SlotPool, bad: np.ndarray, what: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"slot {int(pool.slot_id[i])} (position {i}): {what}; {int(bad.sum())} slot(s) affected"
        )


def validate_pool(pool: SlotPool) -> None:
    """Raise ``InvalidInputError`` on the first malformed slot."""
    n = len(pool)
    for name in _POOL_FIELDS:
        arr = np.asarray(getattr(pool, name))
        if arr.ndim != 1 or arr.shape[0] != n:
            raise InvalidInputError(
                f"slot pool field {name!r} has shape {arr.shape}, expected ({n},)"
            )
    if n == 0:
        return
    lat = np.asarray(pool.lat, dtype=np.float64)
    lon = np.asarray(pool.lon, dtype=np.float64)
    _first_bad(pool, ~np.isfinite(lat) | ~np.isfinite(lon), "coordinates are not finite")
    _first_bad(pool, (np.abs(lat) > 90) | (np.abs(lon) > 180), "coordinates out of range")
    _first_bad(pool, pool.end <= pool.start, "slot ends before (or when) it starts")
    _first_bad(pool, pool.capacity < 0, "negative capacity")
    _first_bad(pool, pool.surnumeraire < 0, "negative surnuméraire capacity")
    _first_bad(pool, (pool.modality < 0) | (pool.modality > 2), "unknown modality")
    for name in ("slot_id", "professional", "cpts"):
        arr = getattr(pool, name)
        _first_bad(pool, (arr < 0) | (arr >= MAX_ID), f"{name} outside [0, 2**40)")
    _first_bad(pool, np.abs(pool.day) >= 2**20, "day number outside (-2**20, 2**20)")
    _first_bad(pool, np.abs(pool.week) >= 2**20, "week number outside (-2**20, 2**20)")
    ids = np.sort(pool.slot_id)
    dup = ids[1:] == ids[:-1]
    if dup.any():
        raise InvalidInputError(f"duplicate slot_id {int(ids[1:][dup][0])}")


def validate_request(request: Request, now: int) -> None:
    """Raise ``InvalidInputError`` if the request cannot be matched meaningfully."""
    rid = request.request_id
    if not (math.isfinite(request.lat) and math.isfinite(request.lon)):
        raise InvalidInputError(f"request {rid}: coordinates are not finite")
    if abs(request.lat) > 90 or abs(request.lon) > 180:
        raise InvalidInputError(f"request {rid}: coordinates out of range")
    if not math.isfinite(request.radius_km) or request.radius_km < 0:
        raise InvalidInputError(f"request {rid}: radius_km must be finite and ≥ 0")
    if request.deadline < now:
        raise InvalidInputError(f"request {rid}: deadline {request.deadline} is before now {now}")
    if request.earliest > request.deadline:
        raise InvalidInputError(f"request {rid}: earliest is after the deadline")
    if request.priority < 0:
        raise InvalidInputError(f"request {rid}: priority must be ≥ 0")
    if not request.modalities or any(m not in _MODALITIES for m in request.modalities):
        raise InvalidInputError(f"request {rid}: modalities must be a non-empty set of Modality")
    if not 0 <= request.cpts < MAX_ID or any(not 0 <= c < MAX_ID for c in request.allowed_cpts):
        raise InvalidInputError(f"request {rid}: CPTS ids outside [0, 2**40)")


def validate_requests(requests: Sequence[Request], now: int) -> None:
    seen: set[int] = set()
    for request in requests:
        if request.request_id in seen:
            raise InvalidInputError(f"duplicate request_id {request.request_id}")
        seen.add(request.request_id)
        validate_request(request, now)


def validate_load(load: Load) -> None:
    for label, table in (("daily", load.daily), ("weekly_sas", load.weekly_sas)):
        for key, value in table.items():
            if value < 0:
                raise InvalidInputError(f"load {label}{key}: negative count {value}")
