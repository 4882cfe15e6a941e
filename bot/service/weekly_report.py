"""The weekly compliance report by email (issue 14 item 3): an agenda-like timer with no case.

On the configured day and time (Monday 08:30 by default) the MASH service manager and the
referral unit get last week's timescales (Monday to Sunday): the figures in the text, the
charts inline as CID images (multipart/related: Outlook shows no data: URI in mail), and the
figures per week as a CSV attachment. The next report's timer is set in the same unit of work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.config.schema import ReportConfig
from bot.domain.compliance_figures import TITLES, figures
from bot.domain.deadlines import at_local
from bot.domain.decisions import Role
from bot.domain.model import Attachment
from bot.domain.purposes import Purpose
from bot.ports import StoreTransaction
from bot.service.compliance import backfill_compliance
from bot.service.setup import Setup
from bot.service.unit import Unit


def report_key(due: datetime, setup: Setup) -> str:
    """What names a week's report: its timer's key and its email's Message-ID are made from it."""
    return f"report:{due.astimezone(setup.tz).date().isoformat()}"


def next_report(after: datetime, cfg: ReportConfig, setup: Setup) -> datetime:
    """The first configured day and time strictly after ``after`` (London time)."""
    day = after.astimezone(setup.tz).date()
    while True:
        if day.weekday() == cfg.weekday:
            moment = at_local(day, cfg.at, setup.tz)
            if moment > after:
                return moment
        day += timedelta(days=1)


def ensure_report(setup: Setup, tx: StoreTransaction, after: datetime) -> None:
    """Keep one weekly report timer pending (none when ``[report] enabled = false``)."""
    cfg = setup.config.report
    if cfg.enabled:
        due = next_report(after, cfg, setup)
        tx.add_timer(report_key(due, setup), None, Purpose.COMPLIANCE_REPORT, due)


def recipients(setup: Setup) -> list[str]:
    roles = {str(role): role for role in Role}
    return [setup.address_of(roles[who]) if who in roles else who for who in setup.config.report.recipients]


def weekly_report(unit: Unit, due: datetime) -> None:
    """Last week's figures to the configured people; then the next week's timer."""
    from bot.report.charts import all_charts  # matplotlib, loaded only when a report is drawn
    from bot.report.render import csv_text, last_week

    setup = unit.setup
    start, end = last_week(due, setup.tz)
    backfill_compliance(unit.tx, setup.policy, unit.now)
    made = figures(unit.tx.compliance_records(), start, end, unit.now, setup.days, setup.tz)
    domain = setup.config.bot.message_id_domain
    charts = []
    files = []
    for name, png in all_charts(made).items():
        cid = f"{name}.{start.isoformat()}@{domain}"
        alt = TITLES.get(name, "Police call-back: minutes from the request")
        charts.append({"cid": cid, "alt": alt})
        files.append(Attachment(f"{name}.png", "image/png", png, content_id=cid))
    csv_name = f"compliance-{start.isoformat()}.csv"
    files.append(Attachment(csv_name, "text/csv", csv_text(made).encode("utf-8")))
    timescales = list(made.timescales.values())
    context = {
        "start": start,
        "end": end,
        "timescales": timescales,
        "due": sum(t.due for t in timescales),
        "met": sum(t.met for t in timescales),
        "charts": charts,
        "csv_name": csv_name,
    }
    key = report_key(due, setup)
    unit.send(Purpose.COMPLIANCE_REPORT, None, recipients(setup), (), context, tuple(files), key=key)
    ensure_report(setup, unit.tx, due)
