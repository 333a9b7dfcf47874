"""Bounded async traffic on loopback: outcome tallies and latency percentiles."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx


@dataclass
class Tally:
    """What the clients saw: (operation, status) counts and latencies in ms."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    transport_errors: Counter[str] = field(default_factory=Counter)

    def record(self, op: str, response: httpx.Response, started: float) -> None:
        self.latencies.setdefault(op, []).append((time.perf_counter() - started) * 1000)
        self.statuses[(op, response.status_code)] += 1
        if response.status_code >= 400:
            kind = str(response.json().get("type", "")).rsplit("/", 1)[-1]
            self.problems[(op, f"{response.status_code} {kind}")] += 1

    def count(self, op: str, status: int | None = None) -> int:
        return sum(n for (o, s), n in self.statuses.items() if o == op and status in (None, s))

    def server_errors(self) -> int:
        return sum(n for (_, s), n in self.statuses.items() if s >= 500)


T = TypeVar("T")


def run_clients(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the clients' event loop in a thread of its own.

    Another test of the same session (Playwright's sync API, say) may keep an
    event loop running in the main thread, where ``asyncio.run`` would refuse.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="reliability-clients")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def async_client(base_url: str, clients: int, timeout: float = 30.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)


def report(name: str, figures: Mapping[str, object]) -> None:
    """Print the figures (shown with -s or on failure) and append them to
    ``var/reliability/figures.jsonl`` for BENCHMARKS.md."""
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "var" / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"test": name, **figures}, default=str)
    print(line)
    with (folder / "figures.jsonl").open("a") as out:
        out.write(line + "\n")


class CpuMeter:
    """CPU seconds used by the server's processes (master and workers) and by
    the PostgreSQL backends connected to its database, from ``/proc``.

    Unlike latency, CPU per operation barely moves when other work shares the
    cores, so it compares two versions fairly on a busy machine. Linux only
    (``available`` is False elsewhere); a backend that exits mid-phase is lost.
    """

    def __init__(self, server_pid: int, database_url: str) -> None:
        self.server_pid = server_pid
        self.database_url = database_url
        self.available = Path(f"/proc/{server_pid}/stat").exists()

    def snapshot(self) -> dict[str, dict[int, int]]:
        if not self.available:
            return {"server": {}, "postgres": {}}
        return {
            "server": {p: _ticks(p) for p in _process_tree(self.server_pid)},
            "postgres": {p: _ticks(p) for p in self._backends()},
        }

    def since(self, before: dict[str, dict[int, int]]) -> dict[str, float]:
        """CPU seconds per group since ``before``."""
        now, hz = self.snapshot(), os.sysconf("SC_CLK_TCK")
        return {
            group: sum(t - before[group].get(p, 0) for p, t in now[group].items()) / hz
            for group in now
        }

    def _backends(self) -> list[int]:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() != "postgresql":
            return []
        from snp.db import make_engine

        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
                return [int(pid) for pid in rows]
        finally:
            engine.dispose()


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _ticks(pid: int) -> int:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime
