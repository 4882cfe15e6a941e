"""The EWS adapters (exchangelib) against an in-memory Exchange server: the port contracts and the SOAP we send."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import responses
from exchangelib.protocol import CachingProtocol
from fake_ews import CALENDAR_MAILBOX, ENDPOINT, REFERRALS, FakeEws
from port_contracts import (
    CalendarContract,
    InboxContract,
    InboxUnderTest,
    SenderContract,
    SenderUnderTest,
)

from bot.adapters.ews import EwsCalendar, EwsInbox, EwsSender
from bot.config import CalendarConfig, EwsConfig, InboxConfig
from bot.ports import Folder

PASSWORD_ENV = "STRATEGY_BOT_TEST_EWS_PASSWORD"


def ews_config(**changes: object) -> EwsConfig:
    cfg = EwsConfig(
        endpoint=ENDPOINT,
        username="POLICE\\svc-strategy-bot",
        password_env=PASSWORD_ENV,
        auth_type="NTLM",
        mailbox=REFERRALS,
        calendar_mailbox=CALENDAR_MAILBOX,
        autodiscover=False,
        ca_file=None,
        timeout_seconds=5,
        max_wait_seconds=120,
    )
    return replace(cfg, **changes)  # type: ignore[arg-type]


def inbox_config(tmp_path: Path, max_message_bytes: int = 4000) -> InboxConfig:
    return InboxConfig(
        kind="ews",
        path=tmp_path,
        poll_seconds=1.0,
        processed_folder="Processed",
        quarantine_folder="Quarantine",
        triage_folder="Triage",
        max_message_bytes=max_message_bytes,
        max_headers=500,
        max_mime_parts=100,
        max_mime_depth=10,
    )


CALENDAR = CalendarConfig(kind="ews", name="Strategy Meeting", ics_path=None)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEws]:
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    server = FakeEws()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        server.install(mock)
        yield server
    CachingProtocol.clear_cache()  # exchangelib keeps one Protocol per endpoint and credentials


@pytest.fixture
def calendar(fake: FakeEws, sleeps: Sleeps) -> EwsCalendar:
    return EwsCalendar(ews_config(), CALENDAR, sleep=sleeps)


# -- the contracts ------------------------------------------------------------------------------


class TestEwsCalendarContract(CalendarContract):
    pass


class TestEwsInboxContract(InboxContract):
    @pytest.fixture
    def inbox_under_test(self, fake: FakeEws, sleeps: Sleeps, tmp_path: Path) -> InboxUnderTest:
        cfg = inbox_config(tmp_path)
        inbox = EwsInbox(ews_config(), cfg, None, sleep=sleeps)
        names = {Folder.PROCESSED: "Processed", Folder.QUARANTINE: "Quarantine", Folder.TRIAGE: "Triage"}

        def in_folder(folder: Folder) -> list[str]:
            return [i.message_id for i in fake.messages_in(REFERRALS, names[folder])]

        return InboxUnderTest(inbox, lambda raw: fake.deliver(raw), in_folder, cfg.max_message_bytes)


class TestEwsSenderContract(SenderContract):
    @pytest.fixture
    def sender_under_test(self, fake: FakeEws, sleeps: Sleeps) -> SenderUnderTest:
        return SenderUnderTest(
            EwsSender(ews_config(), sleep=sleeps), lambda: [(m.recipients, m.mime) for m in fake.sent]
        )
