"""Benchmark instances: the project's seeded scenario generator at each named size.

``instance(size)`` returns ``(pool, requests, now)`` for S, M, L, XL (snp.scenario,
seed 0) and ``L78``: the L volumes (20k requests, 200k slots) all in one dense
département, Yvelines — the worst case for the online radius query.
"""

from __future__ import annotations

from functools import cache

import pytest

from solver import Request, SlotIndex, SlotPool


@cache
def instance(size: str) -> tuple[SlotPool, list[Request], int]:
    from snp.scenario import generate

    dense = size == "L78"
    scenario = generate("L", 0, departements=("78",)) if dense else generate(size, 0)
    pool, requests = scenario.to_solver()
    return pool, requests, int(scenario.now.timestamp())


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
