"""CSV imports of professionals and plages: validate everything, then write once.

Every row is checked before anything is written. Each problem is reported with
its line, column and reason; when any row is invalid nothing is written, unless
the caller asks to skip invalid rows (they are then listed).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from snp.errors import DomainError
from snp.geo import CommuneDirectory, UnknownCommuneError
from snp.modalities import Modality
from snp.orm import CptsRow, PlageRow, ProfessionalRow, SiteRow
from snp.plage_rows import plage_from_row, plage_row
from snp.plages import Plage, find_overlap, parse_weekday
from snp.professionals import Professional, rpps_warnings
from snp.professions import parse_profession
from snp.sites import Site

PROFESSIONAL_COLUMNS = (
    "rpps",
    "last_name",
    "first_name",
    "profession",
    "specialty",
    "cpts_code",
    "accepts_surnumeraire",
    "site_name",
    "site_address",
    "insee_code",
    "lat",
    "lon",
)
PLAGE_COLUMNS = (
    "rpps",
    "weekday",
    "start",
    "end",
    "valid_from",
    "valid_until",
    "slot_minutes",
    "modality",
    "capacity",
    "surnumeraire",
    "sas_reserved",
)
OPTIONAL_COLUMNS = {"specialty", "lat", "lon", "valid_until", "surnumeraire", "sas_reserved"}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass
class ImportReport:
    written: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)


class ImportRejectedError(ValueError):
    def __init__(self, report: ImportReport) -> None:
        self.report = report
        listing = "\n".join(f"  {e}" for e in report.errors)
        super().__init__(
            f"{len(report.errors)} invalid value(s); nothing was written "
            f"(fix them, or re-run with --skip-invalid):\n{listing}"
        )


class _CellError(Exception):
    def __init__(self, column: str, reason: str) -> None:
        self.column = column
        self.reason = reason


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c for c in columns if c not in (reader.fieldnames or []) and c not in OPTIONAL_COLUMNS
        ]
        if missing:
            raise ImportRejectedError(
                ImportReport(
                    errors=[RowError(1, ",".join(missing), "missing column(s) in the header")]
                )
            )
        for row in reader:
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def _cell(row: dict[str, str], column: str, parse: Callable[[str], T], expected: str) -> T:
    raw = row.get(column, "")
    try:
        return parse(raw)
    except DomainError as error:
        raise _CellError(column, f"{error.problem}. {error.fix}") from None
    except (ValueError, KeyError):
        raise _CellError(column, f"{raw!r} is not {expected}") from None


def _bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("", "0", "false", "non", "no", "n"):
        return False
    if value in ("1", "true", "oui", "yes", "y"):
        return True
    raise ValueError(raw)


def _optional_float(raw: str) -> float | None:
    return float(raw) if raw else None


def _required(raw: str) -> str:
    if not raw:
        raise ValueError(raw)
    return raw


@dataclass(frozen=True, slots=True)
class _ProfessionalRecord:
    line: int
    professional: Professional
    site: Site


def _parse_professional(
    line: int, row: dict[str, str], directory: CommuneDirectory, known_cpts: set[str]
) -> _ProfessionalRecord:
    cpts_code = _cell(row, "cpts_code", _required, "a CPTS code")
    if cpts_code not in known_cpts:
        raise _CellError("cpts_code", f"unknown CPTS {cpts_code!r}; create it first (snp demo)")
    professional = Professional(
        rpps=_cell(row, "rpps", _required, "an RPPS number"),
        last_name=_cell(row, "last_name", _required, "a name"),
        first_name=row.get("first_name", ""),
        profession=_cell(row, "profession", parse_profession, "a profession"),
        cpts_code=cpts_code,
        specialty=row.get("specialty") or None,
        accepts_surnumeraire=_cell(row, "accepts_surnumeraire", _bool, "yes/no"),
    )
    code = _cell(row, "insee_code", _required, "an INSEE commune code")
    try:
        commune = directory.get(code)
    except UnknownCommuneError as error:
        raise _CellError("insee_code", str(error)) from None
    lat = _cell(row, "lat", _optional_float, "a latitude")
    lon = _cell(row, "lon", _optional_float, "a longitude")
    if lat is None or lon is None:
        lat, lon = commune.point().latlon
    site = Site(
        name=_cell(row, "site_name", _required, "a site name"),
        address=row.get("site_address", ""),
        insee_code=commune.insee_code,
        lat=lat,
        lon=lon,
    )
    return _ProfessionalRecord(line, professional, site)


def _validate(
    rows: Iterator[tuple[int, dict[str, str]]], parse: Callable[[int, dict[str, str]], T]
) -> tuple[list[T], ImportReport]:
    records: list[T] = []
    report = ImportReport()
    for line, row in rows:
        try:
            records.append(parse(line, row))
        except _CellError as error:
            report.errors.append(RowError(line, error.column, error.reason))
            report.skipped_lines.append(line)
        except DomainError as error:
            report.errors.append(RowError(line, error.field, f"{error.problem}. {error.fix}"))
            report.skipped_lines.append(line)
    return records, report


def import_professionals(
    session: Session, path: Path, directory: CommuneDirectory, *, skip_invalid: bool = False
) -> ImportReport:
    cpts_ids = {code: cid for code, cid in session.execute(select(CptsRow.code, CptsRow.id))}
    records, report = _validate(
        _rows(path, PROFESSIONAL_COLUMNS),
        lambda line, row: _parse_professional(line, row, directory, set(cpts_ids)),
    )
    seen: dict[str, int] = {}
    for record in list(records):
        rpps = record.professional.rpps
        if rpps in seen:
            report.errors.append(RowError(record.line, "rpps", f"duplicate of line {seen[rpps]}"))
            report.skipped_lines.append(record.line)
            records.remove(record)
        seen.setdefault(rpps, record.line)
        report.warnings += [RowError(record.line, "rpps", w) for w in rpps_warnings(rpps)]
    if report.errors and not skip_invalid:
        raise ImportRejectedError(report)
    for record in records:
        _upsert_professional(session, record, cpts_ids[record.professional.cpts_code])
    report.written = len(records)
    return report


def _upsert_professional(session: Session, record: _ProfessionalRecord, cpts_id: int) -> None:
    p, s = record.professional, record.site
    row = session.scalars(select(ProfessionalRow).where(ProfessionalRow.rpps == p.rpps)).first()
    if row is None:
        row = ProfessionalRow(rpps=p.rpps)
        session.add(row)
    row.cpts_id = cpts_id
    row.last_name, row.first_name = p.last_name, p.first_name
    row.profession, row.specialty = int(p.profession), p.specialty
    row.accepts_surnumeraire = p.accepts_surnumeraire
    site = session.scalars(
        select(SiteRow).where(SiteRow.cpts_id == cpts_id, SiteRow.name == s.name)
    ).first()
    if site is None:
        site = SiteRow(
            cpts_id=cpts_id,
            name=s.name,
            address=s.address,
            insee_code=s.insee_code,
            lat=s.lat,
            lon=s.lon,
        )
        session.add(site)
        session.flush()
    row.main_site_id = site.id
    session.flush()


@dataclass(frozen=True, slots=True)
class _PlageRecord:
    line: int
    plage: Plage


def _parse_plage(
    line: int, row: dict[str, str], professions: dict[str, int], today: date
) -> _PlageRecord:
    rpps = _cell(row, "rpps", _required, "an RPPS number")
    if rpps not in professions:
        raise _CellError("rpps", f"no professional with RPPS {rpps}; import professionals first")
    plage = Plage(
        professional_rpps=rpps,
        profession=parse_profession(professions[rpps]),
        weekday=_cell(row, "weekday", parse_weekday, "a weekday"),
        start=_cell(row, "start", time.fromisoformat, "a time like 09:00"),
        end=_cell(row, "end", time.fromisoformat, "a time like 12:00"),
        valid_from=_cell(row, "valid_from", date.fromisoformat, "a date like 2026-12-01"),
        valid_until=_cell(
            row, "valid_until", lambda v: date.fromisoformat(v) if v else None, "a date"
        ),
        slot_minutes=_cell(row, "slot_minutes", int, "a number of minutes"),
        modality=_cell(row, "modality", Modality, "in_person, home_visit or teleconsultation"),
        capacity=_cell(row, "capacity", int, "a whole number"),
        surnumeraire=_cell(row, "surnumeraire", lambda v: int(v or 0), "a whole number"),
        sas_reserved=_cell(row, "sas_reserved", _bool, "yes/no"),
    )
    plage.check_not_in_past(today)
    return _PlageRecord(line, plage)


def import_plages(
    session: Session, path: Path, *, today: date, skip_invalid: bool = False
) -> ImportReport:
    pros = session.execute(
        select(ProfessionalRow.rpps, ProfessionalRow.profession, ProfessionalRow.id)
    ).all()
    professions = {rpps: profession for rpps, profession, _ in pros}
    records, report = _validate(
        _rows(path, PLAGE_COLUMNS),
        lambda line, row: _parse_plage(line, row, professions, today),
    )
    existing = _existing_plages(session)
    for record in list(records):
        clash = find_overlap([*existing, record.plage])
        if clash is not None:
            other = clash[0]
            report.errors.append(
                RowError(
                    record.line,
                    "start",
                    f"overlaps another plage of {other.professional_rpps} on the same weekday "
                    f"({other.start:%H:%M}-{other.end:%H:%M}); change the hours or the weekday",
                )
            )
            report.skipped_lines.append(record.line)
            records.remove(record)
        else:
            existing.append(record.plage)
    if report.errors and not skip_invalid:
        raise ImportRejectedError(report)
    pro_ids = {rpps: pid for rpps, _, pid in pros}
    for record in records:
        session.add(_plage_row(session, record.plage, pro_ids[record.plage.professional_rpps]))
    session.flush()
    report.written = len(records)
    return report


def _plage_row(session: Session, plage: Plage, professional_id: int) -> PlageRow:
    site_id = session.scalars(
        select(ProfessionalRow.main_site_id).where(ProfessionalRow.id == professional_id)
    ).one()
    return plage_row(plage, professional_id, site_id)


def _existing_plages(session: Session) -> list[Plage]:
    rows = session.execute(select(PlageRow, ProfessionalRow).join(ProfessionalRow)).all()
    return [plage_from_row(p, pro) for p, pro in rows]
