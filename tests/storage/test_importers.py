"""CSV imports validate every row and write nothing when one is wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from snp.geo import CommuneDirectory
from snp.importers import ImportRejectedError, import_plages, import_professionals
from snp.orm import CptsRow, PlageRow, ProfessionalRow

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def directory() -> CommuneDirectory:
    return CommuneDirectory.from_csv(SAMPLES.parent / "communes_78.csv")


def _with_cpts(engine: Engine) -> None:
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


def _count(engine: Engine, model: type[object]) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_sample_files_import_cleanly(engine: Engine, directory: CommuneDirectory) -> None:
    _with_cpts(engine)
    with Session(engine) as s, s.begin():
        report = import_professionals(s, SAMPLES / "professionals.csv", directory)
    assert (report.written, report.errors) == (4, [])
    with Session(engine) as s, s.begin():
        report = import_plages(s, SAMPLES / "plages.csv", today=TODAY)
    assert (report.written, report.errors) == (5, [])
    # Re-importing professionals updates them instead of duplicating.
    with Session(engine) as s, s.begin():
        import_professionals(s, SAMPLES / "professionals.csv", directory)
    assert _count(engine, ProfessionalRow) == 4


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD_PROFESSIONALS = """rpps,last_name,first_name,profession,specialty,cpts_code,accepts_surnumeraire,site_name,site_address,insee_code,lat,lon
10000000009,Martin,Anne,10,SM54,cpts-versailles,oui,Cabinet,1 rue,78646,,
1234,Bad,Rpps,10,,cpts-versailles,non,Cab,1 rue,78646,,
10000000017,Unknown,Commune,10,,cpts-versailles,non,Cab,1 rue,99999,,
10000000025,Bad,Profession,veterinaire,,cpts-versailles,non,Cab,1 rue,78646,,
10000000033,Wrong,Cpts,10,,cpts-nowhere,non,Cab,1 rue,78646,,
"""


def test_every_bad_row_is_reported_and_nothing_written(
    engine: Engine, directory: CommuneDirectory, tmp_path: Path
) -> None:
    _with_cpts(engine)
    path = _write(tmp_path, "p.csv", BAD_PROFESSIONALS)
    with Session(engine) as s, s.begin(), pytest.raises(ImportRejectedError) as caught:
        import_professionals(s, path, directory)
    where = [(e.line, e.column) for e in caught.value.report.errors]
    assert where == [(3, "rpps"), (4, "insee_code"), (5, "profession"), (6, "cpts_code")]
    assert "11 digits" in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert _count(engine, ProfessionalRow) == 0


def test_skip_invalid_writes_the_good_rows_and_lists_the_others(
    engine: Engine, directory: CommuneDirectory, tmp_path: Path
) -> None:
    _with_cpts(engine)
    path = _write(tmp_path, "p.csv", BAD_PROFESSIONALS)
    with Session(engine) as s, s.begin():
        report = import_professionals(s, path, directory, skip_invalid=True)
    assert report.written == 1
    assert report.skipped_lines == [3, 4, 5, 6]
    assert _count(engine, ProfessionalRow) == 1


def test_plage_errors_overlap_past_and_bad_times(
    engine: Engine, directory: CommuneDirectory, tmp_path: Path
) -> None:
    _with_cpts(engine)
    with Session(engine) as s, s.begin():
        import_professionals(s, SAMPLES / "professionals.csv", directory)
    header = "rpps,weekday,start,end,valid_from,valid_until,slot_minutes,modality,capacity,surnumeraire,sas_reserved\n"
    path = _write(
        tmp_path,
        "plages.csv",
        header
        + "\n".join(
            [
                "10000000009,monday,09:00,12:00,2026-12-01,,20,in_person,1,0,non",
                "10000000009,monday,11:00,13:00,2026-12-01,,20,in_person,1,0,non",
                "10000000017,tuesday,12:00,09:00,2026-12-01,,20,in_person,1,0,non",
                "10000000025,friday,08:00,10:00,2025-01-01,2025-06-30,20,in_person,1,0,non",
                "10000000033,friday,8h,10:00,2026-12-01,,20,in_person,1,0,non",
                "99999999999,friday,08:00,10:00,2026-12-01,,20,in_person,1,0,non",
                "10000000033,friday,08:00,10:00,2026-12-01,,20,by_pigeon,1,0,non",
            ]
        )
        + "\n",
    )
    with Session(engine) as s, s.begin(), pytest.raises(ImportRejectedError) as caught:
        import_plages(s, path, today=TODAY)
    errors = {(e.line, e.column): e.reason for e in caught.value.report.errors}
    assert set(errors) == {
        (3, "start"),
        (4, "end"),
        (5, "valid_until"),
        (6, "start"),
        (7, "rpps"),
        (8, "modality"),
    }
    assert "overlaps" in errors[(3, "start")]
    assert "in the past" in errors[(5, "valid_until")]
    assert _count(engine, PlageRow) == 0


def test_missing_column_is_reported_on_the_header(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "plages.csv", "rpps,weekday\n10000000009,monday\n")
    with Session(engine) as s, s.begin(), pytest.raises(ImportRejectedError, match="line 1"):
        import_plages(s, path, today=TODAY)
