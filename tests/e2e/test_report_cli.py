"""`strategy-bot report` over a store the service has written (issue 14 item 2)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from bot.ports import IncomingMail
from bot.wiring import build
from tests.support.requests_mail import london, request_email

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """A store with two cases of early November 2026 (long past): a standard one booked in time whose
    minutes never came, and an urgent one police never rang back."""
    path = tmp_path / "bot.toml"
    path.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    bot = build(load_config(path))
    try:
        standard_at, urgent_at = london("2026-11-02 09:00"), london("2026-11-02 14:00")
        standard = request_email(standard_at, message_id="<s@council.example>", n_number="N111111")
        urgent = request_email(
            urgent_at, subject="URGENT S47 ENQUIRY N222222", n_number="N222222", message_id="<u@council.example>"
        )
        bot.service.handle(IncomingMail("s", standard, standard_at), standard_at)
        bot.service.handle(IncomingMail("u", urgent, urgent_at), urgent_at)
    finally:
        bot.close()
    return path


def report(capsys: pytest.CaptureFixture[str], config_path: Path, fmt: str) -> str:
    code = main(["report", "--from", "2026-11-02", "--to", "2026-11-08", "--format", fmt, "--config", str(config_path)])
    assert code == 0
    return capsys.readouterr().out


def test_json_report_counts_the_timescales_met_and_missed(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = json.loads(report(capsys, config_path, "json"))
    assert (figures["from"], figures["to"]) == ("2026-11-02", "2026-11-08")
    t = figures["timescales"]
    assert (t["discussion_within_timescale"]["due"], t["discussion_within_timescale"]["met"]) == (1, 1)
    assert t["callback_within_60"]["missed_cases"] == [{"case": "SD000002", "n_numbers": ["N222222"]}]
    assert t["minutes_on_time"]["missed_cases"] == [{"case": "SD000001", "n_numbers": ["N111111"]}]
    assert [w["week"] for w in t["minutes_on_time"]["weeks"]] == ["2026-11-02"]


def test_html_report_stands_alone_with_png_charts_and_no_script(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = report(capsys, config_path, "html")
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 6  # one per timescale, and the call-back minutes
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "SD000002" in page and "N222222" in page
    assert "Bond" not in page and "Alex Morgan" not in page and "neglect" not in page


def test_csv_report_and_out_file(config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "compliance.csv"
    args = ["report", "--from", "2026-11-02", "--to", "2026-11-08", "--format", "csv", "--out", str(out)]
    assert main([*args, "--config", str(config_path)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    whole = {r["timescale"]: r for r in rows if r["week"] == "all"}
    assert (whole["callback_within_60"]["due"], whole["callback_within_60"]["missed"]) == ("1", "1")
    assert whole["callback_within_60"]["missed_cases"] == "SD000002 N222222"


def test_report_refuses_a_period_ending_before_it_starts(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--from", "2026-11-08", "--to", "2026-11-02", "--config", str(config_path)])
    assert code == 2 and "before --from" in capsys.readouterr().err
