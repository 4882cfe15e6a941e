"""The one place that turns configuration into adapters and hands them to the service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.adapters.local_calendar import LocalCalendar
from bot.adapters.sql_store import SqlStore
from bot.config import Config, ConfigError
from bot.delivery import OutboxDelivery, outage_alert
from bot.domain.purposes import Purpose
from bot.domain.working_days import WorkingDays
from bot.mail.reading import ReadingLimits
from bot.mail.rendering import MailRenderer
from bot.ports import Closeable, Inbox, MailSender, MessageReader, StrategyCalendar
from bot.reading_limit import TimeLimitedReader
from bot.service import StrategyService
from bot.service.setup import Setup
from bot.store_opening import STORES  # the store alone: what status, history, metrics and health open
from bot.store_opening import pick as _pick
from bot.store_opening import require_extra as _require_extra

# Every purpose this build can send; the renderer checks their templates at start-up.
PURPOSES = tuple(Purpose)


@dataclass
class Bot:
    """Everything a command needs, built from one config."""

    config: Config
    store: SqlStore
    calendar: StrategyCalendar
    inbox: Inbox | None
    sender: MailSender | None
    renderer: MailRenderer
    service: StrategyService
    delivery: OutboxDelivery | None
    reader: MessageReader

    def publish_calendar(self, stamp: Any) -> Path | None:
        path = self.config.calendar.ics_path
        # Outlook calendars publish themselves; the feed is the local calendar's way to be seen.
        if path is None or not isinstance(self.calendar, LocalCalendar):
            return None
        since = stamp - timedelta(days=self.config.calendar.feed_days_back)
        self.calendar.publish(path, self.config.calendar.name, self.config.bot.timezone, stamp, since)
        return path

    def close(self) -> None:
        for adapter in (self.reader, self.sender, self.inbox, self.calendar):
            if isinstance(adapter, Closeable):
                adapter.close()
        self.store.dispose()


def _need(section: Any, name: str) -> Any:
    """The [graph] or [ews] table; the config reader makes it whenever a kind names it."""
    if section is None:
        raise ConfigError(f'{name}: missing; expected a [{name}] table when a kind is "{name}"')
    return section


def _maildir_inbox(config: Config, store: SqlStore) -> Inbox:
    from bot.adapters.maildir_inbox import MaildirInbox

    return MaildirInbox.from_config(config.inbox)


def _maildir_sender(config: Config) -> MailSender:
    from bot.adapters.maildir_sender import MaildirSender

    return MaildirSender(config.sender.path)


def _smtp_sender(config: Config) -> MailSender:
    from bot.adapters.smtp_sender import SmtpSender

    if config.sender.smtp is None:
        raise ConfigError('sender.smtp: missing; expected a [sender.smtp] table when sender.kind = "smtp"')
    config.sender.smtp.password()  # fail at start-up, not at the first send
    return SmtpSender(config.sender.smtp)


def _imap_inbox(config: Config, store: SqlStore) -> Inbox:
    from bot.adapters.imap_inbox import ImapInbox

    return ImapInbox.from_config(config.inbox, store)


def _graph_inbox(config: Config, store: SqlStore) -> Inbox:
    from bot.adapters.graph import GraphInbox

    return GraphInbox.from_config(_need(config.graph, "graph"), config.inbox, store)


def _graph_sender(config: Config) -> MailSender:
    from bot.adapters.graph import GraphSender

    return GraphSender.from_config(_need(config.graph, "graph"))


def _graph_calendar(config: Config, store: SqlStore) -> StrategyCalendar:
    from bot.adapters.graph import GraphCalendar

    return GraphCalendar.from_config(_need(config.graph, "graph"), config.calendar)


def _ews_inbox(config: Config, store: SqlStore) -> Inbox:
    from bot.adapters.ews import EwsInbox

    return EwsInbox.from_config(_need(config.ews, "ews"), config.inbox, store)


def _ews_sender(config: Config) -> MailSender:
    from bot.adapters.ews import EwsSender

    return EwsSender.from_config(_need(config.ews, "ews"))


def _ews_calendar(config: Config, store: SqlStore) -> StrategyCalendar:
    from bot.adapters.ews import EwsCalendar

    return EwsCalendar.from_config(_need(config.ews, "ews"), config.calendar)


def _local_calendar(config: Config, store: SqlStore) -> StrategyCalendar:
    return LocalCalendar(store)


INBOXES: dict[str, Callable[[Config, SqlStore], Inbox]] = {
    "maildir": _maildir_inbox,
    "imap": _imap_inbox,
    "graph": _graph_inbox,
    "ews": _ews_inbox,
}
SENDERS: dict[str, Callable[[Config], MailSender]] = {
    "maildir": _maildir_sender,
    "smtp": _smtp_sender,
    "graph": _graph_sender,
    "ews": _ews_sender,
}
CALENDARS: dict[str, Callable[[Config, SqlStore], StrategyCalendar]] = {
    "local": _local_calendar,
    "graph": _graph_calendar,
    "ews": _ews_calendar,
}


def _mail_kinds(config: Config) -> dict[str, str]:
    return {"inbox.kind": config.inbox.kind, "sender.kind": config.sender.kind, "calendar.kind": config.calendar.kind}


def check_kinds(config: Config) -> None:
    """Refuse unknown adapter kinds, and kinds whose extra is not installed, before anything is opened."""
    _pick(STORES, "store.kind", config.store.kind)
    _pick(INBOXES, "inbox.kind", config.inbox.kind)
    _pick(SENDERS, "sender.kind", config.sender.kind)
    _pick(CALENDARS, "calendar.kind", config.calendar.kind)
    for key, kind in {**_mail_kinds(config), "store.kind": config.store.kind}.items():
        _require_extra(key, kind)


def check_least_privilege(config: Config) -> None:
    """With Graph, refuse to start on tenant-wide mailbox permissions or a reachable out-of-scope mailbox."""
    if "graph" in _mail_kinds(config).values():
        from bot.adapters.graph_client import GraphClient
        from bot.adapters.graph_privilege import require_least_privilege

        require_least_privilege(GraphClient(_need(config.graph, "graph")))


def build(config: Config, with_mail: bool = True) -> Bot:
    """The bot on the configured adapters; ``with_mail=False`` opens no inbox and no sender."""
    check_kinds(config)
    renderer = MailRenderer(config.templates_dir)
    renderer.check(PURPOSES)
    if with_mail:  # the daemon's start; status and history open no mailbox
        check_least_privilege(config)
    store = _pick(STORES, "store.kind", config.store.kind)(config)
    store.check_schema()
    calendar = _pick(CALENDARS, "calendar.kind", config.calendar.kind)(config, store)
    inbox = _pick(INBOXES, "inbox.kind", config.inbox.kind)(config, store) if with_mail else None
    sender = _pick(SENDERS, "sender.kind", config.sender.kind)(config) if with_mail else None
    inbox_cfg = config.inbox
    limits = ReadingLimits(inbox_cfg.max_headers, inbox_cfg.max_mime_parts, inbox_cfg.max_mime_depth)
    reader = TimeLimitedReader(inbox_cfg.parse_seconds, config.bot.own_addresses, limits)
    days = WorkingDays.from_schedule(config.schedule)
    service = StrategyService(config, store, calendar, renderer, reader=reader, days=days)
    # The Maildir sender names each file after the Message-ID, so a resend is harmless there.
    group_commit = config.sender.kind == "maildir"
    delivery = (
        OutboxDelivery(
            store,
            sender,
            config.bot.address,
            config.sender,
            group_commit,
            service.email_refused,
            outage_alert(service.alert_admin, config.sender.kind, config.bot.timezone),
        )
        if sender is not None
        else None
    )
    return Bot(config, store, calendar, inbox, sender, renderer, service, delivery, reader)


def build_inbox(config: Config, store: SqlStore) -> Inbox:
    """The configured inbox alone, unconnected (the `quarantine` command)."""
    return _pick(INBOXES, "inbox.kind", config.inbox.kind)(config, store)  # type: ignore[no-any-return]


def build_embedded(config: Config, workdir: Path) -> Bot:
    """The service on the embedded adapters in ``workdir``, whatever the config says (replay, demo)."""
    from dataclasses import replace

    local = replace(
        config,
        store=replace(config.store, kind="sqlite", url=f"sqlite:///{workdir / 'bot.sqlite3'}"),
        calendar=replace(config.calendar, kind="local", ics_path=workdir / "strategy-calendar.ics"),
    )
    return build(local, with_mail=False)


def board_setup(bot: Bot) -> Setup:
    """The board's own view of the bot: the same setup on a store of its own, so the board's thread
    never meets the daemon's unit of work (a store keeps one open transaction at a time)."""
    from dataclasses import replace

    return replace(bot.service.setup, store=SqlStore(bot.store.url, bot.store.sealer))
