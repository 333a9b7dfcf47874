from __future__ import annotations

from dataclasses import dataclass

import pytest
from geopy.exc import GeocoderTimedOut

from snp.geo import (
    CommuneCentroidGeocoder,
    CommuneDirectory,
    FallbackGeocoder,
    Geocoder,
    GeoPoint,
    GeopyAddressGeocoder,
    make_geocoder,
)


@pytest.fixture(scope="module")
def geocoder() -> CommuneCentroidGeocoder:
    return CommuneCentroidGeocoder(CommuneDirectory.from_csv())


def test_is_a_geocoder(geocoder: CommuneCentroidGeocoder) -> None:
    assert isinstance(geocoder, Geocoder)


def test_postal_code_of_a_single_commune(geocoder: CommuneCentroidGeocoder) -> None:
    point = geocoder.geocode("78000")
    assert point == GeoPoint(48.80052, 2.13038, "Versailles", "78646", "commune")


def test_insee_code(geocoder: CommuneCentroidGeocoder) -> None:
    point = geocoder.geocode("78646")
    assert point is not None and point.insee_code == "78646"
    explicit = geocoder.geocode("insee:78120")
    assert explicit is not None and explicit.label == "Bullion"


def test_bare_code_reads_as_postal_code_first(geocoder: CommuneCentroidGeocoder) -> None:
    # 78120 is Rambouillet's postal code (shared with 8 villages) and Bullion's INSEE code
    point = geocoder.geocode("78120")
    assert point is not None
    assert point.label == "Rambouillet"
    assert point.precision == "postal_code"


def test_postal_code_and_name_disambiguate(geocoder: CommuneCentroidGeocoder) -> None:
    point = geocoder.geocode("78120 clairefontaine en yvelines")
    assert point is not None and point.insee_code == "78164"
    assert point.precision == "commune"


def test_exact_name(geocoder: CommuneCentroidGeocoder) -> None:
    point = geocoder.geocode("saint germain en laye")
    assert point is not None and point.insee_code == "78551"
    assert geocoder.geocode("St-Germain-en-Laye") == point


def test_unknown_inputs(geocoder: CommuneCentroidGeocoder) -> None:
    assert geocoder.geocode("") is None
    assert geocoder.geocode("99999") is None
    assert geocoder.geocode("insee:75056") is None
    assert geocoder.geocode("12 rue de la Paix") is None
    assert geocoder.geocode("Versa") is None  # a prefix is autocomplete's job, not ours


def test_commune_without_coordinates_is_not_geocoded() -> None:
    cantal = CommuneCentroidGeocoder(CommuneDirectory.france(["15"]))
    assert cantal.geocode("insee:15031") is None
    assert cantal.geocode("insee:15141") is not None


def test_corsican_code() -> None:
    corse = CommuneCentroidGeocoder(CommuneDirectory.france(["2A"]))
    point = corse.geocode("2A004")
    assert point is not None and point.label == "Ajaccio"


@dataclass
class FakeLocation:
    latitude: float
    longitude: float
    address: str


class FakeBackend:
    """Stands in for a geopy geocoder; records calls instead of reaching the network."""

    def __init__(self, answer: FakeLocation | None, fail: bool = False) -> None:
        self.answer, self.fail, self.calls = answer, fail, list[str]()

    def geocode(self, query: str, exactly_one: bool = True) -> FakeLocation | None:
        self.calls.append(query)
        if self.fail:
            raise GeocoderTimedOut("slow")
        return self.answer


def test_geopy_adapter_maps_the_location() -> None:
    backend = FakeBackend(FakeLocation(48.8049, 2.1204, "1 Place d'Armes 78000 Versailles"))
    adapter = GeopyAddressGeocoder(backend=backend)
    point = adapter.geocode("1 place d'Armes, Versailles")
    assert point == GeoPoint(48.8049, 2.1204, "1 Place d'Armes 78000 Versailles")
    assert point.precision == "address"
    assert backend.calls == ["1 place d'Armes, Versailles"]


def test_geopy_adapter_failure_falls_back_to_the_commune(
    geocoder: CommuneCentroidGeocoder,
) -> None:
    failing = GeopyAddressGeocoder(backend=FakeBackend(None, fail=True))
    assert failing.geocode("78000") is None
    chain = FallbackGeocoder(failing, geocoder)
    point = chain.geocode("78000")
    assert point is not None and point.label == "Versailles"


def test_default_geocoder_is_offline() -> None:
    geocoder = make_geocoder()
    assert isinstance(geocoder, CommuneCentroidGeocoder)


def test_configured_provider_is_built_but_not_called() -> None:
    # Construction only builds geopy's client object; no request is sent.
    geocoder = make_geocoder("banfrance", user_agent="snp-tests")
    assert isinstance(geocoder, FallbackGeocoder)
    assert isinstance(geocoder.geocoders[0], GeopyAddressGeocoder)
    assert isinstance(geocoder.geocoders[1], CommuneCentroidGeocoder)
    with pytest.raises(ValueError):
        FallbackGeocoder()
