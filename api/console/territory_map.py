"""The territory map of an orientation, drawn as SVG from the commune data alone.

No tiles, no network: the communes of the département are dots (the CPTS's own
territory darker), the professionals' sites small squares, the patient a cross
inside the search radius, and the proposals numbered circles in ranking order.
A local equirectangular projection is exact enough at a département's scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 540
PAD = 28
LEGEND_H = 44
KM_PER_DEG_LAT = 111.195

TERRITORY = "#8a97a8"
OUTSIDE = "#d5dae1"
SITE = "#5b6b7f"
PATIENT = "#b3261e"
PROPOSAL = "#1f5fa8"


@dataclass(frozen=True, slots=True)
class MapCommune:
    name: str
    lat: float
    lon: float
    population: int
    in_territory: bool


@dataclass(frozen=True, slots=True)
class MapSite:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class MapProposal:
    rank: int
    label: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class MapPatient:
    label: str
    lat: float
    lon: float
    radius_km: float


class _Projection:
    """Fit a lat/lon box into the drawing area, keeping distances true to scale."""

    def __init__(self, lats: Sequence[float], lons: Sequence[float]) -> None:
        self.lat0, self.lon0 = min(lats), min(lons)
        self.cos = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = max((max(lons) - self.lon0) * self.cos, 1e-3)
        span_y = max(max(lats) - self.lat0, 1e-3)
        self.scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD - LEGEND_H) / span_y)
        # Centre the drawing in the free space.
        self.dx = (WIDTH - 2 * PAD - span_x * self.scale) / 2
        self.dy = (HEIGHT - 2 * PAD - LEGEND_H - span_y * self.scale) / 2
        self.top = self.lat0 + span_y

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (
            PAD + self.dx + (lon - self.lon0) * self.cos * self.scale,
            PAD + self.dy + (self.top - lat) * self.scale,
        )

    def px_per_km(self) -> float:
        return self.scale / KM_PER_DEG_LAT


def _frame_box(
    territory: Sequence[MapCommune],
    patient: MapPatient | None,
    others: Sequence[tuple[float, float]],
) -> tuple[list[float], list[float]]:
    points = [(c.lat, c.lon) for c in territory if c.in_territory] or [
        (c.lat, c.lon) for c in territory
    ]
    points += list(others)
    if patient is not None:
        points.append((patient.lat, patient.lon))
    if not points:
        points = [(48.8, 2.0)]
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    # A little air around the edge points (about 2 km).
    return [min(lats) - 0.02, max(lats) + 0.02], [min(lons) - 0.03, max(lons) + 0.03]


def territory_svg(
    communes: Sequence[MapCommune],
    sites: Sequence[MapSite],
    patient: MapPatient | None,
    proposals: Sequence[MapProposal],
    title: str,
) -> str:
    """The map as a standalone, accessible SVG document (``role="img"``, title, desc)."""
    lats, lons = _frame_box(communes, patient, [(p.lat, p.lon) for p in proposals])
    proj = _Projection(lats, lons)
    body: list[str] = [
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fbfcfd"/>',
    ]
    labelled = sorted((c for c in communes if c.in_territory), key=lambda c: -c.population)[:6]
    for c in communes:
        x, y = proj.xy(c.lat, c.lon)
        r = 1.6 + min(3.0, math.sqrt(max(c.population, 0)) / 70)
        fill = TERRITORY if c.in_territory else OUTSIDE
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}">'
            f"<title>{escape(c.name)}</title></circle>"
        )
    for s in sites:
        x, y = proj.xy(s.lat, s.lon)
        body.append(
            f'<rect x="{x - 2.5:.1f}" y="{y - 2.5:.1f}" width="5" height="5" fill="{SITE}" '
            f'fill-opacity="0.7"><title>{escape(s.name)}</title></rect>'
        )
    placed: list[tuple[float, float]] = []
    for c in labelled:
        x, y = proj.xy(c.lat, c.lon)
        if any(abs(x - ox) < 110 and abs(y - oy) < 14 for ox, oy in placed):
            continue  # would overlap a bigger commune's name
        placed.append((x, y))
        body.append(
            f'<text x="{x + 5:.1f}" y="{y - 4:.1f}" fill="#3a4555" font-size="11" '
            f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(c.name)}</text>'
        )
    if patient is not None:
        x, y = proj.xy(patient.lat, patient.lon)
        radius_px = patient.radius_km * proj.px_per_km()
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius_px:.1f}" fill="{PATIENT}" '
            f'fill-opacity="0.05" stroke="{PATIENT}" stroke-dasharray="6 4" stroke-width="1.2">'
            f"<title>Rayon de recherche : {patient.radius_km:g} km</title></circle>"
        )
    # Proposals: a line from the patient to each site, then numbered discs (best
    # on top); several proposals at one site fan out around it.
    spots = _spread([proj.xy(p.lat, p.lon) for p in proposals])
    if patient is not None:
        px, py = proj.xy(patient.lat, patient.lon)
        for x, y in {proj.xy(p.lat, p.lon) for p in proposals}:
            body.append(
                f'<line x1="{px:.1f}" y1="{py:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                f'stroke="{PROPOSAL}" stroke-opacity="0.5" stroke-width="1.5"/>'
            )
    for p, (x, y) in sorted(zip(proposals, spots, strict=True), key=lambda item: -item[0].rank):
        sx, sy = proj.xy(p.lat, p.lon)
        body.append(
            f'<g class="proposition" data-rang="{p.rank}">'
            f"<title>{p.rank}. {escape(p.label)}</title>"
            f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{PROPOSAL}"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" fill="{PROPOSAL}" stroke="#fff" '
            f'stroke-width="1.5"/><text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" '
            f'fill="#fff" font-size="11" font-weight="bold">{p.rank}</text></g>'
        )
    if patient is not None:
        x, y = proj.xy(patient.lat, patient.lon)
        body.append(
            f'<g class="patient"><title>{escape(patient.label)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="#fff" stroke="{PATIENT}" '
            f'stroke-width="2.5"/><path d="M{x - 4:.1f} {y:.1f}h8M{x:.1f} {y - 4:.1f}v8" '
            f'stroke="{PATIENT}" stroke-width="2.5"/></g>'
        )
    body.append(_scale_bar(proj))
    body.append(_legend())
    desc = _description(communes, sites, patient, proposals)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="carte-titre carte-desc" '
        f'font-family="system-ui, sans-serif" font-size="12" class="carte">'
        f'<title id="carte-titre">{escape(title)}</title>'
        f'<desc id="carte-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>\n"
    )


def _spread(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Where to draw each marker: alone at its point, or on a small ring around a
    point it shares with others (so that every number stays readable)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(points):
        groups.setdefault((round(x / 6), round(y / 6)), []).append(i)
    out = list(points)
    for members in groups.values():
        if len(members) < 2:
            continue
        ring = 11 + 3 * len(members)
        for k, i in enumerate(members):
            angle = -math.pi / 2 + 2 * math.pi * k / len(members)
            x, y = points[members[0]]
            out[i] = (x + ring * math.cos(angle), y + ring * math.sin(angle))
    return out


def _scale_bar(proj: _Projection) -> str:
    km = 5 if proj.px_per_km() * 5 > 40 else 10
    length = km * proj.px_per_km()
    x, y = PAD, HEIGHT - LEGEND_H - 6
    return (
        f'<g class="echelle"><path d="M{x} {y - 5}v5h{length:.1f}v-5" fill="none" '
        f'stroke="#333" stroke-width="1.5"/>'
        f'<text x="{x + length + 6:.1f}" y="{y}">{km} km</text></g>'
    )


def _legend() -> str:
    y = HEIGHT - LEGEND_H + 16
    items = [
        (
            f'<circle cx="{PAD + 6}" cy="{y}" r="7" fill="#fff" stroke="{PATIENT}" '
            f'stroke-width="2.5"/>',
            "Patient (rayon en pointillés)",
        ),
        (f'<circle cx="{PAD + 236}" cy="{y}" r="8" fill="{PROPOSAL}"/>', "Proposition (rang)"),
        (
            f'<rect x="{PAD + 396}" y="{y - 3}" width="6" height="6" fill="{SITE}"/>',
            "Lieu d’exercice",
        ),
        (f'<circle cx="{PAD + 536}" cy="{y}" r="3" fill="{TERRITORY}"/>', "Commune de la CPTS"),
    ]
    offsets = [0, 230, 390, 530]
    parts = [
        f'<rect x="0" y="{HEIGHT - LEGEND_H}" width="{WIDTH}" height="{LEGEND_H}" fill="#fff"/>'
    ]
    for (shape, text), dx in zip(items, offsets, strict=True):
        parts.append(shape + f'<text x="{PAD + dx + 18}" y="{y + 4}">{escape(text)}</text>')
    return '<g class="legende">' + "".join(parts) + "</g>"


def _description(
    communes: Sequence[MapCommune],
    sites: Sequence[MapSite],
    patient: MapPatient | None,
    proposals: Sequence[MapProposal],
) -> str:
    own = sum(1 for c in communes if c.in_territory)
    parts = [f"{own} communes de la CPTS, {len(sites)} lieux d’exercice."]
    if patient is not None:
        parts.append(f"{patient.label}, rayon de recherche {patient.radius_km:g} km.")
    if proposals:
        listed = "; ".join(f"{p.rank}. {p.label}" for p in proposals)
        parts.append(f"Propositions : {listed}.")
    else:
        parts.append("Aucune proposition.")
    return " ".join(parts)
