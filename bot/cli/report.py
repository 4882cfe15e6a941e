"""`strategy-bot report`: the compliance report over the store (issue 14 item 2)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from bot.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, add_config, config_from


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def cmd_report(args: argparse.Namespace) -> int:
    from bot.cli.store_views import _refused
    from bot.report.render import render
    from bot.service.compliance import compliance_figures
    from bot.wiring import build

    if args.to < args.start:
        print(f"strategy-bot report: --to {args.to} is before --from {args.start}", file=sys.stderr)
        return EXIT_USAGE
    config = config_from(args.config)
    if _refused(args, config):
        return EXIT_ERROR
    bot = build(config, with_mail=False)
    try:
        now = datetime.now(config.bot.timezone)
        made = compliance_figures(bot.store, bot.service.setup.policy, args.start, args.to, now)
    finally:
        bot.close()
    text = render(made, args.format, config.bot.timezone)
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return EXIT_OK


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report",
        help="the timescales met and missed per week (compliance report) as HTML, CSV or JSON",
    )
    report.add_argument("--from", dest="start", type=_day, required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", type=_day, required=True, help="last day, YYYY-MM-DD (included)")
    report.add_argument("--format", choices=("html", "csv", "json"), default="html")
    report.add_argument("--out", help="write to this file instead of standard output")
    add_config(report)
    report.set_defaults(func=cmd_report)
