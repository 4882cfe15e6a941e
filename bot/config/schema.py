"""The configuration as typed, frozen values: ``Config`` and its sections.

Pure values: nothing here reads a file or the environment at import. Every default lives
in ``defaults.toml`` beside this module; a password getter reads its environment variable
only when called.
"""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config.defaults import default_of
from bot.config.errors import ConfigError
from bot.domain.rota import Schedule, TimerSettings, UrgentSettings

# The domain's own policy values, under the names the rest of the bot has always used.
ScheduleConfig = Schedule
TimersConfig = TimerSettings


def _secret(key: str, env: str | None, what: str) -> str | None:
    """The value of the environment variable that ``key`` names, or None when ``key`` is unset."""
    if not env:
        return None
    value = os.environ.get(env)
    if value is None:
        raise ConfigError(f"{key}: environment variable {env!r} is not set; expected it to hold {what}")
    return value


@dataclass(frozen=True)
class DsContact:
    name: str
    phone: str


@dataclass(frozen=True)
class BotConfig:
    address: str
    display_name: str
    timezone: ZoneInfo
    message_id_domain: str
    x_loop: str

    @property
    def own_addresses(self) -> frozenset[str]:
        """The bot's own addresses: mail from them is never acted on (domain.md §1.1)."""
        return frozenset({self.address, self.x_loop})


@dataclass(frozen=True)
class StoreConfig:
    kind: str  # checked against the known kinds in ``bot.wiring``: "sqlite" or "postgresql"
    url: str  # the SQLite file's URL (kind "sqlite")
    # kind "postgresql": the environment variable holding the database URL, password included;
    # read when the store is opened, so the URL is in no config value, log line or error.
    url_env: str


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: str  # "tls" (implicit, port 993), "starttls" (143) or "none" (loopback test servers only)
    username: str
    auth: str  # "password" or "xoauth2"
    password_env: str | None
    oauth_token_env: str | None
    ca_file: Path | None  # trust this CA instead of the system's (a council's own CA)
    timeout_seconds: float
    idle: bool
    idle_renew_seconds: float
    retry_first_seconds: float
    retry_max_seconds: float

    def password(self) -> str | None:
        return _secret("inbox.imap.password_env", self.password_env, "the IMAP password")

    def oauth_token(self) -> str | None:
        return _secret("inbox.imap.oauth_token_env", self.oauth_token_env, "an OAuth 2.0 access token for IMAP")


@dataclass(frozen=True)
class InboxConfig:
    kind: str
    path: Path
    poll_seconds: float
    processed_folder: str
    quarantine_folder: str
    triage_folder: str
    max_message_bytes: int
    max_headers: int
    max_mime_parts: int
    max_mime_depth: int
    # An InboxConfig built by hand (adapter tests) takes these from the defaults file too, so
    # that no default is written twice; the loader always passes them.
    # Reading one message may take this long (seconds) before it is quarantined; 0 for no limit.
    parse_seconds: float = field(default_factory=lambda: float(default_of("inbox", "parse_seconds")))
    # The folder watched on a mail server (IMAP, Graph, EWS); the Maildir's is its root.
    folder: str = field(default_factory=lambda: str(default_of("inbox", "folder")))
    # No word from the mail server for this long and the administrator is emailed.
    silence_alert_minutes: int = field(default_factory=lambda: int(default_of("inbox", "silence_alert_minutes")))
    # No new mail for this many working hours and the administrator is emailed; 0: never.
    quiet_alert_hours: float = field(default_factory=lambda: float(default_of("inbox", "quiet_alert_hours")))
    imap: ImapConfig | None = None


@dataclass(frozen=True)
class GraphConfig:
    tenant_id: str
    client_id: str
    client_secret_env: str | None
    certificate_path: Path | None  # PEM: private key and certificate, for certificate credentials
    certificate_thumbprint: str | None
    mailbox: str  # the shared referral mailbox the bot reads and sends from
    calendar_mailbox: str  # the mailbox holding the strategy calendar
    authority: str
    endpoint: str
    timeout_seconds: float
    max_wait_seconds: float  # longest Retry-After honoured in place; longer waits retry later
    out_of_scope_mailbox: str | None = None  # a mailbox the app must not reach: probed expecting 403
    # A role kept off its mailbox longer than this and the administrator is emailed (once).
    throttle_alert_seconds: float = field(default_factory=lambda: float(default_of("graph", "throttle_alert_seconds")))

    def client_secret(self) -> str | None:
        return _secret("graph.client_secret_env", self.client_secret_env, "the app registration's client secret")


@dataclass(frozen=True)
class EwsConfig:
    endpoint: str  # the EWS service URL, e.g. https://mail.police.example/EWS/Exchange.asmx
    username: str
    password_env: str
    auth_type: str  # "NTLM" or "basic"
    mailbox: str
    calendar_mailbox: str
    autodiscover: bool
    ca_file: Path | None
    timeout_seconds: float
    max_wait_seconds: float
    # A role kept off its mailbox longer than this and the administrator is emailed (once).
    throttle_alert_seconds: float = field(default_factory=lambda: float(default_of("ews", "throttle_alert_seconds")))

    def password(self) -> str:
        value = _secret("ews.password_env", self.password_env, "the Exchange service account's password")
        assert value is not None  # password_env is required
        return value


@dataclass(frozen=True)
class CalendarConfig:
    kind: str
    name: str
    ics_path: Path | None
    feed_days_back: int  # the .ics feed holds the events that ended within this many days, and every later one


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # "starttls" (port 587), "tls" (implicit, port 465) or "none" (port 25, loopback only)
    username: str | None
    password_env: str | None
    timeout_seconds: float
    ca_file: Path | None = None  # trust this CA instead of the system's (a council's own CA)

    def password(self) -> str | None:
        """The SMTP password from the environment variable the config names."""
        return _secret("sender.smtp.password_env", self.password_env, "the SMTP password")


@dataclass(frozen=True)
class SenderConfig:
    kind: str
    path: Path
    smtp: SmtpConfig | None
    retry_first_seconds: float
    retry_max_seconds: float
    batch_size: int
    rate_per_minute: int  # most mails sent in any 60 seconds; 0 for no limit (Exchange Online allows 30)
    # The mail server not taking mail this long: the administrator is emailed when it does again.
    outage_alert_minutes: float = field(default_factory=lambda: float(default_of("sender", "outage_alert_minutes")))
    # During an outage, how often the server is probed so that its return frees the waiting emails.
    probe_seconds: float = field(default_factory=lambda: float(default_of("sender", "probe_seconds")))


@dataclass(frozen=True)
class PeopleConfig:
    referral_unit: str
    referral_unit_name: str
    duty_ds: str
    admin_support: str
    admin_support_phone: str
    mash_manager: str
    administrator: str
    ds_contacts: tuple[DsContact, ...]


@dataclass(frozen=True)
class ConferenceConfig:
    dial_in: str
    passcode: str
    venue: str


@dataclass(frozen=True)
class UrgentConfig:
    callback_minutes: int
    date_header_max_age_hours: int
    mash_service_manager: str
    repeat_minutes: int
    max_repeats: int
    meeting_minutes: int

    @property
    def settings(self) -> UrgentSettings:
        """The values the rules take (``bot.domain.rota``)."""
        return UrgentSettings(self.callback_minutes, self.repeat_minutes, self.max_repeats, self.meeting_minutes)


@dataclass(frozen=True)
class TrustConfig:
    sender_domains: tuple[str, ...]
    recipient_domains: tuple[str, ...]
    authentication_results_server_id: str | None
    require_dmarc: bool
    max_replies_per_sender_per_hour: int
    max_replies_per_minute: int
    max_quarantine_notices_per_hour: int


@dataclass(frozen=True)
class PrivacyConfig:
    key_env: str | None  # the variable holding the sealing key(s); None: stored unsealed
    retention_days: int  # closed cases and sent mail keep personal details this long
    purge_time: time  # the daily purge runs at the first round after this local time
    # §5: minutes attached to a reply larger than this are not sent on (the sender is told why)
    max_minutes_attachment_bytes: int = 10_000_000
    # §5 Mobile families: the only domains a receiving authority (MOVED <email>) may be reached in
    receiving_authority_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class CasesConfig:
    close_after_days: int = 30  # a case with no timer pending closes this long after its last event


@dataclass(frozen=True)
class LeaderConfig:
    """Two instances, one leader (docs/deployment.md): the lease on a shared database."""

    # A leader not heard from for this long is replaced: the takeover comes within it.
    lease_seconds: float = field(default_factory=lambda: float(default_of("leader", "lease_seconds")))
    # How often the leader renews the lease, and a standby looks at it at the latest.
    renew_seconds: float = field(default_factory=lambda: float(default_of("leader", "renew_seconds")))


@dataclass(frozen=True)
class LoggingConfig:
    level: str = field(default_factory=lambda: str(default_of("logging", "level")))  # our own loggers
    format: str = field(default_factory=lambda: str(default_of("logging", "format")))  # "text" or "json"
    # A repeated warning is logged once, then summed up at most this often.
    repeat_summary_seconds: float = field(
        default_factory=lambda: float(default_of("logging", "repeat_summary_seconds"))
    )


@dataclass(frozen=True)
class HealthConfig:
    """When `strategy-bot health` calls a check degraded or down (docs/running-as-a-service.md)."""

    # No round for this long (or three polls, if longer) and the daemon is taken for stopped.
    daemon_down_minutes: float = field(default_factory=lambda: float(default_of("health", "daemon_down_minutes")))
    # The oldest email waiting this long: degraded; this long: down.
    outbox_degraded_minutes: float = field(
        default_factory=lambda: float(default_of("health", "outbox_degraded_minutes"))
    )
    outbox_down_minutes: float = field(default_factory=lambda: float(default_of("health", "outbox_down_minutes")))
    # A timer this far past its due time has not fired: down.
    timer_overdue_minutes: float = field(default_factory=lambda: float(default_of("health", "timer_overdue_minutes")))


@dataclass(frozen=True)
class ReportConfig:
    """The weekly compliance report by email (issue 14): when, and to whom (roles or addresses)."""

    enabled: bool = field(default_factory=lambda: bool(default_of("report", "enabled")))
    weekday: int = field(default_factory=lambda: list(calendar.day_name).index(str(default_of("report", "day"))))
    at: time = field(default_factory=lambda: time.fromisoformat(str(default_of("report", "time"))))
    recipients: tuple[str, ...] = field(default_factory=lambda: tuple(default_of("report", "recipients")))


@dataclass(frozen=True)
class BoardConfig:
    """The referral unit's live board (issue 14): where it listens and whom it lets in."""

    listen: str = field(default_factory=lambda: str(default_of("board", "listen")))  # "": the daemon serves none
    token_env: str = field(default_factory=lambda: str(default_of("board", "token_env")))
    trusted_proxy: str = field(default_factory=lambda: str(default_of("board", "trusted_proxy")))
    proxy_header: str = field(default_factory=lambda: str(default_of("board", "proxy_header")))
    refresh_seconds: int = field(default_factory=lambda: int(default_of("board", "refresh_seconds")))


@dataclass(frozen=True)
class MetricsConfig:
    textfile: Path | None  # where the daemon keeps the Prometheus figures; None: only `strategy-bot metrics`
    every_seconds: int  # how often the daemon rewrites it


@dataclass(frozen=True)
class Config:
    bot: BotConfig
    store: StoreConfig
    inbox: InboxConfig
    calendar: CalendarConfig
    sender: SenderConfig
    people: PeopleConfig
    conference: ConferenceConfig
    schedule: ScheduleConfig
    urgent: UrgentConfig
    timers: TimersConfig
    trust: TrustConfig
    privacy: PrivacyConfig
    metrics: MetricsConfig
    templates_dir: Path | None = None
    graph: GraphConfig | None = None
    ews: EwsConfig | None = None
    cases: CasesConfig = field(default_factory=CasesConfig)
    leader: LeaderConfig = field(default_factory=LeaderConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    board: BoardConfig = field(default_factory=BoardConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    source: str = field(default="embedded default", compare=False)
