"""``rank`` reads counts per group and costs only the slots that can reach the top k:
it must answer exactly as screening and costing every slot, whatever the bookings."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import Load, SlotIndex, SlotPool, Weights, rank
from solver.candidates import RequestArrays, screen
from solver.cost import edge_terms, slot_terms
from solver.index import RankGroups
from solver.types import Request
from tests.solver.instances import NOW, book_randomly, make_pool, make_requests

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pool(rng: np.random.Generator, n: int, n_prof: int, cpts_by_site: bool) -> SlotPool:
    """``make_pool`` (one site per professional); with ``cpts_by_site`` every slot of a
    site shares a CPTS, as in real pools (whole groups decided at once), else mixed."""
    pool = make_pool(rng, n, n_prof=n_prof, spread_km=15.0)
    capacity = rng.integers(0, 3, n) * (rng.random(n) < 0.9)
    pool = dataclasses.replace(pool, capacity=capacity.astype(np.int64),
                               surnumeraire=pool.surnumeraire.copy())
    if cpts_by_site:
        per_prof = rng.integers(0, 3, n_prof)
        tele = pool.modality == 2  # teleconsultation groups are per CPTS by construction
        pool = dataclasses.replace(
            pool, cpts=np.where(tele, pool.cpts, per_prof[pool.professional]).astype(np.int64))
    return pool


def _reference(request: Request, index: SlotIndex, k: int, load: Load,
               weights: Weights
               ) -> tuple[dict[str, int], int, list[tuple[int, int, dict[str, int]]]]:
    """Screen every slot, cost every feasible one, sort by (cost, start, slot_id)."""
    found = screen(index, request, NOW)
    daily, sas = index.load_vectors(load)
    rq = RequestArrays.build([request], NOW)
    req = np.zeros(len(found.slots), np.int64)
    terms = edge_terms(index, rq, req, found.slots, found.km, NOW, weights, sas)
    terms.update(slot_terms(index, found.slots, daily, weights))
    rows = []
    pool = index.pool
    for i, j in enumerate(found.slots):
        named = {name: int(t[i]) for name, t in terms.items()}
        rows.append((sum(named.values()), int(pool.start[j]), int(pool.slot_id[j]), int(j), named))
    rows.sort(key=lambda row: row[:3])
    return found.excluded, len(found.slots), [(r[3], r[0], r[4]) for r in rows[:k]]


def _random_load(rng: np.random.Generator, pool: SlotPool) -> Load:
    profs = sorted({int(p) for p in pool.professional})
    return Load(
        daily={(p, d): int(rng.integers(0, 4)) for p in profs for d in (0, 1) if rng.random() < 0.5},
        weekly_sas={(p, 0): int(rng.integers(15, 25)) for p in profs if rng.random() < 0.5},
    )


@FAST
@given(seed=st.integers(0, 10**6), k=st.integers(1, 8), cpts_by_site=st.booleans(),
       bookings=st.integers(0, 150), per_minute_wait=st.sampled_from([0, 1, 3]))
def test_rank_equals_screening_and_costing_every_slot(
    seed: int, k: int, cpts_by_site: bool, bookings: int, per_minute_wait: int
) -> None:
    rng = np.random.default_rng(seed)
    pool = _pool(rng, 600, 30, cpts_by_site)
    index = SlotIndex.build(pool)
    if rng.random() < 0.5:  # rank before the bookings: take() then keeps the groups in step
        rank(make_requests(rng, 1)[0], index, now=NOW)
    for _ in range(bookings):
        left = np.flatnonzero(index.units > 0)
        if not len(left):
            break
        j = int(rng.choice(left))
        index.take(j, surnumeraire=bool(index.pool.capacity[j] == 0))
    weights = Weights(per_minute_wait=per_minute_wait, other_cpts=int(rng.integers(0, 400)),
                      not_medecin_traitant=int(rng.integers(0, 400)))
    load = _random_load(rng, pool)
    for request in make_requests(rng, 8, spread_km=15.0):
        request = dataclasses.replace(
            request, medecin_traitant=int(rng.integers(0, 30)) if rng.random() < 0.5 else None)
        ranking = rank(request, index, now=NOW, k=k, load=load, weights=weights)
        excluded, feasible, best = _reference(request, index, k, load, weights)
        assert ranking.excluded == excluded
        assert ranking.feasible == feasible
        got = [(p.slot_index, p.cost, p.terms) for p in ranking.proposals]
        assert got == best


@FAST
@given(seed=st.integers(0, 10**6), bookings=st.integers(1, 200), cpts_by_site=st.booleans(),
       built_first=st.booleans())
def test_empty_slots_after_bookings_match_a_fresh_build(
    seed: int, bookings: int, cpts_by_site: bool, built_first: bool
) -> None:
    """Whether rank's groups exist before the bookings (``take`` keeps their set of
    empty slots) or are built after them (read from the units), they match."""
    rng = np.random.default_rng(seed)
    pool = _pool(rng, 300, 12, cpts_by_site)
    index = SlotIndex.build(pool)
    if built_first:
        for prof in index.professions.values():
            assert prof.groups is prof.groups  # built once, then kept
    book_randomly(index, rng, bookings)
    fresh = SlotIndex.build(dataclasses.replace(index.pool, capacity=index.pool.capacity.copy(),
                                                surnumeraire=index.pool.surnumeraire.copy()))
    for code, prof in fresh.professions.items():
        mine: RankGroups = index.professions[code].groups
        np.testing.assert_array_equal(mine.empty.positions, prof.groups.empty.positions)
        units = prof.lane_units[prof.groups.order]
        np.testing.assert_array_equal(mine.empty.positions, np.flatnonzero(units == 0))


@FAST
@given(seed=st.integers(0, 10**6))
def test_group_layout(seed: int) -> None:
    """Groups are sorted by (group, start); shared CPTS / professional are right; prefix
    counts count each modality and SAS reservation."""
    rng = np.random.default_rng(seed)
    pool = _pool(rng, 200, 8, bool(rng.random() < 0.5))
    index = SlotIndex.build(pool)
    for prof in index.professions.values():
        gr = prof.groups
        assert np.all(np.diff(gr.key) >= 0)
        # placed slots by (site, start), ties in pool order (a stable sort)
        same = prof.placed_key[1:] == prof.placed_key[:-1]
        assert np.all(np.diff(prof.placed_key) >= 0)
        assert np.all(prof.placed[1:][same] > prof.placed[:-1][same])
        np.testing.assert_array_equal(gr.slot, prof.lane[gr.order])
        np.testing.assert_array_equal(gr.rank_of_lane[gr.order], np.arange(len(gr.order)))
        np.testing.assert_array_equal(gr.key[: len(prof.placed)], prof.placed_key)
        group = gr.key // index.time_span
        for g in np.unique(group):
            members = gr.slot[group == g]
            cpts = set(pool.cpts[members].tolist())
            pros = set(pool.professional[members].tolist())
            assert gr.group_cpts[g] == (cpts.pop() if len(cpts) == 1 else -1)
            assert gr.group_professional[g] == (pros.pop() if len(pros) == 1 else -1)
        for m in range(3):
            is_m = pool.modality[gr.slot] == m
            np.testing.assert_array_equal(gr.counts[1:, m], np.cumsum(is_m))
            np.testing.assert_array_equal(gr.counts[1:, 3 + m],
                                          np.cumsum(is_m & pool.sas_reserved[gr.slot]))
        np.testing.assert_array_equal(
            gr.rule_code, 2 * pool.modality[gr.slot] + pool.sas_reserved[gr.slot])
        begin = gr.begin
        np.testing.assert_array_equal(gr.tele_groups, np.unique(group[len(prof.placed):]))
        assert len(gr.tele_km) == len(gr.tele_groups) and np.isnan(gr.tele_km).all()
        assert begin[0] == 0 and begin[-1] == len(gr.order)
        for g in range(len(begin) - 1):
            members = slice(begin[g], begin[g + 1])
            assert np.all(group[members] == g)
            assert gr.first_start[g] == gr.start[members].min()
            assert gr.last_start[g] == gr.start[members].max()
            np.testing.assert_array_equal(gr.totals[g], gr.counts[begin[g + 1]] - gr.counts[begin[g]])


@FAST
@given(seed=st.integers(0, 10**6),
       radius=st.sampled_from([-1.0, 0.0, 0.01, 0.5, 5.0, 10.0, 25.0, 30000.0]))
def test_sites_in_radius_match_the_tree(seed: int, radius: float) -> None:
    """The latitude band + dot product finds the same sites as the KD-tree query
    (radius −1: the exact distance of a site, give or take one rounding)."""
    from solver.distance import chord_for_km, haversine_km, unit_vectors
    from solver.rank import _sites_in_radius

    rng = np.random.default_rng(seed)
    pool = _pool(rng, 400, 60, bool(rng.random() < 0.5))
    index = SlotIndex.build(pool)
    for request in make_requests(rng, 5, spread_km=20.0):
        prof = index.professions.get(request.profession)
        if prof is None or prof.tree is None:
            continue
        if radius < 0:  # exactly the distance of some site: it sits on the rim
            all_km = haversine_km(request.lat, request.lon, prof.site_lat, prof.site_lon)
            radius = float(all_km[rng.integers(len(all_km))]) * (1 + float(rng.choice([-1e-15, 0, 1e-15])))
        request = dataclasses.replace(request, radius_km=radius)
        codes = request.allowed_cpts | {request.cpts}
        sites, km = _sites_in_radius(prof, request, codes)
        xyz = unit_vectors(np.array([request.lat]), np.array([request.lon]))[0]
        want = np.sort(np.asarray(prof.tree.query_ball_point(
            xyz, float(chord_for_km(radius))), dtype=np.int64))
        want_km = haversine_km(request.lat, request.lon, prof.site_lat[want], prof.site_lon[want])
        want, want_km = want[want_km <= radius], want_km[want_km <= radius]
        np.testing.assert_array_equal(sites, want)
        # km is measured wherever the cost may need it (allowed or mixed CPTS)
        cpts = prof.groups.group_cpts[sites]
        needed = np.isin(cpts, list(codes)) | (cpts < 0)
        assert not np.isnan(km[needed]).any()
        measured = ~np.isnan(km)
        np.testing.assert_array_equal(km[measured], want_km[measured])


@FAST
@given(seed=st.integers(0, 10**6))
def test_int32_search_matches_the_int64_keys(seed: int) -> None:
    """``RankGroups.search`` (int32 copy when the keys fit) is ``searchsorted`` on ``key``,
    and ``rank`` answers the same without the copy."""
    rng = np.random.default_rng(seed)
    pool = _pool(rng, 300, 12, bool(rng.random() < 0.5))
    index = SlotIndex.build(pool)
    plain = SlotIndex.build(pool)
    for code, prof in index.professions.items():
        gr = prof.groups
        assert gr.key32 is not None
        queries = np.concatenate([rng.integers(-5, int(gr.key[-1]) + 5, 50),
                                  gr.key[rng.integers(0, len(gr.key), 20)],
                                  np.array([2**31 - 1, 2**31, 2**40])])
        for side in ("left", "right"):
            np.testing.assert_array_equal(gr.search(np.maximum(queries, 0), side),
                                          np.searchsorted(gr.key, np.maximum(queries, 0), side))
        plain.professions[code] = dataclasses.replace(
            prof, _groups=[dataclasses.replace(gr, key32=None)])
    for request in make_requests(rng, 6, spread_km=15.0):
        assert rank(request, index, now=NOW, k=3) == rank(request, plain, now=NOW, k=3)
