"""The TOML configuration, read once and validated into typed, frozen objects.

Every error names the key, the bad value and what was expected (``ConfigError``), so
an admin can fix the file without reading code. Secrets never live in the file: the
file names the environment variable that holds them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.rota import Schedule, TimerSettings
from bot.domain.working_days import WorkingDays

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# The SMTP port each kind of security is usually offered on: submission, submissions, relay.
SMTP_PORTS = {"starttls": 587, "tls": 465, "none": 25}
# IDLE must be re-issued before servers may drop it (30 minutes, RFC 2177), allowing for the
# second or so between the bot's looks.
IDLE_RENEW_LIMIT = 29 * 60.0


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message says which and what is expected."""


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


@dataclass(frozen=True)
class StoreConfig:
    kind: str  # checked against the known kinds in ``bot.wiring``
    url: str


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
    # Reading one message may take this long (seconds) before it is quarantined; 0 for no limit.
    parse_seconds: float = 5.0
    # The folder watched on a mail server (IMAP, Graph, EWS); the Maildir's is its root.
    folder: str = "INBOX"
    # No word from the mail server for this long and the administrator is emailed.
    silence_alert_minutes: int = 15
    imap: ImapConfig | None = None


def _secret(key: str, env: str | None, what: str) -> str | None:
    """The value of the environment variable that ``key`` names, or None when ``key`` is unset."""
    if not env:
        return None
    value = os.environ.get(env)
    if value is None:
        raise ConfigError(f"{key}: environment variable {env!r} is not set; expected it to hold {what}")
    return value


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

    def password(self) -> str:
        value = _secret("ews.password_env", self.password_env, "the Exchange service account's password")
        assert value is not None  # password_env is required
        return value


@dataclass(frozen=True)
class CalendarConfig:
    kind: str
    name: str
    ics_path: Path | None


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
    # Most mails sent in any 60 seconds; 0 for no limit (Exchange Online allows 30).
    rate_per_minute: int = 0


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


# The domain's own policy values, under the names the rest of the bot knows them by.
ScheduleConfig = Schedule


@dataclass(frozen=True)
class UrgentConfig:
    callback_minutes: int
    date_header_max_age_hours: int


TimersConfig = TimerSettings


@dataclass(frozen=True)
class TrustConfig:
    sender_domains: tuple[str, ...]
    recipient_domains: tuple[str, ...]
    authentication_results_server_id: str | None
    require_dmarc: bool
    max_replies_per_sender_per_hour: int
    max_replies_per_minute: int
    max_quarantine_notices_per_hour: int = 30


@dataclass(frozen=True)
class PrivacyConfig:
    key_env: str | None  # the variable holding the sealing key(s); None: stored unsealed
    retention_days: int  # closed cases and sent mail keep personal details this long
    purge_time: time  # the daily purge runs at the first round after this local time


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
    templates_dir: Path | None = None
    graph: GraphConfig | None = None
    ews: EwsConfig | None = None
    privacy: PrivacyConfig = PrivacyConfig(None, 365, time(2, 30))
    metrics: MetricsConfig = MetricsConfig(None, 15)
    source: str = field(default="embedded default", compare=False)


# -- reading -------------------------------------------------------------------------------


class _Section:
    """A view on one TOML table that reports errors with the full dotted key."""

    def __init__(self, data: Mapping[str, Any], prefix: str, base: Path) -> None:
        self._data = data
        self._prefix = prefix
        self._base = base
        self._used: set[str] = set()

    def _key(self, name: str) -> str:
        return f"{self._prefix}.{name}" if self._prefix else name

    def _raw(self, name: str, default: Any) -> Any:
        self._used.add(name)
        if name in self._data:
            return self._data[name]
        if default is _REQUIRED:
            raise ConfigError(f"{self._key(name)}: missing; this key is required")
        return default

    def _fail(self, name: str, value: Any, expected: str) -> ConfigError:
        return ConfigError(f"{self._key(name)}: got {value!r}; expected {expected}")

    def section(self, name: str, required: bool = True) -> _Section:
        self._used.add(name)
        value = self._data.get(name)
        if value is None:
            if required:
                raise ConfigError(f"{self._key(name)}: missing; expected a [{self._key(name)}] table")
            value = {}
        if not isinstance(value, Mapping):
            raise self._fail(name, value, "a table")
        return _Section(value, self._key(name), self._base)

    def has(self, name: str) -> bool:
        return name in self._data

    def string(self, name: str, default: Any = None) -> str:
        value = self._raw(name, _REQUIRED if default is None else default)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(name, value, "a non-empty string")
        return value.strip()

    def optional_string(self, name: str) -> str | None:
        value = self._raw(name, None)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(name, value, "a string")
        return value.strip() or None

    def choice(self, name: str, choices: tuple[str, ...], default: Any = None) -> str:
        value = self._raw(name, _REQUIRED if default is None else default)
        if value not in choices:
            raise self._fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
        return str(value)

    def email(self, name: str, default: Any = None) -> str:
        value = self._raw(name, _REQUIRED if default is None else default)
        if not isinstance(value, str) or not _EMAIL.match(value.strip()):
            raise self._fail(name, value, "an email address such as 'name@police.example'")
        return value.strip().lower()

    def integer(self, name: str, default: Any = None, minimum: int = 0, maximum: int | None = None) -> int:
        value = self._raw(name, _REQUIRED if default is None else default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"{minimum} or more"
            raise self._fail(name, value, f"a whole number {bound}")
        return value

    def number(self, name: str, default: Any = None, minimum: float = 0.0) -> float:
        value = self._raw(name, _REQUIRED if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self._fail(name, value, f"a number, {minimum:g} or more")
        return float(value)

    def boolean(self, name: str, default: Any = None) -> bool:
        value = self._raw(name, _REQUIRED if default is None else default)
        if not isinstance(value, bool):
            raise self._fail(name, value, "true or false")
        return value

    def clock_time(self, name: str, default: Any = None) -> time:
        value = self._raw(name, _REQUIRED if default is None else default)
        match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", str(value)) if isinstance(value, str) else None
        if not match:
            raise self._fail(name, value, 'a 24-hour time as "HH:MM", e.g. "16:00"')
        return time(int(match[1]), int(match[2]))

    def path(self, name: str, default: Any = None) -> Path:
        value = self.string(name, default)
        path = Path(value).expanduser()
        return path if path.is_absolute() else self._base / path

    def optional_path(self, name: str) -> Path | None:
        value = self.optional_string(name)
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else self._base / path

    def string_list(self, name: str, default: Any = None) -> list[str]:
        value = self._raw(name, _REQUIRED if default is None else default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self._fail(name, value, "a list of strings")
        return [v.strip() for v in value]

    def domains(self, name: str) -> tuple[str, ...]:
        values = self.string_list(name)
        for value in values:
            if not _DOMAIN.match(value):
                raise self._fail(name, value, 'a list of mail domains such as "council.example"')
        if not values:
            raise self._fail(name, values, "at least one domain")
        return tuple(v.lower() for v in values)

    def table_list(self, name: str) -> list[_Section]:
        value = self._raw(name, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self._fail(name, value, f"a list of tables ([[{self._key(name)}]])")
        return [_Section(v, f"{self._key(name)}[{i}]", self._base) for i, v in enumerate(value)]

    def check_unknown(self) -> None:
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise ConfigError(f"{self._key(unknown[0])}: unknown key; check its spelling against config.example.toml")


_REQUIRED = object()


def _meeting_days(section: _Section) -> tuple[int, ...]:
    names = section.string_list("meeting_days")
    days: list[int] = []
    for name in names:
        if name.lower() not in WEEKDAYS:
            raise ConfigError(f'schedule.meeting_days: got {name!r}; expected day names such as "Monday"')
        days.append(WEEKDAYS.index(name.lower()))
    if not days:
        raise ConfigError("schedule.meeting_days: got []; expected at least one day name")
    return tuple(sorted(set(days)))


def _closure_days(section: _Section) -> frozenset[date]:
    days = set()
    for value in section.string_list("closure_days", []):
        try:
            days.add(date.fromisoformat(value))
        except ValueError:
            raise ConfigError(f'schedule.closure_days: got {value!r}; expected dates as "YYYY-MM-DD"') from None
    return frozenset(days)


def parse_config(data: Mapping[str, Any], base: Path, source: str) -> Config:
    """Validate a parsed TOML document into a ``Config``; relative paths are taken from ``base``."""
    root = _Section(data, "", base)

    b = root.section("bot")
    tz_name = b.string("timezone", "Europe/London")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'bot.timezone: got {tz_name!r}; expected an IANA zone such as "Europe/London"') from None
    address = b.email("address")
    bot = BotConfig(
        address=address,
        display_name=b.string("display_name", "Strategy discussion bot"),
        timezone=tz,
        message_id_domain=b.string("message_id_domain", address.split("@", 1)[1]),
        x_loop=b.string("x_loop", address),
    )
    b.check_unknown()

    s = root.section("store")
    store_kind = s.string("kind", "sqlite")
    store_path = s.path("path", "strategy-bot-data/bot.sqlite3")
    store = StoreConfig(kind=store_kind, url=f"sqlite:///{store_path}")
    s.check_unknown()

    i = root.section("inbox")
    inbox_kind = i.string("kind", "maildir")
    inbox = InboxConfig(
        kind=inbox_kind,
        path=i.path("path", "strategy-bot-data/inbox"),
        poll_seconds=i.number("poll_seconds", 2.0, minimum=0.05),
        processed_folder=i.string("processed_folder", "Processed"),
        quarantine_folder=i.string("quarantine_folder", "Quarantine"),
        triage_folder=i.string("triage_folder", "Triage"),
        max_message_bytes=i.integer("max_message_bytes", 25 * 1024 * 1024, minimum=1024),
        max_headers=i.integer("max_headers", 500, minimum=10),
        max_mime_parts=i.integer("max_mime_parts", 100, minimum=1),
        max_mime_depth=i.integer("max_mime_depth", 10, minimum=1),
        parse_seconds=i.number("parse_seconds", 5.0, minimum=0.0),
        folder=i.string("folder", "INBOX"),
        silence_alert_minutes=i.integer("silence_alert_minutes", 15, minimum=1),
        imap=_imap(i) if i.has("imap") or inbox_kind == "imap" else None,
    )
    i.check_unknown()

    c = root.section("calendar")
    calendar = CalendarConfig(
        kind=c.string("kind", "local"),
        name=c.string("name", "Strategy Meeting"),
        ics_path=c.optional_path("ics_path"),
    )
    c.check_unknown()

    o = root.section("sender")
    sender_kind = o.string("kind", "maildir")
    smtp: SmtpConfig | None = None
    if o.has("smtp") or sender_kind == "smtp":
        m = o.section("smtp")
        smtp_security = m.choice("security", ("starttls", "tls", "none"), "starttls")
        smtp = SmtpConfig(
            host=m.string("host"),
            port=m.integer("port", SMTP_PORTS[smtp_security], minimum=1, maximum=65535),
            security=smtp_security,
            username=m.optional_string("username"),
            password_env=m.optional_string("password_env"),
            timeout_seconds=m.number("timeout_seconds", 30.0, minimum=1.0),
            ca_file=m.optional_path("ca_file"),
        )
        m.check_unknown()
        _check_transport("sender.smtp", smtp.host, smtp.security, smtp.ca_file)
    sender = SenderConfig(
        kind=sender_kind,
        path=o.path("path", "strategy-bot-data/sent"),
        smtp=smtp,
        retry_first_seconds=o.number("retry_first_seconds", 30.0, minimum=0.0),
        retry_max_seconds=o.number("retry_max_seconds", 3600.0, minimum=1.0),
        batch_size=o.integer("batch_size", 100, minimum=1),
        rate_per_minute=o.integer("rate_per_minute", 0, minimum=0),
    )
    o.check_unknown()

    p = root.section("people")
    contacts = []
    for entry in p.table_list("ds_contacts"):
        contacts.append(DsContact(name=entry.string("name"), phone=entry.string("phone")))
        entry.check_unknown()
    if not contacts:
        raise ConfigError(
            "people.ds_contacts: missing; expected at least one [[people.ds_contacts]] with name and phone"
        )
    people = PeopleConfig(
        referral_unit=p.email("referral_unit"),
        referral_unit_name=p.string("referral_unit_name", "Police referral unit"),
        duty_ds=p.email("duty_ds"),
        admin_support=p.email("admin_support"),
        admin_support_phone=p.string("admin_support_phone"),
        mash_manager=p.email("mash_manager"),
        administrator=p.email("administrator"),
        ds_contacts=tuple(contacts),
    )
    p.check_unknown()

    f = root.section("conference")
    conference = ConferenceConfig(
        dial_in=f.string("dial_in"),
        passcode=f.string("passcode"),
        venue=f.string("venue", "Conference call"),
    )
    f.check_unknown()

    d = root.section("schedule")
    schedule = ScheduleConfig(
        meeting_days=_meeting_days(d),
        window_start=d.clock_time("window_start", "10:00"),
        window_end=d.clock_time("window_end", "11:30"),
        slot_minutes=d.integer("slot_minutes", 15, minimum=5, maximum=240),
        complex_minutes=d.integer("complex_minutes", 30, minimum=5, maximum=480),
        cutoff=d.clock_time("cutoff", "16:00"),
        horizon_meeting_days=d.integer("horizon_meeting_days", 10, minimum=1, maximum=365),
        timescale_working_days=d.integer("timescale_working_days", 3, minimum=0, maximum=60),
        complex_timescale_working_days=d.integer("complex_timescale_working_days", 5, minimum=0, maximum=60),
        closure_days=_closure_days(d),
        bank_holidays_country=d.string("bank_holidays_country", "GB"),
        bank_holidays_subdivision=d.string("bank_holidays_subdivision", "ENG"),
    )
    d.check_unknown()
    if schedule.window_end <= schedule.window_start:
        raise ConfigError(
            f'schedule.window_end: got "{schedule.window_end:%H:%M}"; expected a time after '
            f'schedule.window_start ("{schedule.window_start:%H:%M}")'
        )
    if schedule.complex_minutes % schedule.slot_minutes:
        raise ConfigError(
            f"schedule.complex_minutes: got {schedule.complex_minutes}; expected a multiple of "
            f"schedule.slot_minutes ({schedule.slot_minutes})"
        )
    try:
        WorkingDays.from_schedule(schedule)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    u = root.section("urgent")
    urgent = UrgentConfig(
        callback_minutes=u.integer("callback_minutes", 60, minimum=1),
        date_header_max_age_hours=u.integer("date_header_max_age_hours", 24, minimum=0),
    )
    u.check_unknown()

    m = root.section("timers", required=False)
    timers = TimersConfig(
        escalation_first_minutes=m.integer("escalation_first_minutes", 60, minimum=1),
        escalation_second_minutes=m.integer("escalation_second_minutes", 90, minimum=1),
        reminder_day_before_time=m.clock_time("reminder_day_before_time", "16:00"),
        reminder_minutes_before=m.integer("reminder_minutes_before", 30, minimum=1),
        daily_agenda_time=m.clock_time("daily_agenda_time", "09:00"),
        working_day_start=m.clock_time("working_day_start", "08:00"),
        working_day_end=m.clock_time("working_day_end", "18:00"),
        minutes_due_working_hours=m.number("minutes_due_working_hours", 10, minimum=0.25),
        minutes_reminder_working_hours=m.number("minutes_reminder_working_hours", 4, minimum=0.0),
        later_timescales_time=m.clock_time("later_timescales_time", "09:00"),
        s47_outcome_working_days=m.integer("s47_outcome_working_days", 3, minimum=1),
        icpc_warning_working_days=m.integer("icpc_warning_working_days", 10, minimum=1),
        icpc_due_working_days=m.integer("icpc_due_working_days", 15, minimum=1),
        mobile_family_hours=m.integer("mobile_family_hours", 72, minimum=1),
        late_after_seconds=m.integer("late_after_seconds", 120, minimum=1),
    )
    m.check_unknown()
    if timers.escalation_second_minutes <= timers.escalation_first_minutes:
        raise ConfigError(
            f"timers.escalation_second_minutes: got {timers.escalation_second_minutes}; expected more than "
            f"timers.escalation_first_minutes ({timers.escalation_first_minutes})"
        )
    if timers.working_day_end <= timers.working_day_start:
        raise ConfigError(
            f'timers.working_day_end: got "{timers.working_day_end:%H:%M}"; expected a time after '
            f'timers.working_day_start ("{timers.working_day_start:%H:%M}")'
        )

    t = root.section("trust")
    trust = TrustConfig(
        sender_domains=t.domains("sender_domains"),
        recipient_domains=t.domains("recipient_domains"),
        authentication_results_server_id=t.optional_string("authentication_results_server_id"),
        require_dmarc=t.boolean("require_dmarc", False),
        max_replies_per_sender_per_hour=t.integer("max_replies_per_sender_per_hour", 10, minimum=1),
        max_replies_per_minute=t.integer("max_replies_per_minute", 60, minimum=1),
        max_quarantine_notices_per_hour=t.integer("max_quarantine_notices_per_hour", 30, minimum=1),
    )
    t.check_unknown()
    if trust.require_dmarc and not trust.authentication_results_server_id:
        raise ConfigError(
            "trust.require_dmarc: got true; expected trust.authentication_results_server_id "
            "to name the server whose Authentication-Results header is trusted"
        )

    kinds = {inbox.kind, calendar.kind, sender.kind}
    graph = _graph(root.section("graph"), address) if root.has("graph") or "graph" in kinds else None
    ews = _ews(root.section("ews"), address) if root.has("ews") or "ews" in kinds else None

    v = root.section("privacy", required=False)
    privacy = PrivacyConfig(
        key_env=v.optional_string("key_env"),
        retention_days=v.integer("retention_days", 365, minimum=1),
        purge_time=v.clock_time("purge_time", "02:30"),
    )
    v.check_unknown()

    m = root.section("metrics", required=False)
    metrics = MetricsConfig(
        textfile=m.optional_path("textfile"), every_seconds=m.integer("every_seconds", 15, minimum=1)
    )
    m.check_unknown()
    if metrics.textfile is not None and not metrics.textfile.parent.is_dir():
        raise ConfigError(f"metrics.textfile: got {str(metrics.textfile)!r}; expected a file in an existing folder")

    templates_dir = root.optional_path("templates_dir")
    if templates_dir is not None and not templates_dir.is_dir():
        raise ConfigError(f"templates_dir: got {str(templates_dir)!r}; expected an existing folder")
    root.check_unknown()

    return Config(
        bot=bot,
        store=store,
        inbox=inbox,
        calendar=calendar,
        sender=sender,
        people=people,
        conference=conference,
        schedule=schedule,
        urgent=urgent,
        timers=timers,
        trust=trust,
        templates_dir=templates_dir,
        source=source,
        graph=graph,
        ews=ews,
        privacy=privacy,
        metrics=metrics,
    )


def _imap(inbox: _Section) -> ImapConfig:
    m = inbox.section("imap")
    security = m.choice("security", ("tls", "starttls", "none"), "tls")
    auth = m.choice("auth", ("password", "xoauth2"), "password")
    cfg = ImapConfig(
        host=m.string("host"),
        port=m.integer("port", 993 if security == "tls" else 143, minimum=1, maximum=65535),
        security=security,
        username=m.string("username"),
        auth=auth,
        password_env=m.optional_string("password_env"),
        oauth_token_env=m.optional_string("oauth_token_env"),
        ca_file=m.optional_path("ca_file"),
        timeout_seconds=m.number("timeout_seconds", 30.0, minimum=1.0),
        idle=m.boolean("idle", True),
        # RFC 2177: servers may drop an IDLE after 30 minutes, so it is re-issued well before.
        idle_renew_seconds=m.number("idle_renew_seconds", 25 * 60.0, minimum=1.0),
        retry_first_seconds=m.number("retry_first_seconds", 1.0, minimum=0.01),
        retry_max_seconds=m.number("retry_max_seconds", 300.0, minimum=0.01),
    )
    m.check_unknown()
    needed = "password_env" if auth == "password" else "oauth_token_env"
    if getattr(cfg, needed) is None:
        raise ConfigError(f'inbox.imap.{needed}: missing; expected it when inbox.imap.auth = "{auth}"')
    if cfg.idle_renew_seconds >= IDLE_RENEW_LIMIT:
        raise ConfigError(
            f"inbox.imap.idle_renew_seconds: got {cfg.idle_renew_seconds:g}; expected less than "
            f"{IDLE_RENEW_LIMIT:g} (29 minutes), since servers may end an IDLE after 30 minutes "
            "and the bot looks about once a second"
        )
    _check_transport("inbox.imap", cfg.host, cfg.security, cfg.ca_file)
    return cfg


def _loopback(host: str) -> bool:
    """Whether ``host`` names this machine: localhost, 127.0.0.0/8 or ::1."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_transport(prefix: str, host: str, security: str, ca_file: Path | None) -> None:
    """A password never crosses a network in clear text; a CA file named must exist."""
    if security == "none" and not _loopback(host):
        raise ConfigError(
            f'{prefix}.security: got "none" with {prefix}.host = {host!r}; expected "tls" or "starttls", '
            'since "none" sends the password and the mail in clear text and is allowed only for a server on '
            "this machine (localhost, 127.0.0.0/8 or ::1)"
        )
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"{prefix}.ca_file: got {str(ca_file)!r}; expected an existing PEM file")


def _graph(g: _Section, address: str) -> GraphConfig:
    cfg = GraphConfig(
        tenant_id=g.string("tenant_id"),
        client_id=g.string("client_id"),
        client_secret_env=g.optional_string("client_secret_env"),
        certificate_path=g.optional_path("certificate_path"),
        certificate_thumbprint=g.optional_string("certificate_thumbprint"),
        mailbox=g.email("mailbox", address),
        calendar_mailbox=g.email("calendar_mailbox", address),
        authority=g.string("authority", "https://login.microsoftonline.com").rstrip("/"),
        endpoint=g.string("endpoint", "https://graph.microsoft.com/v1.0").rstrip("/"),
        timeout_seconds=g.number("timeout_seconds", 30.0, minimum=1.0),
        max_wait_seconds=g.number("max_wait_seconds", 120.0, minimum=0.0),
    )
    g.check_unknown()
    if (cfg.client_secret_env is None) == (cfg.certificate_path is None):
        raise ConfigError(
            "graph.client_secret_env: expected exactly one of graph.client_secret_env or "
            "graph.certificate_path (with graph.certificate_thumbprint)"
        )
    if cfg.certificate_path is not None and not cfg.certificate_thumbprint:
        raise ConfigError("graph.certificate_thumbprint: missing; expected it with graph.certificate_path")
    for key in ("authority", "endpoint"):
        if not getattr(cfg, key).startswith("https://"):
            raise ConfigError(f"graph.{key}: got {getattr(cfg, key)!r}; expected an https:// address")
    return cfg


def _ews(e: _Section, address: str) -> EwsConfig:
    cfg = EwsConfig(
        endpoint=e.string("endpoint"),
        username=e.string("username"),
        password_env=e.string("password_env"),
        auth_type=e.choice("auth_type", ("NTLM", "basic"), "NTLM"),
        mailbox=e.email("mailbox", address),
        calendar_mailbox=e.email("calendar_mailbox", address),
        autodiscover=e.boolean("autodiscover", False),
        ca_file=e.optional_path("ca_file"),
        timeout_seconds=e.number("timeout_seconds", 30.0, minimum=1.0),
        max_wait_seconds=e.number("max_wait_seconds", 120.0, minimum=0.0),
    )
    e.check_unknown()
    if not cfg.endpoint.startswith("https://"):
        raise ConfigError(f"ews.endpoint: got {cfg.endpoint!r}; expected the https:// address of Exchange.asmx")
    return cfg


def load_config(path: Path | None, base: Path | None = None) -> Config:
    """Read ``path``, or the embedded default (``config.example.toml``) when ``path`` is None.

    Relative paths in the embedded default are taken from ``base`` (default: the current
    folder); in a file, from the file's folder.
    """
    if path is None:
        text = resources.files("bot").joinpath("default_config.toml").read_text(encoding="utf-8")
        source = "embedded default"
        base = base or Path.cwd()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text; expected a TOML file") from None
        source = str(path)
        base = base or path.resolve().parent
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return parse_config(data, base, source)
