"""Shared fixtures: a fresh database per test on SQLite (a real file) and on
PostgreSQL when a server is reachable (each test in its own schema)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from snp.db import make_engine
from snp.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "SNP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_backend_outcomes: Counter[tuple[str, str]] = Counter()


def _postgres_unreachable_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as error:
        first_line = str(error.orig).splitlines()[0] if error.orig else str(error)
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {first_line}"
    return None


_PG_SKIP_REASON = _postgres_unreachable_reason()

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(_PG_SKIP_REASON is not None, reason=_PG_SKIP_REASON or ""),
        ],
    ),
]


def _postgres_engine_in_fresh_schema() -> tuple[Engine, str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = create_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_size=20
    )
    return engine, schema


def _drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        sqlite_engine = make_engine(f"sqlite:///{tmp_path / 'snp.db'}")
        upgrade(sqlite_engine)
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    pg_engine, schema = _postgres_engine_in_fresh_schema()
    try:
        upgrade(pg_engine)
        yield pg_engine
    finally:
        pg_engine.dispose()
        _drop_schema(schema)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for backend in ("sqlite", "postgres"):
        if f"[{backend}" in report.nodeid or f"-{backend}]" in report.nodeid:
            _backend_outcomes[(backend, report.outcome)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _backend_outcomes:
        return
    terminalreporter.section("storage backends")
    for backend in ("sqlite", "postgres"):
        counts = {o: n for (b, o), n in sorted(_backend_outcomes.items()) if b == backend}
        summary = ", ".join(f"{n} {o}" for o, n in counts.items()) or "none"
        terminalreporter.write_line(f"{backend}: {summary}")
    if _PG_SKIP_REASON:
        terminalreporter.write_line(f"postgres skipped: {_PG_SKIP_REASON}")
