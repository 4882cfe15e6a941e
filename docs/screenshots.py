"""Screenshots for the README: docs/board.png (the referral unit's board) and docs/report.png (the
compliance report), taken with headless Chromium over replayed mail. Re-run after changing either:

    python docs/screenshots.py            # needs /usr/bin/chromium and /usr/bin/chromedriver

The board is served over a week of fictional requests with its clock fixed at Wed 25 Nov 2026
10:15; the report covers the bundled examples (`strategy-bot demo`'s week) and the same week.
Nothing here touches a configured bot: everything runs on the embedded default in a temporary folder.
"""

from __future__ import annotations

import socket
import sys
import tempfile
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from bot.board.server import BoardThread, board_server  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.config.schema import BoardConfig  # noqa: E402
from bot.replay import Replay, load  # noqa: E402
from bot.report.render import html  # noqa: E402
from bot.wiring import board_setup, build_embedded  # noqa: E402

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 25, 10, 15, tzinfo=LONDON)


def request(at: datetime, subject: str, n: str, sender: str = "Alex Morgan <alex.morgan@council.example>") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "referrals@police.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = f"<{n}.{at:%H%M%S}@council.example>"
    msg["Authentication-Results"] = "mx.police.example; dmarc=pass header.from=council.example"
    msg.set_content(
        f"N number: {n}\nChildren's surname: Example\nRequesting manager: Alex Morgan\nRole: Team Manager\n"
        "Contact number: 01632 960123\nReason for strategy discussion: concerns raised by the school.\n"
        "Health representative: health.safeguarding@nhs.example\n"
    )
    stamp = at.strftime("%a, %d %b %Y %H:%M:%S %z")
    return f"Received: from mail.council.example by mx.police.example; {stamp}\r\n".encode() + bytes(msg)


def extra_week(folder: Path) -> list[Path]:
    """Two urgent requests on the board's morning (one overdue), one untrusted sender (quarantined)."""
    mails = [
        (datetime(2026, 11, 24, 11, 0, tzinfo=LONDON), "Strategy discussion N900001", "N900001", "X <x@gmail.example>"),
        (datetime(2026, 11, 25, 8, 30, tzinfo=LONDON), "URGENT S47 ENQUIRY N900002", "N900002", None),
        (datetime(2026, 11, 25, 9, 40, 30, tzinfo=LONDON), "URGENT S47 ENQUIRY N900003", "N900003", None),
    ]
    paths = []
    for n, (at, subject, number, sender) in enumerate(mails):
        path = folder / f"extra-{n}.eml"
        path.write_bytes(request(at, subject, number, sender) if sender else request(at, subject, number))
        paths.append(path)
    return paths


def examples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for entry in resources.files("bot.examples").iterdir():
        if entry.name.endswith(".eml"):
            (folder / entry.name).write_bytes(entry.read_bytes())
    return [folder]


def chromium(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def images_loaded(driver: webdriver.Chrome) -> bool:
    script = "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    return bool(driver.execute_script(script))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="strategy-bot-screenshots-") as tmp:
        root = Path(tmp)
        config = load_config(None, base=root)
        mail = examples(root / "mail")
        engine = Replay(config, workdir=root / "state")
        try:
            for _ in engine.run(load([*mail, *extra_week(root)]), NOW):
                pass
        finally:
            engine.close()
        # The board at Wed 25 Nov 10:15.
        bot = build_embedded(config, root / "state")
        port = free_port()

        class Fixed:
            def now(self) -> datetime:
                return NOW

        board = BoardThread(board_server(board_setup(bot), Fixed(), BoardConfig(listen=f"127.0.0.1:{port}")))
        board.start()
        driver = chromium(1400, 1900)
        try:
            driver.get(f"http://127.0.0.1:{port}/")
            WebDriverWait(driver, 30).until(images_loaded)
            driver.save_screenshot(str(ROOT / "docs" / "board.png"))
        finally:
            driver.quit()
            board.stop()
            bot.close()
        # The report over the rest of the week (replayed to Mon 30 Nov), as `strategy-bot report` writes it.
        engine = Replay(config, workdir=root / "week")
        try:
            for _ in engine.run(load([*mail, *extra_week(root)]), NOW + timedelta(days=5)):
                pass
            assert engine.figures is not None
            page = root / "report.html"
            page.write_text(html(engine.figures, LONDON), encoding="utf-8")
        finally:
            engine.close()
        driver = chromium(1100, 3400)
        try:
            driver.get(page.as_uri())
            WebDriverWait(driver, 30).until(images_loaded)
            driver.save_screenshot(str(ROOT / "docs" / "report.png"))
        finally:
            driver.quit()
    print("wrote docs/board.png and docs/report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
