"""Charts as PNG, drawn with matplotlib's Agg backend through its object API (no pyplot, so no
global figure state is shared between renders), with the PNG metadata that carries the
matplotlib version removed so the same chart gives the same bytes."""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from server.domain.drafting.sections import Chart

WIDTH_IN, HEIGHT_IN, DPI = 6.5, 3.4, 150
_COLOURS = ("#1f5f8b", "#e07b39", "#3c9d5d", "#8c6bb1", "#c0392b")


def chart_png(chart: Chart) -> bytes:
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = list(range(len(chart.categories)))
    count = max(1, len(chart.series))
    width = 0.8 if chart.stacked else 0.8 / count
    bottoms = [0.0] * len(positions)
    for i, series in enumerate(chart.series):
        values = [v if v is not None else 0.0 for v in series.values]
        if chart.stacked:
            xs = positions
            ax.bar(
                xs,
                values,
                width,
                bottom=bottoms,
                label=series.name,
                color=_COLOURS[i % len(_COLOURS)],
            )
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        else:
            xs = [p - 0.4 + width * (i + 0.5) for p in positions]
            ax.bar(xs, values, width, label=series.name, color=_COLOURS[i % len(_COLOURS)])
    if chart.reference_line is not None:
        ax.axhline(
            chart.reference_line,
            color="#444444",
            linestyle="--",
            linewidth=1,
            label=chart.reference_label or None,
        )
    ax.set_xticks(positions)
    ax.set_xticklabels([textwrap.fill(c, 16) for c in chart.categories], fontsize=7)
    ax.set_ylabel(chart.unit, fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(chart.title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    if len(chart.series) > 1 or chart.reference_label:
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
