"""Communes, distances, default search radius and geocoding, from shipped data only.

Nothing here touches a database or the network. The reference table is
``fixtures/communes_*.csv`` (INSEE COG 2026, populations 2023, validated town-hall
points; provenance in ``fixtures/SOURCES.md``).

Two distances on purpose:

- :func:`haversine_km` is vectorised numpy on a sphere; it screens thousands of
  candidates at once and is what the solver-side code should use;
- :func:`geodesic_km` is geopy's ellipsoidal distance, exact to the metre, for what a
  person reads (an explanation, a displayed distance) and for checking the former.

On the scale of a département they differ by well under 0.5 %.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from geopy.distance import geodesic
from scipy.spatial import cKDTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

# IUGG mean Earth radius: the sphere that best matches the WGS84 ellipsoid on average.
EARTH_RADIUS_KM = 6371.0088

DEFAULT_COMMUNES_FILE = "communes_78.csv"
FRANCE_COMMUNES_FILE = "communes_fr.csv"


def fixtures_dir() -> Path:
    """The repository's ``fixtures/`` folder (``<repo>/fixtures``, next to ``snp/``)."""
    return Path(__file__).resolve().parent.parent / "fixtures"


class UnknownCommuneError(ValueError):
    """A commune code (or postal code) that is not in the loaded reference table."""

    def __init__(self, code: str, *, loaded: str = "") -> None:
        self.code = code
        where = f" in {loaded}" if loaded else ""
        super().__init__(
            f"unknown commune {code!r}{where}: expected a 5-character INSEE commune code "
            "(e.g. '78646' for Versailles, '2A004' for Ajaccio; not a postal code). "
            "Check the code, or load the national table "
            "(CommuneDirectory.from_csv(fixtures_dir() / 'communes_fr.csv')) if the commune "
            "lies outside the loaded départements."
        )


@dataclass(frozen=True, slots=True)
class Commune:
    insee_code: str
    name: str
    postal_codes: tuple[str, ...]
    departement_code: str
    population: int
    lat: float | None
    lon: float | None
    coord_source: str  # "mairie", "centroide" or "" (no coordinates)

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None

    def point(self) -> GeoPoint:
        """The commune's reference point; raises ``ValueError`` when it has none."""
        if self.lat is None or self.lon is None:
            raise ValueError(
                f"commune {self.insee_code} {self.name} has no coordinates in the reference "
                "data (see fixtures/SOURCES.md, Caveats); give the patient's location another way"
            )
        return GeoPoint(
            lat=self.lat,
            lon=self.lon,
            label=self.name,
            insee_code=self.insee_code,
            precision="commune",
        )


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float
    label: str = ""
    insee_code: str | None = None
    # "commune" (the commune's reference point), "postal_code" (the most populous commune
    # of an ambiguous postal code), "address" (a real geocoder's answer).
    precision: str = "address"

    @property
    def latlon(self) -> tuple[float, float]:
        return (self.lat, self.lon)


# --------------------------------------------------------------------------- distances


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in km; arguments broadcast like any numpy operation.

    ``haversine_km(lat, lon, slot_lats, slot_lons)`` gives one request against a whole
    slot pool; a scalar input gives a 0-d array (use ``float()``).
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2.0) ** 2
    # clip: rounding can push h a hair above 1 for antipodal points
    result: FloatArray = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return result


def geodesic_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Ellipsoidal (WGS84) distance in km between two ``(lat, lon)`` points."""
    return float(geodesic(a, b).km)


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
    """Points as 3-D unit vectors, so that a k-d tree can search by chord length."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lmb = np.radians(np.asarray(lon, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi)], axis=-1)


def chord_for_km(distance_km: float) -> float:
    """Chord length on the unit sphere for a great-circle distance."""
    return 2.0 * math.sin(distance_km / (2.0 * EARTH_RADIUS_KM))


# --------------------------------------------------------------------------- density


@dataclass(frozen=True, slots=True)
class RadiusPolicy:
    """Default search radius by density: SNP.md asks 10 km in dense areas, 25 km in rural.

    Commune area is not in the shipped data and the INSEE *grille communale de densité*
    is not shipped either, so density is approximated as the population of every commune
    whose reference point lies within ``neighbourhood_km`` of the commune's point
    (itself included), divided by the area of that disc. This smooths out the small,
    dense suburban communes next to large rural ones that a per-commune density would
    misclassify. The threshold defaults to 300 inhabitants/km², the INSEE grille's
    lower bound for "densité intermédiaire": small towns and their suburbs count as
    dense, villages as rural. All values are our choice; change them per territory.
    """

    dense_radius_km: float = 10.0
    rural_radius_km: float = 25.0
    dense_min_per_km2: float = 300.0
    neighbourhood_km: float = 5.0

    def radius_for_density(self, density_per_km2: npt.ArrayLike) -> FloatArray:
        density = np.asarray(density_per_km2, dtype=np.float64)
        result: FloatArray = np.where(
            density >= self.dense_min_per_km2, self.dense_radius_km, self.rural_radius_km
        ).astype(np.float64)
        return result


DEFAULT_RADIUS_POLICY = RadiusPolicy()


# --------------------------------------------------------------------------- search text

_SAINT_TOKENS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise_name(text: str) -> str:
    """Lower case, no accents, words separated by single spaces (``L'Étang`` → ``l etang``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.replace("œ", "oe").replace("æ", "ae").replace("Œ", "oe")
    return _NON_ALNUM.sub(" ", stripped.lower()).strip()


def _expand_saint(normalised: str) -> str:
    return " ".join(_SAINT_TOKENS.get(tok, tok) for tok in normalised.split(" "))


# --------------------------------------------------------------------------- directory


def load_communes(path: str | Path) -> list[Commune]:
    """Read a ``communes_*.csv`` file (format in ``fixtures/SOURCES.md``)."""
    communes: list[Commune] = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            lat_text, lon_text = row["latitude"], row["longitude"]
            has_point = bool(lat_text) and bool(lon_text)
            communes.append(
                Commune(
                    insee_code=row["insee_code"],
                    name=row["name"],
                    postal_codes=tuple(p for p in row["postal_codes"].split(";") if p),
                    departement_code=row["departement_code"],
                    population=int(row["population"] or 0),
                    lat=float(lat_text) if has_point else None,
                    lon=float(lon_text) if has_point else None,
                    coord_source=row["coord_source"] if has_point else "",
                )
            )
    return communes


@dataclass(frozen=True, slots=True)
class _SearchKey:
    spaced: str
    compact: str  # without spaces, so that "letang" finds "L'Étang-la-Ville"


class CommuneDirectory:
    """The communes of one or more départements, looked up by code, postal code or name.

    The vectorised arrays (``codes``, ``lat``, ``lon``, ``population``, ``departements``)
    cover only the communes that have coordinates (all but 4 in France, none in the 78),
    in file order; :meth:`index_of` maps a code to its row there.
    """

    def __init__(
        self,
        communes: Sequence[Commune],
        *,
        density_context: Sequence[Commune] | None = None,
        source: str = "",
    ) -> None:
        self._communes: tuple[Commune, ...] = tuple(communes)
        self.source = source
        self._by_code: dict[str, Commune] = {c.insee_code: c for c in self._communes}
        self._by_postal: dict[str, list[Commune]] = {}
        for commune in self._communes:
            for postal in commune.postal_codes:
                self._by_postal.setdefault(postal, []).append(commune)
        for same_postal in self._by_postal.values():
            same_postal.sort(key=lambda c: (-c.population, c.insee_code))

        located = [c for c in self._communes if c.lat is not None and c.lon is not None]
        self.codes: StrArray = np.array([c.insee_code for c in located], dtype="<U5")
        self.names: StrArray = np.array([c.name for c in located], dtype=np.str_)
        self.departements: StrArray = np.array([c.departement_code for c in located], dtype="<U3")
        self.lat: FloatArray = np.array([c.lat for c in located], dtype=np.float64)
        self.lon: FloatArray = np.array([c.lon for c in located], dtype=np.float64)
        self.population: IntArray = np.array([c.population for c in located], dtype=np.int64)
        self._row: dict[str, int] = {code: i for i, code in enumerate(self.codes.tolist())}

        # Density needs neighbours across a département border when the caller loaded
        # a national file and filtered it: keep the whole file as context.
        context = density_context if density_context is not None else self._communes
        ctx = [c for c in context if c.lat is not None and c.lon is not None]
        self._ctx_lat = np.array([c.lat for c in ctx], dtype=np.float64)
        self._ctx_lon = np.array([c.lon for c in ctx], dtype=np.float64)
        self._ctx_pop = np.array([c.population for c in ctx], dtype=np.float64)
        self._ctx_tree: cKDTree | None = None
        self._density_cache: dict[float, FloatArray] = {}

        self._search_keys: list[_SearchKey] = []
        for commune in self._communes:
            spaced = normalise_name(commune.name)
            self._search_keys.append(_SearchKey(spaced=spaced, compact=spaced.replace(" ", "")))

    # ----- construction

    @classmethod
    def from_csv(
        cls, path: str | Path | None = None, departements: Iterable[str] | None = None
    ) -> CommuneDirectory:
        """Load a communes CSV (default: the shipped Yvelines table).

        With ``departements``, only those rows are kept, but the whole file still serves
        as neighbourhood for the density proxy (so load ``communes_fr.csv`` filtered to
        ``["78"]`` to get exact density on the 78's borders; ``communes_78.csv`` alone
        slightly underestimates it next to the 92 and 95).
        """
        csv_path = Path(path) if path is not None else fixtures_dir() / DEFAULT_COMMUNES_FILE
        everything = load_communes(csv_path)
        if departements is None:
            return cls(everything, source=csv_path.name)
        wanted = {str(d).strip().upper() for d in departements}
        unknown = wanted - {c.departement_code for c in everything}
        if unknown:
            raise ValueError(
                f"no commune of département(s) {sorted(unknown)} in {csv_path.name}; "
                "département codes are text such as '78', '2A' or '971'"
            )
        kept = [c for c in everything if c.departement_code in wanted]
        return cls(kept, density_context=everything, source=csv_path.name)

    @classmethod
    def france(cls, departements: Iterable[str] | None = None) -> CommuneDirectory:
        """The national table (metro + DROM), optionally restricted to some départements."""
        return cls.from_csv(fixtures_dir() / FRANCE_COMMUNES_FILE, departements)

    # ----- container

    def __len__(self) -> int:
        return len(self._communes)

    def __iter__(self) -> Iterator[Commune]:
        return iter(self._communes)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    @property
    def communes(self) -> tuple[Commune, ...]:
        return self._communes

    # ----- lookups

    def get(self, code: str) -> Commune:
        """The commune with this INSEE code; :class:`UnknownCommuneError` otherwise."""
        found = self._by_code.get(code.strip().upper())
        if found is None:
            raise UnknownCommuneError(code, loaded=self.source)
        return found

    def find(self, code: str) -> Commune | None:
        """Like :meth:`get`, but ``None`` for an unknown code."""
        return self._by_code.get(code.strip().upper())

    def by_postal_code(self, postal_code: str) -> list[Commune]:
        """Every commune served by a postal code, most populous first (may be empty)."""
        return list(self._by_postal.get(postal_code.strip(), []))

    def index_of(self, code: str) -> int:
        """Row of a commune in the vectorised arrays (communes with coordinates only)."""
        row = self._row.get(code)
        if row is None:
            if code in self._by_code:
                raise ValueError(f"commune {code} has no coordinates in the reference data")
            raise UnknownCommuneError(code, loaded=self.source)
        return row

    def search(self, query: str, limit: int = 10) -> list[Commune]:
        """Autocomplete: communes whose name (or postal code) matches ``query``.

        Accent-, case- and punctuation-insensitive; ``st``/``ste`` also match
        ``saint``/``sainte``. A query of digits matches postal codes and INSEE codes by
        prefix. Ranking: exact, then name prefix, then word prefix, then substring;
        ties broken by population (largest first), then name.
        """
        if limit <= 0:
            return []
        q = normalise_name(query)
        if not q:
            return []
        variants = {q, _expand_saint(q)}
        compact_variants = {v.replace(" ", "") for v in variants}
        digits = q.replace(" ", "")
        numeric = digits.isdigit() or (len(digits) >= 2 and digits[:2] in ("2a", "2b"))
        ranked: list[tuple[int, int, str, Commune]] = []
        for commune, key in zip(self._communes, self._search_keys, strict=True):
            rank = 9
            if numeric:
                code = digits.upper()
                if code == commune.insee_code or code in commune.postal_codes:
                    rank = 0
                elif commune.insee_code.startswith(code) or any(
                    p.startswith(code) for p in commune.postal_codes
                ):
                    rank = 1
            if rank == 9:
                rank = _name_rank(key, variants, compact_variants)
            if rank < 9:
                ranked.append((rank, -commune.population, key.spaced, commune))
        ranked.sort(key=lambda item: item[:3])
        return [item[3] for item in ranked[:limit]]

    # ----- density and radius

    def population_within_km(self, radius_km: float | None = None) -> FloatArray:
        """Population whose commune point lies within ``radius_km`` of each commune's point.

        One value per row of the vectorised arrays; the commune itself is included.
        Neighbours come from the density context (the whole loaded file).
        """
        r = DEFAULT_RADIUS_POLICY.neighbourhood_km if radius_km is None else radius_km
        cached = self._density_cache.get(r)
        if cached is not None:
            return cached
        if self._ctx_tree is None:
            self._ctx_tree = cKDTree(unit_vectors(self._ctx_lat, self._ctx_lon))
        neighbours = self._ctx_tree.query_ball_point(
            unit_vectors(self.lat, self.lon), chord_for_km(r)
        )
        totals = np.array([float(self._ctx_pop[idx].sum()) for idx in neighbours], dtype=np.float64)
        self._density_cache[r] = totals
        return totals

    def density_per_km2(self, policy: RadiusPolicy = DEFAULT_RADIUS_POLICY) -> FloatArray:
        """The density proxy of :class:`RadiusPolicy`, one value per located commune."""
        area = math.pi * policy.neighbourhood_km**2
        result: FloatArray = self.population_within_km(policy.neighbourhood_km) / area
        return result

    def default_radii_km(self, policy: RadiusPolicy = DEFAULT_RADIUS_POLICY) -> FloatArray:
        """Default search radius for every located commune (aligned with ``codes``)."""
        return policy.radius_for_density(self.density_per_km2(policy))

    def default_radius_km(
        self, commune: Commune | str, policy: RadiusPolicy = DEFAULT_RADIUS_POLICY
    ) -> float:
        """Default search radius around a patient of this commune (10 km dense, 25 rural).

        A commune without coordinates has no neighbourhood to measure: it gets the
        rural radius, the generous choice.
        """
        code = commune if isinstance(commune, str) else commune.insee_code
        row = self._row.get(code)
        if row is None:
            self.get(code)  # raises UnknownCommuneError for a code not loaded at all
            return policy.rural_radius_km
        return float(self.default_radii_km(policy)[row])


def _name_rank(key: _SearchKey, variants: set[str], compact_variants: set[str]) -> int:
    # Official names spell "Saint" in full, so only the query needs the st/ste variants.
    name, compact = key.spaced, key.compact
    if name in variants or compact in compact_variants:
        return 2
    if any(name.startswith(v) for v in variants) or any(
        compact.startswith(v) for v in compact_variants
    ):
        return 3
    if any(f" {v}" in f" {name}" for v in variants):
        return 4
    if any(v in name for v in variants) or any(v in compact for v in compact_variants):
        return 5
    return 9


_default_directory: CommuneDirectory | None = None


def default_directory() -> CommuneDirectory:
    """The shipped Yvelines table, loaded once per process."""
    global _default_directory
    if _default_directory is None:
        _default_directory = CommuneDirectory.from_csv()
    return _default_directory


def default_radius_km(
    commune: Commune | str,
    directory: CommuneDirectory | None = None,
    policy: RadiusPolicy = DEFAULT_RADIUS_POLICY,
) -> float:
    """Default search radius for a patient of ``commune`` (see :class:`RadiusPolicy`)."""
    return (directory or default_directory()).default_radius_km(commune, policy)


# --------------------------------------------------------------------------- geocoding


@runtime_checkable
class Geocoder(Protocol):
    """Turns what an operator typed into a point; ``None`` when it cannot."""

    def geocode(self, address: str) -> GeoPoint | None: ...


_CODE_TOKEN = re.compile(r"^(?:\d{5}|2[ABab]\d{3})$")


class CommuneCentroidGeocoder:
    """The default, offline geocoder: a postal code or a commune code to a commune point.

    Accepted inputs:

    - ``"78000"``: a postal code. A bare 5-digit code is read as a postal code first,
      because that is what a person types; in the 78 many INSEE codes are also someone
      else's postal code (``78120`` is Rambouillet's postal code and Bullion's INSEE code);
    - ``"insee:78646"``: an INSEE commune code, explicitly (what software should send);
      a bare code that is no postal code (``"78646"``, ``"2A004"``) is read as INSEE too;
    - ``"78120 Clairefontaine-en-Yvelines"``: postal code plus name, to pick among the
      communes sharing a postal code;
    - ``"Versailles"``: an exact commune name (accents and case ignored).

    A postal code shared by several communes, given without a name, resolves to the
    most populous one with ``precision="postal_code"``, so that the caller can ask the
    operator to confirm. Communes without coordinates resolve to ``None``.
    """

    def __init__(self, directory: CommuneDirectory | None = None) -> None:
        self.directory = directory or default_directory()

    def geocode(self, address: str) -> GeoPoint | None:
        text = address.strip()
        if not text:
            return None
        if text.lower().startswith("insee:"):
            code = text[len("insee:") :].strip().upper()
            found = self.directory.find(code)
            return None if found is None else self._point(found, "commune")
        head, _, rest = text.partition(" ")
        if _CODE_TOKEN.match(head):
            return self._from_code(head.upper(), normalise_name(rest))
        wanted = normalise_name(text)
        for commune in self.directory.search(text, limit=5):
            if normalise_name(commune.name) in (wanted, _expand_saint(wanted)):
                return self._point(commune, "commune")
        return None

    def _from_code(self, code: str, name: str) -> GeoPoint | None:
        candidates = self.directory.by_postal_code(code)
        if name:
            wanted = {name, _expand_saint(name)}
            for commune in candidates:
                if normalise_name(commune.name) in wanted:
                    return self._point(commune, "commune")
        if candidates:
            precision = "commune" if len(candidates) == 1 else "postal_code"
            return self._point(candidates[0], precision)
        by_code = self.directory.find(code)
        return None if by_code is None else self._point(by_code, "commune")

    @staticmethod
    def _point(commune: Commune, precision: str) -> GeoPoint | None:
        if commune.lat is None or commune.lon is None:
            return None
        return GeoPoint(
            lat=commune.lat,
            lon=commune.lon,
            label=commune.name,
            insee_code=commune.insee_code,
            precision=precision,
        )


class GeopyAddressGeocoder:
    """Slot for a real address geocoder, through geopy. Off by default.

    It is built only when a deployment configures one, because it calls a web service
    (network, rate limits, and patient addresses leaving the premises). The natural
    choice in France is the Base Adresse Nationale (geopy's ``BANFrance``, data under
    Licence Ouverte); any geopy geocoder works. Tests inject a fake ``backend`` and never
    reach the network. Failures return ``None`` so the caller can fall back to
    :class:`CommuneCentroidGeocoder` (see :class:`FallbackGeocoder`).
    """

    def __init__(
        self,
        provider: str = "banfrance",
        *,
        user_agent: str = "snp",
        timeout_s: float = 3.0,
        backend: Any | None = None,
        **provider_options: Any,
    ) -> None:
        if backend is None:
            from geopy.geocoders import get_geocoder_for_service

            backend = get_geocoder_for_service(provider)(
                user_agent=user_agent, timeout=timeout_s, **provider_options
            )
        self._backend = backend
        self.provider = provider

    def geocode(self, address: str) -> GeoPoint | None:
        from geopy.exc import GeopyError

        try:
            location = self._backend.geocode(address, exactly_one=True)
        except GeopyError:
            return None
        if location is None:
            return None
        return GeoPoint(
            lat=float(location.latitude),
            lon=float(location.longitude),
            label=str(getattr(location, "address", "") or address),
            precision="address",
        )


class FallbackGeocoder:
    """Tries each geocoder in turn; the first point found wins."""

    def __init__(self, *geocoders: Geocoder) -> None:
        if not geocoders:
            raise ValueError("FallbackGeocoder needs at least one geocoder")
        self.geocoders = geocoders

    def geocode(self, address: str) -> GeoPoint | None:
        for geocoder in self.geocoders:
            point = geocoder.geocode(address)
            if point is not None:
                return point
        return None


def make_geocoder(
    address_provider: str | None = None,
    *,
    directory: CommuneDirectory | None = None,
    **provider_options: Any,
) -> Geocoder:
    """The configured geocoder: the offline centroid one unless a provider is named.

    ``make_geocoder("banfrance", user_agent="cpts-xyz")`` puts the BAN in front of the
    centroid geocoder; ``make_geocoder()`` makes no network call, ever.
    """
    centroid = CommuneCentroidGeocoder(directory)
    if not address_provider:
        return centroid
    return FallbackGeocoder(GeopyAddressGeocoder(address_provider, **provider_options), centroid)
