from __future__ import annotations

import numpy as np
import pytest

from snp.geo import CommuneDirectory, geodesic_km, haversine_km


@pytest.fixture(scope="module")
def france() -> CommuneDirectory:
    return CommuneDirectory.france()


def test_known_distance_versailles_rambouillet() -> None:
    versailles, rambouillet = (48.80052, 2.13038), (48.64517, 1.81971)
    assert geodesic_km(versailles, rambouillet) == pytest.approx(28.65, abs=0.01)
    assert float(haversine_km(*versailles, *rambouillet)) == pytest.approx(28.60, abs=0.01)


def test_zero_and_symmetry() -> None:
    assert float(haversine_km(48.8, 2.1, 48.8, 2.1)) == 0.0
    a = haversine_km(48.8, 2.1, 43.3, 5.4)
    b = haversine_km(43.3, 5.4, 48.8, 2.1)
    assert float(a) == pytest.approx(float(b))


def test_haversine_broadcasts_one_against_many() -> None:
    lats = np.array([48.80052, 48.64517, 48.98937])
    lons = np.array([2.13038, 1.81971, 1.71537])
    row = haversine_km(48.80052, 2.13038, lats, lons)
    assert row.shape == (3,)
    assert row[0] == 0.0
    matrix = haversine_km(lats[:, None], lons[:, None], lats[None, :], lons[None, :])
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(matrix[0], row)


def test_haversine_agrees_with_geodesic_on_real_commune_pairs(
    france: CommuneDirectory,
) -> None:
    rng = np.random.default_rng(12)
    metro = np.flatnonzero(np.char.str_len(france.departements) == 2)
    i = rng.choice(metro, 300)
    j = rng.choice(metro, 300)
    keep = i != j
    i, j = i[keep], j[keep]
    fast = haversine_km(france.lat[i], france.lon[i], france.lat[j], france.lon[j])
    exact = np.array(
        [
            geodesic_km((france.lat[a], france.lon[a]), (france.lat[b], france.lon[b]))
            for a, b in zip(i, j, strict=True)
        ]
    )
    assert exact.min() > 0
    assert np.abs(fast / exact - 1).max() < 0.005


def test_haversine_agrees_on_short_distances_in_the_78() -> None:
    yvelines = CommuneDirectory.from_csv()
    lat, lon = yvelines.lat, yvelines.lon
    fast = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])
    exact = np.array(
        [geodesic_km((lat[k], lon[k]), (lat[k + 1], lon[k + 1])) for k in range(len(lat) - 1)]
    )
    assert np.abs(fast / exact - 1).max() < 0.005
