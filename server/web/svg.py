"""Charts drawn on the server as inline SVG: no chart library to download, nothing for a slow
phone to run, and the numbers are printed on the bars so colour is never the only signal.

Every chart is an `<svg role="img">` with a `<title>` and a `<desc>` that says in words what it
shows, so a screen reader gets the same facts. Only presentation attributes are used (no
`style`), which the strict Content-Security-Policy allows.

Plain functions from numbers to markup; no Flask import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

# Colours with at least 3:1 contrast against white (WCAG non-text contrast), told apart by
# lightness as well as hue.
PALETTE = ("#14507a", "#b8560f", "#2e7d4f", "#7b3f9e", "#5b6570")
INK = "#1b1f23"
MUTED = "#4a545e"
GRID = "#d8dee4"
REFERENCE = "#a3161b"
FONT = 'font-family="system-ui, sans-serif"'
# A white outline under a label keeps it readable where it crosses a line or a bar.
HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"'

_ids = count(1)


def _id(prefix: str) -> str:
    # Unique within a page: several charts may share one page.
    return f"{prefix}{next(_ids)}"


def number(value: float | None, places: int = 1) -> str:
    """A number as a reader wants it: no trailing .0, thousands separated."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{places}f}"


def nice_ticks(top: float, steps: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top` (1, 2 or 5 times a power of ten apart)."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / steps
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = max(math.ceil(top / step), 1)
    while n * step < top:  # float division may land a hair short
        n += 1
    return [i * step for i in range(n + 1)]


def _text_width(text: str, size: float = 12) -> float:
    # A generous average for a sans-serif face: a label cut short is worse than white space.
    return len(text) * size * 0.64


def _open(width: float, height: float, title: str, desc: str, css: str) -> tuple[str, str]:
    tid, did = _id("t"), _id("d")
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css}" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-labelledby="{tid} {did}" {FONT}>'
        f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def column_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 720,
    height: int = 260,
) -> Markup:
    """Vertical bars (e.g. submissions per week) with the value above each bar, a labelled
    y axis with round ticks and the category under each bar (thinned when they would
    overlap)."""
    left, right, top, bottom = 56, 12, 24, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([*values, 0])
    ticks = nice_ticks(peak or 1)
    scale = plot_h / ticks[-1]
    n = max(len(values), 1)
    slot = plot_w / n
    bar = max(min(slot * 0.7, 48), 1)
    every = max(1, math.ceil(_text_width("00 Mmm", 11) / slot))
    pairs = ", ".join(f"{label}: {number(v)}" for label, v in zip(labels, values, strict=True))
    head, tail = _open(width, height, title, f"{y_label} by {x_label}. {pairs}.", "chart")
    parts = [head]
    for tick in ticks:
        y = top + plot_h - tick * scale
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="{MUTED}">{number(tick)}</text>'
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + (slot - bar) / 2
        h = value * scale
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {number(value)}</title></rect>'
        )
        if value and bar >= 10:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="11" fill="{INK}">{number(value)}</text>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'font-size="11" fill="{INK}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{INK}"/>'
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{escape(x_label)}</text>'
        f'<text x="14" y="{top + plot_h / 2:.0f}" text-anchor="middle" font-size="12" '
        f'fill="{INK}" transform="rotate(-90 14 {top + plot_h / 2:.0f})">{escape(y_label)}</text>'
    )
    return Markup("".join(parts) + tail)


def value_bar(
    value: float | None, standard: float | None, direction: str, unit: str = ""
) -> Markup:
    """A small bar of a value with a mark at its standard: the bar is green when the standard
    is met and red when it is not (the printed numbers beside it say the same in words)."""
    width, height = 140, 18
    if value is None or standard is None:
        return Markup("")  # without a standard a lone bar says nothing
    top = max(value, standard) * 1.1 or 1
    met = value <= standard if direction == "lower_is_better" else value >= standard
    fill = "#2e7d4f" if met else REFERENCE
    desc = f"Value {number(value)}{unit} against a standard of {number(standard)}{unit}"
    head, tail = _open(width, height, desc, "met" if met else "below the standard", "vbar")
    parts = [
        head,
        f'<rect x="0" y="3" width="{width}" height="12" fill="#eef1f4"/>',
        f'<rect x="0" y="3" width="{value / top * width:.1f}" height="12" fill="{fill}"/>',
    ]
    x = standard / top * width
    parts.append(
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" stroke="{INK}" stroke-width="2"/>'
    )
    return Markup("".join(parts) + tail)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    stacked: bool = False,
    reference: float | None = None,
    reference_label: str = "",
    width: int = 720,
) -> Markup:
    """Horizontal bars, one row per category (long sub-county names stay readable on a
    phone), grouped or stacked by series, each value printed at its bar's end, an optional
    reference line (a national standard) labelled on the chart. With several series the key
    sits above the bars, in the order the bars are drawn."""
    label_w = min(max([_text_width(c) for c in categories] + [40]) + 12, width * 0.45)
    value_w = 60
    left, right = label_w, value_w
    key_h = 22 if len(series) > 1 else 0
    top = 8 + key_h + (16 if reference is not None else 0)
    per_row = 1 if stacked else max(len(series), 1)
    bar_h = 14
    row_h = per_row * bar_h + 10
    plot_w = width - left - right
    height = top + row_h * max(len(categories), 1) + 28
    totals = [
        sum(v or 0 for v in vals) if stacked else max([v or 0 for v in vals] + [0])
        for vals in zip(*(s.values for s in series), strict=True)
    ] or [0]
    ticks = nice_ticks(max([*totals, reference or 0]) or 1)
    scale = plot_w / ticks[-1]
    suffix = "%" if unit == "%" or unit.startswith("percent") else ""
    words = []
    for i, category in enumerate(categories):
        vals = "; ".join(f"{s.name} {number(s.values[i])}{suffix}" for s in series)
        words.append(f"{category}: {vals}")
    desc = ". ".join(words) + (
        f". {reference_label or 'Reference'}: {number(reference)}" if reference is not None else ""
    )
    head, tail = _open(width, height, title, desc, "chart")
    parts = [head]
    if key_h:
        x = left
        for k, s in enumerate(series):
            parts.append(
                f'<rect x="{x:.0f}" y="6" width="12" height="12" fill="{PALETTE[k % 5]}"/>'
                f'<text x="{x + 16:.0f}" y="16" font-size="12" fill="{INK}">'
                f"{escape(s.name)}</text>"
            )
            x += 16 + _text_width(s.name) + 18
    plot_bottom = top + row_h * len(categories)
    for tick in ticks:
        x = left + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{plot_bottom}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{plot_bottom + 14}" text-anchor="middle" font-size="11" '
            f'fill="{MUTED}">{number(tick)}</text>'
        )
    for i, category in enumerate(categories):
        y0 = top + i * row_h + 5
        parts.append(
            f'<text x="{left - 6:.0f}" y="{y0 + per_row * bar_h / 2 + 4:.1f}" '
            f'text-anchor="end" font-size="12" fill="{INK}">{escape(category)}</text>'
        )
        offset = 0.0
        for k, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            w = max(value, 0) * scale
            y = y0 if stacked else y0 + k * bar_h
            x = left + offset
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[k % 5]}"><title>{escape(category)}, {escape(s.name)}: '
                f"{number(value)}{suffix}</title></rect>"
            )
            if stacked:
                if w > _text_width(number(value), 10) + 4:
                    parts.append(
                        f'<text x="{x + w / 2:.1f}" y="{y + bar_h - 4:.1f}" '
                        f'text-anchor="middle" font-size="10" fill="#fff">{number(value)}</text>'
                    )
                offset += w
            else:
                parts.append(
                    f'<text x="{x + w + 4:.1f}" y="{y + bar_h - 3:.1f}" font-size="11" '
                    f'fill="{INK}" {HALO}>{number(value)}{suffix}</text>'
                )
        if stacked:
            parts.append(
                f'<text x="{left + offset + 4:.1f}" y="{y0 + bar_h - 3:.1f}" font-size="11" '
                f'fill="{INK}">{number(totals[i])}{suffix}</text>'
            )
    if reference is not None:
        x = left + reference * scale
        label = f"{reference_label or 'Standard'}: {number(reference)}{suffix}"
        anchor = "end" if x > left + plot_w / 2 else "start"
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{plot_bottom}" '
            f'stroke="{REFERENCE}" stroke-width="2" stroke-dasharray="5 3"/>'
            f'<text x="{x + (-4 if anchor == "end" else 4):.1f}" y="{top - 6}" '
            f'text-anchor="{anchor}" font-size="11" fill="{REFERENCE}">{escape(label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{plot_bottom}" stroke="{INK}"/>'
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 2}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{escape(unit)}</text>'
    )
    return Markup("".join(parts) + tail)


def chart_block(block: dict[str, object]) -> Markup:
    """A drafted section's chart (server/plans/content.py block JSON) as SVG."""
    series = [
        Series(str(s["name"]), [None if v is None else float(v) for v in s["values"]])
        for s in block.get("series") or []  # type: ignore[union-attr]
    ]
    ref = block.get("reference_line")
    return bar_chart(
        str(block.get("title") or ""),
        [str(c) for c in block.get("categories") or []],  # type: ignore[union-attr]
        series,
        unit=str(block.get("unit") or ""),
        stacked=bool(block.get("stacked")),
        reference=None if ref is None else float(ref),  # type: ignore[arg-type]
        reference_label=str(block.get("reference_label") or ""),
    )
