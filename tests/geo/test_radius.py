from __future__ import annotations

import math

import numpy as np
import pytest

from snp.geo import (
    CommuneDirectory,
    RadiusPolicy,
    UnknownCommuneError,
    default_radius_km,
)


@pytest.fixture(scope="module")
def yvelines() -> CommuneDirectory:
    return CommuneDirectory.from_csv()


def test_city_is_dense_and_village_is_rural(yvelines: CommuneDirectory) -> None:
    assert default_radius_km("78646") == 10.0  # Versailles
    assert default_radius_km(yvelines.get("78498")) == 10.0  # Poissy
    assert default_radius_km("78606", yvelines) == 25.0  # Le Tartre-Gaudran, 37 inhabitants


def test_most_people_but_not_most_communes_are_in_dense_areas(
    yvelines: CommuneDirectory,
) -> None:
    radii = yvelines.default_radii_km()
    assert set(np.unique(radii).tolist()) == {10.0, 25.0}
    dense = radii == 10.0
    assert 0.3 < dense.mean() < 0.7
    assert yvelines.population[dense].sum() / yvelines.population.sum() > 0.8


def test_population_within_includes_the_commune_itself(yvelines: CommuneDirectory) -> None:
    around = yvelines.population_within_km(5.0)
    assert (around >= yvelines.population).all()
    tiny = yvelines.population_within_km(0.001)
    np.testing.assert_array_equal(tiny, yvelines.population.astype(float))


def test_density_is_population_over_disc_area(yvelines: CommuneDirectory) -> None:
    policy = RadiusPolicy(neighbourhood_km=3.0)
    np.testing.assert_allclose(
        yvelines.density_per_km2(policy),
        yvelines.population_within_km(3.0) / (math.pi * 9.0),
    )


def test_thresholds_are_parameters(yvelines: CommuneDirectory) -> None:
    everything_dense = RadiusPolicy(dense_min_per_km2=0.0, dense_radius_km=7.0)
    assert yvelines.default_radius_km("78606", everything_dense) == 7.0
    nothing_dense = RadiusPolicy(dense_min_per_km2=1e9, rural_radius_km=30.0)
    assert yvelines.default_radius_km("78646", nothing_dense) == 30.0


def test_national_filter_sees_neighbours_across_the_border() -> None:
    # Blaru (78) sits next to Vernon (Eure): rural on the 78 table alone, dense once
    # the Eure is in the neighbourhood.
    alone = CommuneDirectory.from_csv()
    in_context = CommuneDirectory.france(["78"])
    assert alone.default_radius_km("78068") == 25.0
    assert in_context.default_radius_km("78068") == 10.0
    assert len(in_context) == 259


def test_commune_without_coordinates_gets_the_rural_radius() -> None:
    cantal = CommuneDirectory.france(["15"])
    assert cantal.default_radius_km("15031") == 25.0
    with pytest.raises(UnknownCommuneError):
        cantal.default_radius_km("78646")


def test_paris_is_dense() -> None:
    paris = CommuneDirectory.france(["75"])
    assert paris.default_radius_km("75056") == 10.0
