"""Great-circle distances in kilometres, vectorised."""

from __future__ import annotations

import numpy as np

from solver.types import FloatArray

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Distance from one point to many, in km (haversine; accurate for a few km)."""
    return haversine_pairs_km(np.full_like(lats, lat), np.full_like(lons, lon), lats, lons)


def haversine_pairs_km(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Element-wise distance between two arrays of points, in km."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


def unit_vectors(lats: FloatArray, lons: FloatArray) -> FloatArray:
    """3-D unit vectors, so that a Euclidean KD-tree answers great-circle radius queries."""
    phi = np.radians(lats)
    lmb = np.radians(lons)
    cos_phi = np.cos(phi)
    out: FloatArray = np.column_stack((cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi)))
    return out


def chord_for_km(radius_km: FloatArray | float) -> FloatArray:
    """Chord length on the unit sphere matching a great-circle radius (slightly inflated).

    The inflation only widens the candidate query; the hard rule is then applied
    on the haversine distance itself.
    """
    angle = np.minimum(np.asarray(radius_km, dtype=np.float64) / EARTH_RADIUS_KM, np.pi)
    out: FloatArray = 2 * np.sin(angle / 2) * (1 + 1e-9) + 1e-12
    return out
