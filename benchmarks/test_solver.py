"""Solver benchmarks (pytest-benchmark). Reproduce with:

    .venv/bin/pytest benchmarks/ --benchmark-enable -p no:randomly            # S, M, L
    .venv/bin/pytest benchmarks/ --benchmark-enable -p no:randomly -m xl      # XL only

Per size: the exact plan against the two baselines of ``benchmarks/baselines.py``
(same run), their objective and unserved count (``extra_info``), the peak RSS of one
solve in a fresh process, the online ``rank`` latency percentiles and the index build.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.baselines import METHODS
from benchmarks.conftest import index_of, instance
from solver import SlotIndex, rank

ROOT = Path(__file__).resolve().parents[1]
SIZES = [pytest.param("S"), pytest.param("M"), pytest.param("L"),
         pytest.param("XL", marks=pytest.mark.xl)]
ROUNDS = {"S": 5, "M": 3, "L": 1, "XL": 1}


def _peak_rss(mode: str, size: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.baselines", mode, size],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=3600)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode", ["exact", "full_flow", "greedy"])
def test_plan(benchmark, mode: str, size: str) -> None:  # type: ignore[no-untyped-def]
    if size == "XL" and mode == "full_flow":
        pytest.skip("the full-edge flow does not fit this machine at XL")
    _, requests, now = instance(size)
    index = index_of(size)
    method = METHODS[mode]
    outcome = benchmark.pedantic(method, args=(requests, index, now), rounds=ROUNDS[size],
                                 iterations=1, warmup_rounds=0)
    benchmark.extra_info.update({"objective": outcome.objective, "unserved": outcome.unserved,
                                 "requests": len(requests), "slots": len(index)})
    benchmark.extra_info.update({f"fresh_process_{k}": v for k, v in
                                 _peak_rss(mode, size).items() if k not in {"mode", "size"}})


@pytest.mark.parametrize("size", ["L", "L78"])
def test_rank(benchmark, size: str) -> None:  # type: ignore[no-untyped-def]
    _, requests, now = instance(size)
    index = index_of(size)
    cycle = itertools.cycle(requests[:2000])
    benchmark.pedantic(lambda: rank(next(cycle), index, now=now, k=5), rounds=2000,
                       iterations=1, warmup_rounds=50)
    data = np.asarray(benchmark.stats.stats.data) * 1e3
    benchmark.extra_info.update({f"p{q}_ms": round(float(np.percentile(data, q)), 3)
                                 for q in (50, 90, 99)})


@pytest.mark.parametrize("size", ["L"])
def test_index_build(benchmark, size: str) -> None:  # type: ignore[no-untyped-def]
    pool, _, _ = instance(size)
    benchmark.pedantic(SlotIndex.build, args=(pool,), rounds=10, iterations=1)
