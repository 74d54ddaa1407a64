"""Server-rendered SVG charts and CSV for the console: plain strings, no JavaScript, nothing from a CDN.

Privacy rule of the console: a count from 1 to 4 is shown as "<5" (value labels, tables, CSV), so that
small groups cannot be singled out. Bars keep their true height; only the printed numbers are coarsened.
Every label is escaped with ``html.escape``, so the output is safe inline in HTML and well-formed XML.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from html import escape

NO_DATA = "Keine Daten"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies. The first four follow the
# order of the question statuses (answered, clarify, escalate, emergency): green, light blue, orange, red.
PALETTE = ("#009E73", "#56B4E9", "#E69F00", "#D55E00", "#0072B2", "#CC79A7", "#F0E442", "#000000")
BAR_COLOUR = "#0072B2"
TEXT_COLOUR = "#222222"
AXIS_COLOUR = "#888888"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

_TITLE_Y = 20
_ROTATED_CHARS = 16  # longer labels under turned bars are shortened
_CHAR_W = 6.6  # rough width of one character at 11px, enough to lay labels out without measuring fonts


def small(n: int) -> str:
    """A count as shown in the console: 1 to 4 become "<5"; 0 and 5 upwards are printed as they are."""
    return "<5" if 1 <= n <= 4 else str(n)


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _fit(label: str, max_chars: int) -> str:
    max_chars = max(max_chars, 2)
    return label if len(label) <= max_chars else label[: max_chars - 1] + "…"


def _open(title: str, width: int, height: int) -> list[str]:
    t = escape(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{t}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{escape(FONT)}" font-size="11" fill="{TEXT_COLOUR}">',
        f"<title>{t}</title>",
        f'<text x="0" y="{_TITLE_Y - 4}" font-size="14" font-weight="bold">{t}</text>',
    ]


def _empty(title: str, width: int, height: int) -> str:
    height = min(height, 120)
    t = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-empty" role="img" '
        f'aria-label="{t}: {NO_DATA}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{escape(FONT)}" font-size="11" fill="{TEXT_COLOUR}">'
        f"<title>{t}: {NO_DATA}</title>"
        f'<text x="0" y="{_TITLE_Y - 4}" font-size="14" font-weight="bold">{t}</text>'
        f'<text x="{_f(width / 2)}" y="{_f((height + _TITLE_Y) / 2)}" text-anchor="middle" '
        f'fill="{AXIS_COLOUR}" font-size="13">{NO_DATA}</text></svg>'
    )


def _no_data(values: Iterable[int]) -> bool:
    # All zeros reads better as "Keine Daten" than as a row of empty bars.
    return not any(v > 0 for v in values)


@dataclass(frozen=True)
class _XAxis:
    """Where the category slots go and how much room their labels take."""

    left: float
    slot: float
    bottom: float  # room under the baseline
    rotate: bool  # labels turned by 45° because they would not fit side by side

    @classmethod
    def plan(cls, labels: Sequence[str], width: int, right: float = 8.0) -> _XAxis:
        longest = min(max((len(label) for label in labels), default=0), _ROTATED_CHARS)
        left = 8.0
        slot = (width - left - right) / len(labels)
        if len(labels) <= 12 and longest * _CHAR_W <= slot - 2:
            return cls(left, slot, 22.0, False)
        reach = longest * _CHAR_W * 0.72  # how far a 45° label reaches left and down
        left = max(left, reach - slot / 2 + 4)  # the first label must not leave the picture
        return cls(left, (width - left - right) / len(labels), 16 + reach, True)

    def labels(self, labels: Sequence[str], baseline: float) -> list[str]:
        out: list[str] = []
        for i, label in enumerate(labels):
            x, y = self.left + self.slot * (i + 0.5), baseline + 14
            if self.rotate:
                out.append(f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="end" font-size="10" '
                           f'transform="rotate(-45 {_f(x)} {_f(y)})">{escape(_fit(label, _ROTATED_CHARS))}</text>')
            else:
                out.append(f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="middle">{escape(label)}</text>')
        return out


def bar_chart(title: str, series: list[tuple[str, int]], width: int = 640, height: int = 240) -> str:
    """Vertical bars, one per (label, count), the count (via ``small``) above each bar."""
    if _no_data(v for _, v in series):
        return _empty(title, width, height)
    labels = [label for label, _ in series]
    axis = _XAxis.plan(labels, width)
    left, right, top, slot = axis.left, 8.0, _TITLE_Y + 22.0, axis.slot
    baseline = height - axis.bottom
    plot_h = max(baseline - top, 10.0)
    peak = max(v for _, v in series)
    bar_w = max(slot * 0.7, 1.0)
    parts = _open(title, width, height)
    for i, (label, value) in enumerate(series):
        h = plot_h * max(value, 0) / peak
        x = left + slot * i + (slot - bar_w) / 2
        shown = escape(small(value))
        parts.append(f'<rect x="{_f(x)}" y="{_f(baseline - h)}" width="{_f(bar_w)}" height="{_f(h)}" '
                     f'fill="{BAR_COLOUR}"><title>{escape(label)}: {shown}</title></rect>')
        parts.append(f'<text x="{_f(x + bar_w / 2)}" y="{_f(baseline - h - 4)}" text-anchor="middle" '
                     f'font-size="10">{shown}</text>')
    parts.append(f'<line x1="{_f(left)}" y1="{_f(baseline)}" x2="{_f(width - right)}" y2="{_f(baseline)}" '
                 f'stroke="{AXIS_COLOUR}"/>')
    parts.extend(axis.labels(labels, baseline))
    parts.append("</svg>")
    return "".join(parts)


def _legend(keys: Sequence[str], colours: Sequence[str], width: int, y: float) -> tuple[list[str], float]:
    """Swatches with names, wrapped onto further lines when the row is full; returns the lines' bottom."""
    out: list[str] = []
    x = 0.0
    for key, colour in zip(keys, colours, strict=True):
        item_w = 14 + len(key) * _CHAR_W + 14
        if x > 0 and x + item_w > width:
            x, y = 0.0, y + 16
        out.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{_f(x + 14)}" y="{_f(y)}">{escape(key)}</text>')
        x += item_w
    return out, y + 6


def stacked_bar_chart(title: str, categories: list[str], stacks: dict[str, list[int]], width: int = 640,
                      height: int = 260, *, colours: Mapping[str, str] | None = None) -> str:
    """One bar per category, stacked by the keys of ``stacks`` (in their order) with a legend.

    ``stacks[key][i]`` is the count of ``key`` in ``categories[i]``. Colours follow ``PALETTE`` in the
    order of the keys unless ``colours`` names one for a key.
    """
    for key, values in stacks.items():
        if len(values) != len(categories):
            raise ValueError(f"stack {key!r} has {len(values)} values for {len(categories)} categories")
    totals = [sum(max(values[i], 0) for values in stacks.values()) for i in range(len(categories))]
    if not categories or _no_data(totals):
        return _empty(title, width, height)
    keys = list(stacks)
    fills = [(colours or {}).get(key, PALETTE[i % len(PALETTE)]) for i, key in enumerate(keys)]
    axis = _XAxis.plan(categories, width)
    left, right, slot = axis.left, 8.0, axis.slot
    legend, legend_bottom = _legend(keys, fills, width, _TITLE_Y + 18)
    top = legend_bottom + 18
    baseline = height - axis.bottom
    plot_h = max(baseline - top, 10.0)
    peak = max(totals)
    bar_w = max(slot * 0.7, 1.0)
    parts = _open(title, width, height)
    parts.extend(legend)
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        y = baseline
        for key, fill in zip(keys, fills, strict=True):
            value = max(stacks[key][i], 0)
            if value == 0:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(bar_w)}" height="{_f(h)}" fill="{fill}">'
                         f"<title>{escape(category)} – {escape(key)}: {escape(small(value))}</title></rect>")
        parts.append(f'<text x="{_f(x + bar_w / 2)}" y="{_f(y - 4)}" text-anchor="middle" font-size="10">'
                     f"{escape(small(totals[i]))}</text>")
    parts.append(f'<line x1="{_f(left)}" y1="{_f(baseline)}" x2="{_f(width - right)}" y2="{_f(baseline)}" '
                 f'stroke="{AXIS_COLOUR}"/>')
    parts.extend(axis.labels(categories, baseline))
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(title: str, series: list[tuple[str, int]], width: int = 640) -> str:
    """One row per (label, count): the label on the left (for long names), the count after the bar."""
    row_h, bar_h, top = 22.0, 14.0, _TITLE_Y + 14.0
    height = int(top + row_h * max(len(series), 1) + 8)
    if _no_data(v for _, v in series):
        return _empty(title, width, height)
    value_w = 44.0
    label_w = min(max(len(label) for label, _ in series) * _CHAR_W + 10, width * 0.4)
    plot_w = max(width - label_w - value_w, 10.0)
    peak = max(v for _, v in series)
    parts = _open(title, width, height)
    for i, (label, value) in enumerate(series):
        y = top + row_h * i
        w = plot_w * max(value, 0) / peak
        shown = escape(small(value))
        fitted = _fit(label, int((label_w - 10) / _CHAR_W))
        # The full label as a tooltip when it had to be shortened.
        text = (f'<text x="{_f(label_w - 8)}" y="{_f(y + bar_h - 3)}" text-anchor="end">'
                f"{escape(fitted)}</text>")
        parts.append(text if fitted == label else f"<g><title>{escape(label)}</title>{text}</g>")
        parts.append(f'<rect x="{_f(label_w)}" y="{_f(y)}" width="{_f(w)}" height="{_f(bar_h)}" '
                     f'fill="{BAR_COLOUR}"><title>{escape(label)}: {shown}</title></rect>')
        parts.append(f'<text x="{_f(label_w + w + 4)}" y="{_f(y + bar_h - 3)}">{shown}</text>')
    parts.append(f'<line x1="{_f(label_w)}" y1="{_f(top - 4)}" x2="{_f(label_w)}" '
                 f'y2="{_f(top + row_h * len(series) - 4)}" stroke="{AXIS_COLOUR}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: object, is_count: bool) -> object:
    if is_count and isinstance(value, int) and not isinstance(value, bool):
        return small(value)
    if value is None:
        return ""
    # Spreadsheets run cells starting with these as formulas (CSV injection); labels come from content.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(header: list[str], rows: list[list[object]], count_columns: AbstractSet[int] = frozenset()) -> str:
    """CSV text (RFC 4180, CRLF line ends); integers in ``count_columns`` (0-based) are written via ``small``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value, i in count_columns) for i, value in enumerate(row)])
    return buffer.getvalue()
