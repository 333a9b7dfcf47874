"""The shipped commune tables are the ones documented in fixtures/SOURCES.md."""

from __future__ import annotations

import csv
import hashlib

import pytest

from snp.geo import fixtures_dir

EXPECTED_SHA256 = {
    "communes_78.csv": "84a5e99dff092f343899fd48ac80799a958222ba39bfb67c011c7f820d79fe8c",
    "communes_fr.csv": "73c49296a9f94c1f2850bf3887d8ba4e54f2897c823a8dcaa8d16fd30cd57041",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SHA256))
def test_fixture_file_is_unchanged(name: str) -> None:
    digest = hashlib.sha256((fixtures_dir() / name).read_bytes()).hexdigest()
    assert digest == EXPECTED_SHA256[name], f"{name} differs from fixtures/SOURCES.md"


def test_sources_document_names_the_hashes_and_licence() -> None:
    text = (fixtures_dir() / "SOURCES.md").read_text(encoding="utf-8")
    for digest in EXPECTED_SHA256.values():
        assert digest in text
    assert "Licence Ouverte / Etalab 2.0" in text


def test_yvelines_file_is_the_78_subset_of_the_national_file() -> None:
    with (fixtures_dir() / "communes_fr.csv").open(encoding="utf-8", newline="") as f:
        national = [r for r in csv.DictReader(f) if r["departement_code"] == "78"]
    with (fixtures_dir() / "communes_78.csv").open(encoding="utf-8", newline="") as f:
        yvelines = list(csv.DictReader(f))
    assert national == yvelines
