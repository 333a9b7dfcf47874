from __future__ import annotations

import numpy as np
import pytest

from snp.geo import (
    Commune,
    CommuneDirectory,
    UnknownCommuneError,
    default_directory,
    fixtures_dir,
    normalise_name,
)


@pytest.fixture(scope="module")
def yvelines() -> CommuneDirectory:
    return CommuneDirectory.from_csv()


@pytest.fixture(scope="module")
def france() -> CommuneDirectory:
    return CommuneDirectory.france()


def test_fixtures_dir_is_the_repository_folder() -> None:
    assert (fixtures_dir() / "communes_78.csv").is_file()
    assert fixtures_dir().parent.joinpath("snp", "geo.py").is_file()


def test_default_table_is_yvelines(yvelines: CommuneDirectory) -> None:
    assert len(yvelines) == 259
    assert {c.departement_code for c in yvelines} == {"78"}
    assert int(yvelines.population.sum()) == 1_485_086
    assert default_directory() is default_directory()


def test_versailles_by_code(yvelines: CommuneDirectory) -> None:
    versailles = yvelines.get("78646")
    assert versailles == Commune(
        insee_code="78646",
        name="Versailles",
        postal_codes=("78000",),
        departement_code="78",
        population=84_095,
        lat=48.80052,
        lon=2.13038,
        coord_source="mairie",
    )
    assert "78646" in yvelines
    assert yvelines.find("99999") is None


def test_unknown_code_error_names_the_code_and_the_fix(yvelines: CommuneDirectory) -> None:
    with pytest.raises(UnknownCommuneError) as info:
        yvelines.get("75056")
    message = str(info.value)
    assert "'75056'" in message
    assert "communes_fr.csv" in message
    assert info.value.code == "75056"
    assert isinstance(info.value, ValueError)


def test_codes_keep_leading_zeros_and_corsica(france: CommuneDirectory) -> None:
    assert len(france) == 34_875
    assert france.get("01001").name == "L'Abergement-Clémenciat"
    ajaccio = france.get("2A004")
    assert ajaccio.departement_code == "2A"
    assert france.get("2a004") is ajaccio
    assert "01001" in set(france.codes.tolist())


def test_communes_without_coordinates_are_kept_but_not_in_arrays(
    france: CommuneDirectory,
) -> None:
    celles = france.get("15031")
    assert celles.lat is None and celles.lon is None and not celles.has_coordinates
    assert celles.coord_source == ""
    assert len(france.codes) == 34_875 - 4
    assert "15031" not in set(france.codes.tolist())
    assert np.isfinite(france.lat).all() and np.isfinite(france.lon).all()
    with pytest.raises(ValueError, match="no coordinates"):
        celles.point()
    with pytest.raises(ValueError, match="no coordinates"):
        france.index_of("15031")
    assert [c.insee_code for c in france.by_postal_code("15170")][:1]  # still findable


def test_vectorised_arrays_are_aligned(yvelines: CommuneDirectory) -> None:
    row = yvelines.index_of("78517")
    assert yvelines.codes[row] == "78517"
    assert yvelines.names[row] == "Rambouillet"
    assert yvelines.population[row] == 27_724
    assert yvelines.lat[row] == pytest.approx(48.64517)
    assert yvelines.lon[row] == pytest.approx(1.81971)
    assert yvelines.codes.shape == yvelines.lat.shape == yvelines.population.shape


def test_departement_filter(france: CommuneDirectory) -> None:
    idf = CommuneDirectory.france(["75", "92"])
    assert {c.departement_code for c in idf} == {"75", "92"}
    assert idf.get("75056").population > 2_000_000
    with pytest.raises(ValueError, match="'99'"):
        CommuneDirectory.france(["99"])


def test_postal_code_lookup_most_populous_first(yvelines: CommuneDirectory) -> None:
    names = [c.name for c in yvelines.by_postal_code("78120")]
    assert names[0] == "Rambouillet"
    assert "Clairefontaine-en-Yvelines" in names
    assert yvelines.by_postal_code("00000") == []


def test_paris_has_all_its_postal_codes(france: CommuneDirectory) -> None:
    paris = france.get("75056")
    assert len(paris.postal_codes) == 21
    assert france.by_postal_code("75011") == [paris]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L'Étang-la-Ville", "l etang la ville"),
        ("SAINT-GERMAIN-EN-LAYE", "saint germain en laye"),
        ("  Œuilly ", "oeuilly"),
    ],
)
def test_normalise_name(text: str, expected: str) -> None:
    assert normalise_name(text) == expected


def names(communes: list[Commune]) -> list[str]:
    return [c.name for c in communes]


def test_search_is_accent_and_case_insensitive(yvelines: CommuneDirectory) -> None:
    assert names(yvelines.search("VERSAILLES"))[0] == "Versailles"
    assert names(yvelines.search("etang la"))[0] == "L'Étang-la-Ville"
    assert names(yvelines.search("letang"))[0] == "L'Étang-la-Ville"
    assert names(yvelines.search("élancourt"))[0] == "Élancourt"


def test_search_saint_abbreviations(yvelines: CommuneDirectory) -> None:
    assert names(yvelines.search("st germain"))[0] == "Saint-Germain-en-Laye"
    assert names(yvelines.search("St-Cyr"))[0] == "Saint-Cyr-l'École"
    assert "Conflans-Sainte-Honorine" in names(yvelines.search("ste honorine"))


def test_search_ranks_exact_then_prefix_then_substring(yvelines: CommuneDirectory) -> None:
    found = names(yvelines.search("mesnil", limit=20))
    # prefixes ("Mesnil-...") are absent in the 78; word prefixes come before substrings
    assert found[:2] == ["Le Mesnil-Saint-Denis", "Le Mesnil-le-Roi"]
    plaisir = names(yvelines.search("plaisir"))
    assert plaisir[0] == "Plaisir"
    # population breaks ties within a rank
    saints = yvelines.search("saint", limit=5)
    pops = [c.population for c in saints]
    assert pops == sorted(pops, reverse=True)
    assert saints[0].name == "Saint-Germain-en-Laye"


def test_search_exact_beats_a_bigger_prefix_match(france: CommuneDirectory) -> None:
    # many bigger communes contain "sens" or "paris" in their name; the exact one first
    assert names(france.search("nice"))[0] == "Nice"
    assert names(france.search("paris"))[0] == "Paris"
    sens = names(france.search("sens", limit=3))
    assert sens[0] == "Sens"


def test_search_by_postal_code_prefix(yvelines: CommuneDirectory) -> None:
    assert names(yvelines.search("78000")) == ["Versailles"]
    by_prefix = yvelines.search("7812", limit=50)
    assert by_prefix and all(
        any(p.startswith("7812") for p in c.postal_codes) or c.insee_code.startswith("7812")
        for c in by_prefix
    )
    assert by_prefix[0].name == "Rambouillet"


def test_search_limit_and_nothing(yvelines: CommuneDirectory) -> None:
    assert len(yvelines.search("a", limit=3)) == 3
    assert yvelines.search("zzzz") == []
    assert yvelines.search("  ") == []
    assert yvelines.search("versailles", limit=0) == []
