"""Benchmark: what rewriting the compliance record costs each unit of work (issue 14).

    python bench/compliance_record.py [--requests 60]

Standard requests handled one after another by the service on the embedded default (SQLite in a
temporary folder), each booked; the time spent in ``Unit.record_compliance`` (reading the case's
booking, history and timers and rewriting its row) against the whole handling. Not a test: no
thresholds here.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import load_config  # noqa: E402
from bot.ports import IncomingMail  # noqa: E402
from bot.service.unit import Unit  # noqa: E402
from bot.wiring import build_embedded  # noqa: E402
from tests.support.requests_mail import request_email  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    n = parser.parse_args().requests
    logging.disable(logging.WARNING)
    spent, units = 0.0, 0
    original = Unit.record_compliance

    def timed(self: Unit) -> None:
        nonlocal spent, units
        started = time.perf_counter()
        original(self)
        spent += time.perf_counter() - started
        units += 1

    Unit.record_compliance = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as folder:
        bot = build_embedded(load_config(None, base=Path(folder)), Path(folder))
        start = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/London"))
        began = time.perf_counter()
        for i in range(n):
            at = start + timedelta(minutes=i)
            raw = request_email(at, n_number=f"N{100000 + i}", message_id=f"<bench{i}@council.example>")
            bot.service.handle(IncomingMail(str(i), raw, at), at)
        total = time.perf_counter() - began
        bot.close()
    print(
        f"{n} requests: {total / n * 1000:.1f} ms each in all; the compliance record {spent / units * 1000:.2f} ms "
        f"per unit of work ({units}), {100 * spent / total:.1f}% of the time"
    )


if __name__ == "__main__":
    main()
