"""Places where professionals receive SNP patients."""

from __future__ import annotations

import math
from dataclasses import dataclass

from snp.errors import DomainError


def check_coordinates(lat: float, lon: float, field: str = "coordinates") -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise DomainError(
            field,
            f"({lat}, {lon}) are not WGS84 coordinates",
            "Give latitude in [-90, 90] and longitude in [-180, 180], in decimal degrees.",
        )


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    address: str
    insee_code: str
    lat: float
    lon: float

    def __post_init__(self) -> None:
        check_coordinates(self.lat, self.lon)
