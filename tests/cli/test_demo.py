"""The demo, as a newcomer runs it, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from snp.cli import app
from snp.db import make_engine
from snp.demo import run_demo
from snp.orientation import OrientationStatus
from snp.orm import CareRequestRow, OrientationRow, SlotRow

runner = CliRunner()


def test_demo_orients_the_stream_and_the_database_agrees(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    summary = run_demo(url, size="S", seed=3)
    oriented = sum(summary.oriented.values())
    assert summary.communes == 259
    assert summary.requests == 200
    assert oriented + sum(summary.unserved.values()) == 200
    assert oriented > 150  # S has ten slots per request: most requests must be served
    engine = make_engine(url)
    with Session(engine) as s:
        booked = s.scalar(
            select(func.count())
            .select_from(OrientationRow)
            .where(OrientationRow.status == OrientationStatus.BOOKED)
        )
        assert booked == oriented
        overbooked = s.scalar(
            select(func.count())
            .select_from(SlotRow)
            .where(SlotRow.taken > SlotRow.capacity + SlotRow.surnumeraire)
        )
        assert overbooked == 0
        stored = s.scalar(select(func.count()).select_from(CareRequestRow))
        refused_at_intake = sum(
            n for r, n in summary.unserved.items() if "PDSA" in r or "intake" in r
        )
        assert stored == 200 - refused_at_intake


def test_demo_can_be_rerun_and_reset_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = runner.invoke(app, ["demo", "--size", "S", "--database", url])
    assert first.exit_code == 0, first.output
    assert "oriented within deadline" in first.output
    again = runner.invoke(app, ["demo", "--size", "S", "--database", url])
    assert again.exit_code == 0, again.output
    reset = runner.invoke(app, ["demo", "--size", "S", "--reset", "--database", url])
    assert reset.exit_code == 0, reset.output
    assert "2000 new slots" in reset.output
