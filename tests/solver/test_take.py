"""``SlotIndex.take`` (booking in place answers like a fresh index), and the two
mutualisation lookups of batch candidate generation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import InvalidInputError, SlotIndex, SlotPool, plan, rank
from tests.solver.instances import NOW, book_randomly, make_pool, make_requests

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _copy(pool: SlotPool) -> SlotPool:
    return dataclasses.replace(pool, capacity=pool.capacity.copy(),
                               surnumeraire=pool.surnumeraire.copy())


@FAST
@given(seed=st.integers(0, 10**6), bookings=st.integers(1, 40))
def test_take_matches_a_fresh_index(seed: int, bookings: int) -> None:
    rng = np.random.default_rng(seed)
    pool = make_pool(rng, 60, n_prof=5)
    index = SlotIndex.build(_copy(pool))
    book_randomly(index, rng, bookings)
    fresh = SlotIndex.build(_copy(index.pool))
    np.testing.assert_array_equal(index.units, fresh.units)
    np.testing.assert_array_equal(index.pd_units, fresh.pd_units)
    for code, prof in fresh.professions.items():
        np.testing.assert_array_equal(index.professions[code].lane_units, prof.lane_units)
    requests = make_requests(rng, 6)
    for request in requests:
        assert rank(request, index, now=NOW, k=4) == rank(request, fresh, now=NOW, k=4)
    assert plan(requests, index, now=NOW).assignment == plan(requests, fresh, now=NOW).assignment


def test_take_refuses_a_slot_with_nothing_left() -> None:
    pool = make_pool(np.random.default_rng(1), 20)
    index = SlotIndex.build(_copy(pool))
    full = int(np.flatnonzero(pool.capacity == 0)[0])
    with pytest.raises(InvalidInputError):
        index.take(full, surnumeraire=False)
    with pytest.raises(InvalidInputError):
        index.take(len(pool), surnumeraire=False)
    np.testing.assert_array_equal(index.units, SlotIndex.build(_copy(pool)).units)


@FAST
@given(seed=st.integers(0, 10**6))
def test_large_cpts_codes_take_the_same_decisions(seed: int) -> None:
    """CPTS codes ≥ 63 use the binary-search path of the mutualisation rule, small
    ones a bit mask: both must give the same plan."""
    rng = np.random.default_rng(seed)
    pool = make_pool(rng, 80, n_prof=6)
    requests = make_requests(rng, 12)
    shift = 1000
    big_pool = dataclasses.replace(pool, cpts=pool.cpts + shift)
    big_requests = [dataclasses.replace(r, cpts=r.cpts + shift,
                                        allowed_cpts=frozenset(c + shift for c in r.allowed_cpts))
                    for r in requests]
    small = plan(requests, pool, now=NOW)
    big = plan(big_requests, big_pool, now=NOW)
    assert small.assignment == big.assignment
    assert small.objective == big.objective


@FAST
@given(seed=st.integers(0, 10**6), spread=st.sampled_from([3, 10**5]))
def test_pair_ids_match_a_sort(seed: int, spread: int) -> None:
    """The dense (professional, day) numbering equals ``np.unique``'s, sparse or not."""
    from solver.index import _pair_ids, pair_keys

    rng = np.random.default_rng(seed)
    professional = rng.integers(0, 50, 200) * rng.integers(1, spread, 200)
    period = rng.integers(-5, 5, 200) * rng.integers(1, spread, 200)
    keys, ids = _pair_ids(professional, period)
    want_keys, want_ids = np.unique(pair_keys(professional, period), return_inverse=True)
    np.testing.assert_array_equal(keys, want_keys)
    np.testing.assert_array_equal(ids, want_ids)
