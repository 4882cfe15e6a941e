"""The compliance report as HTML (charts embedded), CSV and JSON (issue 14 item 2).

The HTML stands alone: its charts are PNG data URIs (or, for the email, ``cid:`` references
to inline parts), and it has no script, so it renders in a browser and in Outlook alike.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.domain.compliance_figures import Figures, Measured, TimescaleFigures, as_json
from bot.report.charts import all_charts


def _delay(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    shown = f"{value:g}"
    return f"{shown} {unit if value != 1 else unit.rstrip('s')}"


def _percent(t: TimescaleFigures) -> str:
    return f"{100 * t.met / t.due:.0f}%" if t.due else "-"


def _environment(tz: ZoneInfo) -> Environment:
    env = Environment(loader=PackageLoader("bot.report", "templates"), autoescape=select_autoescape(["j2", "html"]))
    env.filters["day"] = lambda d: f"{d:%a %d %b %Y}"
    env.filters["moment"] = lambda m: f"{m.astimezone(tz):%a %d %b %Y %H:%M}"
    env.globals["delay"] = _delay
    env.globals["percent"] = _percent
    return env


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def html(figures: Figures, tz: ZoneInfo, images: dict[str, str] | None = None) -> str:
    """The report page; ``images`` maps each chart's name to its ``src`` (data URIs of new charts when None)."""
    if images is None:
        images = {name: data_uri(png) for name, png in all_charts(figures).items()}
    return _environment(tz).get_template("report.html.j2").render(f=figures, images=images)


CSV_HEADER = (
    "timescale",
    "week",
    "due",
    "met",
    "missed",
    "median_delay",
    "worst_delay",
    "delay_unit",
    "missed_cases",
)


def _cases(measured: tuple[Measured, ...]) -> str:
    return "; ".join(f"{m.case_id} {' '.join(m.n_numbers)}".strip() for m in measured)


def csv_text(figures: Figures) -> str:
    """One row per timescale and week, then the timescale's whole period (week ``all``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for name, t in figures.timescales.items():
        for w in t.weeks:
            writer.writerow((name, w.monday.isoformat(), w.due, w.met, w.due - w.met, "", "", t.unit, _cases(w.missed)))
        writer.writerow(
            (
                name,
                "all",
                t.due,
                t.met,
                t.due - t.met,
                "" if t.median_delay is None else f"{t.median_delay:g}",
                "" if t.worst_delay is None else f"{t.worst_delay:g}",
                t.unit,
                _cases(t.missed),
            )
        )
    return out.getvalue()


def json_text(figures: Figures) -> str:
    return json.dumps(as_json(figures), indent=2)


def render(figures: Figures, fmt: str, tz: ZoneInfo) -> str:
    if fmt == "html":
        return html(figures, tz)
    if fmt == "csv":
        return csv_text(figures)
    return json_text(figures)


def week_of(day: date) -> tuple[date, date]:
    """The Monday-to-Sunday week ``day`` is in."""
    monday = date.fromordinal(day.toordinal() - day.weekday())
    return monday, date.fromordinal(monday.toordinal() + 6)


def last_week(now: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """The week before the one ``now`` is in (the weekly email's period)."""
    monday, _ = week_of(now.astimezone(tz).date())
    return week_of(date.fromordinal(monday.toordinal() - 7))
