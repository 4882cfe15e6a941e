"""The report's charts, drawn with matplotlib's Agg backend as PNG bytes (no display, no script).

One chart per timescale (met and missed per week) and one of the call-back minutes. They go
into the HTML report as data URIs, into the weekly email as inline CID images, and onto the board.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402 - the backend is chosen first
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.domain.compliance_figures import Figures, TimescaleFigures  # noqa: E402

MET = "#2e7d32"
MISSED = "#c62828"


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()


def week_chart(timescale: TimescaleFigures) -> bytes:
    """Met and missed per week, stacked bars, one bar per week of the period."""
    figure = Figure(figsize=(6.4, 2.6))
    axes = figure.subplots()
    labels = [f"{w.monday:%d %b}" for w in timescale.weeks]
    met = [w.met for w in timescale.weeks]
    missed = [w.due - w.met for w in timescale.weeks]
    axes.bar(labels, met, width=0.6, color=MET, label="met")
    axes.bar(labels, missed, width=0.6, bottom=met, color=MISSED, label="missed")
    axes.set_xlim(-1, max(len(labels), 3))
    axes.set_ylim(0, max([1, *(w.due for w in timescale.weeks)]) * 1.15)
    axes.set_title(timescale.title, fontsize=10)
    axes.set_xlabel("week beginning", fontsize=8)
    axes.set_ylabel("cases due", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=7, loc="upper left")
    return _png(figure)


def callback_chart(figures: Figures, limit: int = 60) -> bytes:
    """Minutes from the urgent request to the police call-back, as a distribution; the limit marked."""
    figure = Figure(figsize=(6.4, 2.6))
    axes = figure.subplots()
    minutes = list(figures.callback_minutes)
    top = max([limit * 2, *minutes]) if minutes else limit * 2
    bins = list(range(0, top + 15, 15))
    in_time = [m for m in minutes if m <= limit]
    late = [m for m in minutes if m > limit]
    axes.hist([in_time, late], bins=bins, color=[MET, MISSED], edgecolor="white", stacked=True)
    axes.set_ylim(bottom=0)
    axes.axvline(limit, color=MISSED, linestyle="--", label=f"{limit} minutes")
    axes.set_title("Police call-back: minutes from the request", fontsize=10)
    axes.set_xlabel("minutes", fontsize=8)
    axes.set_ylabel("urgent cases", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=7)
    return _png(figure)


def all_charts(figures: Figures) -> dict[str, bytes]:
    """Every chart of the report by name: each timescale's, and ``callback_minutes``."""
    charts = {name: week_chart(t) for name, t in figures.timescales.items()}
    charts["callback_minutes"] = callback_chart(figures)
    return charts
