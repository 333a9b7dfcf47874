"""Baselines the solver is measured against, and a per-solve peak-memory probe.

- ``greedy``: requests by priority then deadline; each takes its cheapest feasible
  slot given the capacity and fairness load left by the previous ones.
- ``full_flow``: the same min-cost flow on every feasible edge, one solve
  (``plan(top_n=None)``): what the exact pruned plan must beat.

``python -m benchmarks.baselines MODE SIZE`` runs one solve in a fresh process and
prints JSON with its wall time and peak RSS (``resource.getrusage``), so memory is
measured per solve, not per test session.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from solver import Load, Request, SlotIndex, Weights, plan
from solver.candidates import RequestArrays, screen
from solver.cost import edge_terms
from solver.plan import max_edge_cost, model_objective, unassigned_penalties


@dataclass(frozen=True)
class Outcome:
    """A solution of any method, priced by the model objective (comparable across methods)."""

    objective: int
    unserved: int
    chosen: np.ndarray  # pool position per request, −1 when unserved


def greedy(requests: Sequence[Request], index: SlotIndex, now: int,
           weights: Weights | None = None) -> Outcome:
    weights = weights or Weights()
    daily, sas = index.load_vectors(Load())
    daily, sas = daily.copy(), sas.copy()
    rq = RequestArrays.build(requests, now)
    used = np.zeros(len(index.pool), np.int64)
    chosen = np.full(len(requests), -1, np.int64)
    order = sorted(range(len(requests)), key=lambda i: (requests[i].priority,
                                                        requests[i].deadline, i))
    pool = index.pool
    for i in order:
        found = screen(index, requests[i], now)
        slots = found.slots[used[found.slots] < index.units[found.slots]]
        if not len(slots):
            continue
        req = np.full(len(slots), i, np.int64)
        km = found.km[used[found.slots] < index.units[found.slots]]
        terms = edge_terms(index, rq, req, slots, km, now, weights, sas)
        cost = sum(terms.values())
        cost = cost + np.where(used[slots] >= pool.capacity[slots], weights.surnumeraire, 0)
        cost = cost + weights.fairness_daily_step * daily[index.pd[slots]]
        best = int(slots[np.lexsort((pool.slot_id[slots], cost))[0]])
        chosen[i] = best
        used[best] += 1
        daily[index.pd[best]] += 1
        if rq.is_sas[i]:
            sas[index.pw[best]] += 1
    return _priced(index, rq, chosen, now, weights)


def full_flow(requests: Sequence[Request], index: SlotIndex, now: int,
              weights: Weights | None = None) -> Outcome:
    result = plan(requests, index, now=now, weights=weights, top_n=None)
    return _from_plan(index, requests, result.objective, result.assignment)


def exact(requests: Sequence[Request], index: SlotIndex, now: int,
          weights: Weights | None = None) -> Outcome:
    result = plan(requests, index, now=now, weights=weights)
    return _from_plan(index, requests, result.objective, result.assignment)


def _from_plan(index: SlotIndex, requests: Sequence[Request], objective: int,
               assignment: dict[int, int | None]) -> Outcome:
    where = {int(s): k for k, s in enumerate(index.pool.slot_id)}
    chosen = np.array([-1 if assignment[r.request_id] is None else where[
        int(assignment[r.request_id])] for r in requests], np.int64)  # type: ignore[arg-type]
    return Outcome(objective, int((chosen < 0).sum()), chosen)


def _priced(index: SlotIndex, rq: RequestArrays, chosen: np.ndarray, now: int,
            weights: Weights) -> Outcome:
    daily, sas = index.load_vectors(Load())
    penalty = unassigned_penalties(index, rq, weights, daily,
                                   max_edge_cost(rq, weights, sas, now))
    cost = model_objective(index, rq, chosen, penalty, now, weights, daily, sas)
    return Outcome(cost, int((chosen < 0).sum()), chosen)


METHODS = {"greedy": greedy, "full_flow": full_flow, "exact": exact}


def main(argv: list[str]) -> None:
    from benchmarks.conftest import instance

    mode, size = argv
    pool, requests, now = instance(size)
    before = _status_kb("VmRSS")
    _reset_peak()
    start, cpu = time.perf_counter(), time.process_time()
    index = SlotIndex.build(pool)
    outcome = METHODS[mode](requests, index, now)
    seconds = time.perf_counter() - start
    # CPU seconds too: on the shared benchmark machine wall time swings with the load
    cpu_seconds = time.process_time() - cpu
    print(json.dumps({"mode": mode, "size": size, "seconds": round(seconds, 3),
                      "cpu_seconds": round(cpu_seconds, 3),
                      "rss_before_mb": round(before / 1024),
                      "peak_rss_mb": round(_status_kb("VmHWM") / 1024),
                      "objective": outcome.objective, "unserved": outcome.unserved}))


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc (ru_maxrss survives exec on Linux,
    so it would report the parent's peak; VmHWM belongs to this process image)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0), so the peak is the solve's own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


if __name__ == "__main__":
    main(sys.argv[1:])
