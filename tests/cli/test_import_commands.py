"""The import commands as a user runs them, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from snp.cli import app
from snp.db import make_engine
from snp.migrate import upgrade
from snp.orm import CptsRow, PlageRow

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
runner = CliRunner()


def _database_with_cpts(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s, s.begin():
        s.add(
            CptsRow(
                code="cpts-versailles",
                name="CPTS Versailles",
                departement_code="78",
                timezone="Europe/Paris",
                settings={},
            )
        )
    engine.dispose()
    return url


def test_import_sample_professionals_then_plages(tmp_path: Path) -> None:
    url = _database_with_cpts(tmp_path)
    pros = runner.invoke(
        app, ["import", "professionals", str(SAMPLES / "professionals.csv"), "--database", url]
    )
    assert pros.exit_code == 0, pros.output
    assert "4 professionals written" in pros.output
    plages = runner.invoke(
        app, ["import", "plages", str(SAMPLES / "plages.csv"), "--database", url]
    )
    assert plages.exit_code == 0, plages.output
    engine = make_engine(url)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(PlageRow)) == 5


def test_invalid_file_exits_non_zero_and_names_line_and_column(tmp_path: Path) -> None:
    url = _database_with_cpts(tmp_path)
    bad = tmp_path / "bad.csv"
    text = (SAMPLES / "professionals.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace("10000000017", "1000"), encoding="utf-8")
    result = runner.invoke(app, ["import", "professionals", str(bad), "--database", url])
    assert result.exit_code == 1
    assert "line 3, column rpps" in result.output
    assert "nothing was written" in result.output
    skipped = runner.invoke(
        app, ["import", "professionals", str(bad), "--skip-invalid", "--database", url]
    )
    assert skipped.exit_code == 0
    assert "3 professionals written" in skipped.output
    assert "skipped invalid lines: [3]" in skipped.output


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade", "--database", url])
        assert result.exit_code == 0, result.output
        assert "schema up to date" in result.output


def test_scenario_command_writes_the_csv_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "--size", "S", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    slots = (tmp_path / "slots.csv").read_text(encoding="utf-8").splitlines()
    assert len(slots) == 2001  # header + the S size's 2,000 slots
    assert (tmp_path / "requests.csv").exists() and (tmp_path / "professionals.csv").exists()
