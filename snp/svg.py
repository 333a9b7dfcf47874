"""Small, dependency-free SVG plots for the web console (no network, no JS).

Text is escaped; sizes are fixed so a page can lay plots out predictably.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 640, 360
MARGIN = 48
BAR = "#3b6ea5"
ALERT = "#c0392b"
MUTED = "#c8ced6"


def _frame(title: str, body: list[str], width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">'
        f"{escape(title)}</text>" + "".join(body) + "</svg>\n"
    )


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> str:
    """Horizontal bars, one per label (long French labels stay readable)."""
    if len(labels) != len(values):
        raise ValueError("one value per label")
    rows = max(len(labels), 1)
    height = max(HEIGHT // 2, 40 + rows * 22)
    top = max(values, default=0) or 1
    left = 220
    span = WIDTH - left - MARGIN
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 32 + i * 22
        w = span * value / top
        body.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label[:40])}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="16" fill="{BAR}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 13}">{value:g}{escape(unit)}</text>'
        )
    return _frame(title, body, height=height)


def histogram(title: str, values: Sequence[float], bins: int = 20, unit: str = "") -> str:
    """Counts of ``values`` in equal-width bins between their min and max."""
    body = []
    if values:
        low, high = min(values), max(values)
        width = (high - low) / bins or 1.0
        counts = [0] * bins
        for v in values:
            counts[min(int((v - low) / width), bins - 1)] += 1
        top = max(counts)
        plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
        bar_w = plot_w / bins
        for i, count in enumerate(counts):
            h = plot_h * count / top
            x = MARGIN + i * bar_w
            body.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - MARGIN - h:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{h:.1f}" fill="{BAR}"><title>{count}</title></rect>'
            )
        body.append(
            f'<text x="{MARGIN}" y="{HEIGHT - MARGIN + 16}">{low:g}{escape(unit)}</text>'
            f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - MARGIN + 16}" text-anchor="end">'
            f"{high:g}{escape(unit)}</text>"
            f'<text x="{MARGIN - 4}" y="{MARGIN}" text-anchor="end">{top}</text>'
        )
    return _frame(title, body)


def commune_map(
    title: str,
    points: Sequence[tuple[str, float, float, float]],
    background: Sequence[tuple[float, float]] = (),
    unit: str = "",
) -> str:
    """Communes as dots (``background``: lat, lon) and circles sized by a value
    (``points``: label, lat, lon, value), in a local equirectangular projection."""
    every = [(lat, lon) for _, lat, lon, _ in points] + list(background)
    body: list[str] = []
    if every:
        lats = [p[0] for p in every]
        lons = [p[1] for p in every]
        mid = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = max((max(lons) - min(lons)) * mid, 1e-6)
        span_y = max(max(lats) - min(lats), 1e-6)
        scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN - 20) / span_y)

        def xy(lat: float, lon: float) -> tuple[float, float]:
            return (
                MARGIN + (lon - min(lons)) * mid * scale,
                HEIGHT - MARGIN - (lat - min(lats)) * scale,
            )

        for lat, lon in background:
            x, y = xy(lat, lon)
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.5" fill="{MUTED}"/>')
        top = max((v for *_, v in points), default=0) or 1
        for label, lat, lon, value in sorted(points, key=lambda p: -p[3]):
            x, y = xy(lat, lon)
            r = 3 + 17 * math.sqrt(value / top)
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{ALERT}" '
                f'fill-opacity="0.55" stroke="{ALERT}"><title>{escape(label)}: {value:g}'
                f"{escape(unit)}</title></circle>"
            )
        for label, lat, lon, value in sorted(points, key=lambda p: -p[3])[:8]:
            x, y = xy(lat, lon)
            body.append(f'<text x="{x + 6:.1f}" y="{y - 6:.1f}">{escape(label)} ({value:g})</text>')
    return _frame(title, body)
