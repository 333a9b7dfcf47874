"""Large sizes: opt in with ``pytest -m slow``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from snp.scenario import IDF_DEPARTEMENTS, SIZES, generate

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _opt_in(request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("large scenario: opt in with -m slow")


def test_large_on_ile_de_france_is_fast_and_exact() -> None:
    started = time.perf_counter()
    scenario = generate("L", seed=11)
    elapsed = time.perf_counter() - started
    assert elapsed < 10
    assert len(scenario.slots) == SIZES["L"].n_slots
    assert len(scenario.requests) == SIZES["L"].n_requests
    assert scenario.size.departements == IDF_DEPARTEMENTS
    assert 35 <= len(scenario.cpts.cpts_id) <= 60
    assert set(scenario.cpts.departement.tolist()) == set(IDF_DEPARTEMENTS)
    again = generate("L", seed=11)
    np.testing.assert_array_equal(scenario.slots.start, again.slots.start)
    pool, requests = scenario.to_solver()
    assert len(pool) == 200_000 and len(requests) == 20_000


def test_extra_large_on_metropolitan_france() -> None:
    started = time.perf_counter()
    scenario = generate("XL", seed=0)
    assert time.perf_counter() - started < 30
    assert len(scenario.slots) == 1_000_000
    assert len(scenario.requests) == 100_000
    assert len(set(scenario.cpts.departement.tolist())) == 96
