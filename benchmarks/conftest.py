"""Benchmark instances: the project's seeded scenario generator at each named size.

``instance(size)`` returns ``(pool, requests, now)`` for S, M, L, XL (snp.scenario,
seed 0) and ``L78``: the L volumes (20k requests, 200k slots) squeezed into one dense
département's extent (Yvelines) — the worst case for the online radius query.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from solver import Request, SlotIndex, SlotPool


@cache
def instance(size: str) -> tuple[SlotPool, list[Request], int]:
    from snp.scenario import generate

    scenario = generate("L" if size == "L78" else size, 0)
    pool, requests = scenario.to_solver()
    if size == "L78":
        pool, requests = _squeeze_into_yvelines(pool, requests)
    return pool, requests, int(scenario.now.timestamp())


YVELINES = (48.80, 1.95)  # around Versailles–Rambouillet
SQUEEZE = 0.35


def _squeeze_into_yvelines(
    pool: SlotPool, requests: list[Request]
) -> tuple[SlotPool, list[Request]]:
    """The L instance with every point pulled towards Yvelines (distances × 0.35).

    The generator cannot fit 200k slots into one département's office hours, so the
    dense case keeps L's slots and requests and shrinks Île-de-France (≈ 150 km
    across) to about the size of the Yvelines: ~3x more slots within any radius.
    """
    lat0, lon0 = YVELINES
    squeezed = dataclasses.replace(
        pool,
        lat=lat0 + SQUEEZE * (pool.lat - lat0),
        lon=lon0 + SQUEEZE * (pool.lon - lon0),
    )
    moved = [
        dataclasses.replace(
            r, lat=lat0 + SQUEEZE * (r.lat - lat0), lon=lon0 + SQUEEZE * (r.lon - lon0)
        )
        for r in requests
    ]
    return squeezed, moved


@cache
def index_of(size: str) -> SlotIndex:
    return SlotIndex.build(instance(size)[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """XL runs only when asked for (``-m xl``)."""
    if "xl" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="XL is opt-in: -m xl")
    for item in items:
        if "xl" in item.keywords:
            item.add_marker(skip)
