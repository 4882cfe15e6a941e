"""The referral unit's board in a real browser (issue 14 items 5-6): headless Chromium over a replayed week.

The board serves a store the replay engine wrote (Mon 23 to Wed 25 Nov 2026) on a loopback port,
with its clock fixed at Wed 25 Nov 10:15. Chromium loads it as a person would; the assertions
are on what they see. Plain HTTP requests check that nobody without the token or the proxy's
header gets anything.
"""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bot.board.server import BoardThread, board_server
from bot.config import Config, load_config
from bot.config.schema import BoardConfig
from bot.ports import IncomingMail
from bot.replay import Replay, load
from bot.wiring import Bot, board_setup, build_embedded
from tests.support.ports import Ports
from tests.support.replays import write_received
from tests.support.requests_mail import StepClock, london, request_email

NOW = london("2026-11-25 10:15:00")  # a Wednesday, a meeting day
TOKEN = "s3cret-board-token-for-tests"
RED = "rgba(198, 40, 40, 1)"


def week() -> list[tuple[datetime, bytes]]:
    def urgent(at: datetime, n: str) -> tuple[datetime, bytes]:
        subject = f"URGENT S47 ENQUIRY {n}"
        return at, request_email(at, subject=subject, n_number=n, message_id=f"<u.{n}@council.example>")

    monday = london("2026-11-23 09:00")
    untrusted = london("2026-11-24 11:00")
    no_phone = london("2026-11-24 12:00")
    return [
        (monday, request_email(monday, message_id="<s@council.example>")),  # SD000001: Wed 25 Nov 10:00
        (
            untrusted,
            request_email(untrusted, sender="Someone <someone@gmail.example>", message_id="<q@gmail.example>"),
        ),
        (
            no_phone,
            request_email(no_phone, n_number="N555555", phone=None, message_id="<p@council.example>"),
        ),  # SD000002: missing details
        urgent(london("2026-11-25 08:30:00"), "N333333"),  # SD000003: call-back due 09:30, overdue
        urgent(london("2026-11-25 09:40:30"), "N222222"),  # SD000004: due 10:40:30, 25:30 left at 10:15
    ]


@dataclass
class Running:
    bot: Bot
    clock: StepClock
    url: str


@pytest.fixture(scope="module")
def week_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The replayed week's store, made once; each test works on its own copy."""
    root = tmp_path_factory.mktemp("week")
    folder = root / "mail"
    folder.mkdir()
    paths = [write_received(folder / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(week())]
    engine = Replay(load_config(None, base=root), workdir=root / "state")
    try:
        for _ in engine.run(load(paths), NOW):
            pass
    finally:
        engine.close()
    return root / "state"


@pytest.fixture
def replayed(week_store: Path, tmp_path: Path) -> Config:
    shutil.copytree(week_store, tmp_path / "state")
    return load_config(None, base=tmp_path)


def serve(config: Config, tmp_path: Path, ports: Ports, board: BoardConfig) -> Iterator[Running]:
    bot = build_embedded(config, tmp_path / "state")
    clock = StepClock(NOW)
    port = ports.take()
    # A store of its own, as the daemon gives it: the test's own units of work run beside the board's.
    server = BoardThread(board_server(board_setup(bot), clock, replace(board, listen=f"127.0.0.1:{port}")))
    server.start(timeout=120)  # an overall bound only: a busy machine may be slow
    try:
        yield Running(bot, clock, f"http://127.0.0.1:{port}")
    finally:
        server.stop(timeout=120)
        bot.close()


@pytest.fixture
def with_token(replayed: Config, tmp_path: Path, ports: Ports, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    # Refreshing rarely: the elements a test holds stay the page's own.
    monkeypatch.setenv("BOARD_TEST_TOKEN", TOKEN)
    yield from serve(replayed, tmp_path, ports, BoardConfig(token_env="BOARD_TEST_TOKEN", refresh_seconds=600))


@pytest.fixture
def refreshing(replayed: Config, tmp_path: Path, ports: Ports, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    monkeypatch.setenv("BOARD_TEST_TOKEN", TOKEN)
    yield from serve(replayed, tmp_path, ports, BoardConfig(token_env="BOARD_TEST_TOKEN", refresh_seconds=1))


@pytest.fixture
def behind_proxy(replayed: Config, tmp_path: Path, ports: Ports) -> Iterator[Running]:
    board = BoardConfig(trusted_proxy="127.0.0.1", proxy_header="X-Remote-User", token_env="")
    yield from serve(replayed, tmp_path, ports, board)


@pytest.fixture
def browser(ports: Ports) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(argument)
    # chromedriver's own port from the allocator too (selenium would pick one that is free only now).
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver", port=ports.take()), options=options)
    try:
        # The token on every request the page makes, as a proxy in front of a wall display would add it.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {TOKEN}"}})
        yield driver
    finally:
        driver.quit()


def row(driver: webdriver.Chrome, case: str, section: str = "urgent") -> object:
    return driver.find_element(By.CSS_SELECTOR, f"#{section} tr[data-case='{case}']")


def test_board_shows_the_countdown_the_overdue_case_in_red_the_quarantine_and_the_charts(
    with_token: Running, browser: webdriver.Chrome
) -> None:
    browser.get(with_token.url + "/")
    wait = WebDriverWait(browser, 120)
    countdown = browser.find_element(By.CSS_SELECTOR, "#urgent tr[data-case='SD000004'] .countdown")
    # Started on the board's clock (10:15: 25:30 left) and counting down each second in the browser.
    wait.until(lambda d: re.fullmatch(r"2[45]:\d\d left", countdown.text))
    first = countdown.text
    wait.until(lambda d: countdown.text != first)
    late = browser.find_element(By.CSS_SELECTOR, "#urgent tr[data-case='SD000003']")
    assert "overdue" in late.get_attribute("class").split()
    assert re.fullmatch(r"4[45]:\d\d overdue", late.find_element(By.CSS_SELECTOR, ".countdown").text)
    assert late.value_of_css_property("color") == RED
    on_time = browser.find_element(By.CSS_SELECTOR, "#urgent tr[data-case='SD000004']")
    assert on_time.value_of_css_property("color") != RED
    assert "N333333" in late.text and "N222222" in on_time.text
    # Today's discussion and what waits for a person: the quarantined message with its reason.
    assert "10:00-10:15" in browser.find_element(By.CSS_SELECTOR, "#today tr[data-case='SD000001']").text
    assert "Friday 27 November 2026" in browser.find_element(By.ID, "next").text
    quarantined = browser.find_element(By.CSS_SELECTOR, "#people tr.quarantined")
    assert "untrusted sender" in quarantined.text
    missing = browser.find_element(By.CSS_SELECTOR, "#people tr[data-case='SD000002']")
    assert "missing details" in missing.text and "contact number" in missing.text
    # Six charts, each loaded and drawn.
    images = browser.find_elements(By.CSS_SELECTOR, "#charts img")
    assert len(images) == 6
    wait.until(
        lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('#charts img')).every(i => i.complete && i.naturalWidth > 0)"
        )
    )
    # No name, phone, address or allegation anywhere on the page.
    page = browser.find_element(By.TAG_NAME, "body").text
    for personal in ("Bond", "Alex Morgan", "01632 960123", "neglect", "someone@gmail.example"):
        assert personal not in page


def test_board_refreshes_without_reloading_the_page(refreshing: Running, browser: webdriver.Chrome) -> None:
    browser.get(refreshing.url + "/")
    browser.execute_script("window.boardMarker = 'the same page';")
    assert not browser.find_elements(By.CSS_SELECTOR, "#urgent tr[data-case='SD000005']")
    # A new urgent request arrives; the page shows it at its next fetch, and is the same page.
    at = NOW + timedelta(minutes=1)
    raw = request_email(at, subject="URGENT S47 ENQUIRY N777777", n_number="N777777", message_id="<u7@council.example>")
    refreshing.bot.service.handle(IncomingMail("u7", raw, at), at)
    refreshing.clock.at = at
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#urgent tr[data-case='SD000005']"))
    assert browser.execute_script("return window.boardMarker;") == "the same page"
    assert "N777777" in browser.find_element(By.CSS_SELECTOR, "#urgent tr[data-case='SD000005']").text


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, {k.lower(): v for k, v in refused.headers.items()}, refused.read()


PATHS = ("/", "/fragment", "/chart/callback_within_60.png", "/static/board.js", "/static/board.css")


def test_no_request_without_the_token_gets_anything(with_token: Running) -> None:
    for path in PATHS:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"X-Remote-User": "alex"}):
            status, _, body = get(with_token.url + path, headers)
            assert status == 401, (path, headers)
            assert b"SD0000" not in body and b"N222222" not in body
    status, headers, body = get(with_token.url + "/fragment", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and b"SD000004" in body
    assert headers["content-security-policy"] == "default-src 'self'; script-src 'self'; img-src 'self' data:"
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    page = get(with_token.url + "/", {"Authorization": f"Bearer {TOKEN}"})[2].decode()
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/board.js" defer>']  # none inline
    assert " style=" not in page and "onclick" not in page.lower()


def test_behind_the_proxy_only_its_header_from_its_address_gets_in(behind_proxy: Running) -> None:
    for path in PATHS:
        status, _, body = get(behind_proxy.url + path)
        assert status == 401 and b"SD0000" not in body, path
        assert get(behind_proxy.url + path, {"X-Remote-User": ""})[0] == 401
        assert get(behind_proxy.url + path, {"Authorization": f"Bearer {TOKEN}"})[0] == 401
    status, _, body = get(behind_proxy.url + "/fragment", {"X-Remote-User": "alex.morgan"})
    assert status == 200 and b"SD000004" in body
    png = get(behind_proxy.url + "/chart/callback_minutes.png", {"X-Remote-User": "alex.morgan"})
    assert png[0] == 200 and png[2].startswith(b"\x89PNG") and png[1]["content-type"] == "image/png"


def test_a_board_open_to_other_machines_without_token_or_proxy_is_refused(replayed: Config, tmp_path: Path) -> None:
    bot = build_embedded(replayed, tmp_path / "state")
    try:
        with pytest.raises(ValueError, match="reachable from other machines"):
            board_server(bot.service.setup, StepClock(NOW), BoardConfig(listen="0.0.0.0:8080", token_env=""))
    finally:
        bot.close()
