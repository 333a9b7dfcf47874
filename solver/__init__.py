"""snp's matching core: pure functions over arrays and dataclasses.

Public API:

- ``SlotIndex.build(pool)`` — spatial index over a ``SlotPool`` (reuse it across calls);
- ``rank(request, index_or_pool, *, now, k=5, load=None, weights=None) -> Ranking`` — online;
- ``plan(requests, index_or_pool, *, now, load=None, weights=None, top_n=6) -> Plan`` — batch;
- ``Weights`` — integer weights of the cost model (per territory);
- ``InvalidInputError`` — raised on malformed input, naming the offending item.

This package never imports ``snp`` or ``api``.
"""

from solver.candidates import RULES
from solver.cost import TERMS
from solver.errors import InvalidInputError
from solver.index import SlotIndex
from solver.plan import Decision, Plan, PlanStats, plan
from solver.rank import Proposal, Ranking, rank
from solver.types import Load, Modality, Origin, Request, SlotPool
from solver.weights import Weights

__all__ = [
    "RULES",
    "TERMS",
    "Decision",
    "InvalidInputError",
    "Load",
    "Modality",
    "Origin",
    "Plan",
    "PlanStats",
    "Proposal",
    "Ranking",
    "Request",
    "SlotIndex",
    "SlotPool",
    "Weights",
    "plan",
    "rank",
]
