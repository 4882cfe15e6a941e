"""One function per table of the file: each reads its keys (the user's, else the defaults) and checks them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import servers
from bot.config.errors import ConfigError
from bot.config.schema import (
    BoardConfig,
    BotConfig,
    CalendarConfig,
    CasesConfig,
    ConferenceConfig,
    DsContact,
    HealthConfig,
    InboxConfig,
    LeaderConfig,
    LoggingConfig,
    MetricsConfig,
    PeopleConfig,
    PrivacyConfig,
    ReportConfig,
    SenderConfig,
    StoreConfig,
    TrustConfig,
    UrgentConfig,
)
from bot.config.table import Table
from bot.domain.rota import Schedule, TimerSettings
from bot.domain.working_days import WorkingDays

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def bot(b: Table) -> BotConfig:
    tz_name = b.string("timezone")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'bot.timezone: got {tz_name!r}; expected an IANA zone such as "Europe/London"') from None
    address = b.email("address")
    cfg = BotConfig(
        address=address,
        display_name=b.string("display_name"),
        timezone=tz,
        message_id_domain=b.string("message_id_domain", derived=address.split("@", 1)[1]),
        x_loop=b.string("x_loop", derived=address),
    )
    b.check_unknown()
    return cfg


def store(s: Table) -> StoreConfig:
    postgresql = s.table("postgresql", required=False)
    cfg = StoreConfig(kind=s.string("kind"), url=f"sqlite:///{s.path('path')}", url_env=postgresql.string("url_env"))
    postgresql.check_unknown()
    s.check_unknown()
    return cfg


def inbox(i: Table) -> InboxConfig:
    kind = i.string("kind")
    cfg = InboxConfig(
        kind=kind,
        path=i.path("path"),
        poll_seconds=i.number("poll_seconds", minimum=0.05),
        processed_folder=i.string("processed_folder"),
        quarantine_folder=i.string("quarantine_folder"),
        triage_folder=i.string("triage_folder"),
        max_message_bytes=i.integer("max_message_bytes", minimum=1024),
        max_headers=i.integer("max_headers", minimum=10),
        max_mime_parts=i.integer("max_mime_parts", minimum=1),
        max_mime_depth=i.integer("max_mime_depth", minimum=1),
        parse_seconds=i.number("parse_seconds", minimum=0.0),
        folder=i.string("folder"),
        silence_alert_minutes=i.integer("silence_alert_minutes", minimum=1),
        quiet_alert_hours=i.number("quiet_alert_hours", minimum=0.0),
        imap=servers.imap(i.table("imap")) if i.has("imap") or kind == "imap" else None,
    )
    i.check_unknown()
    return cfg


def calendar(c: Table) -> CalendarConfig:
    cfg = CalendarConfig(
        kind=c.string("kind"),
        name=c.string("name"),
        ics_path=c.optional_path("ics_path"),
        feed_days_back=c.integer("feed_days_back", minimum=0),
    )
    c.check_unknown()
    return cfg


def sender(o: Table) -> SenderConfig:
    kind = o.string("kind")
    cfg = SenderConfig(
        kind=kind,
        path=o.path("path"),
        smtp=servers.smtp(o.table("smtp")) if o.has("smtp") or kind == "smtp" else None,
        retry_first_seconds=o.number("retry_first_seconds", minimum=0.0),
        retry_max_seconds=o.number("retry_max_seconds", minimum=1.0),
        batch_size=o.integer("batch_size", minimum=1),
        rate_per_minute=o.integer("rate_per_minute", minimum=0),
        outage_alert_minutes=o.number("outage_alert_minutes", minimum=0.0),
        probe_seconds=o.number("probe_seconds", minimum=0.0),
    )
    o.check_unknown()
    return cfg


def people(p: Table) -> PeopleConfig:
    contacts = []
    for entry in p.tables("ds_contacts"):
        contacts.append(DsContact(name=entry.string("name"), phone=entry.string("phone")))
        entry.check_unknown()
    if not contacts:
        raise ConfigError(
            "people.ds_contacts: missing; expected at least one [[people.ds_contacts]] with name and phone"
        )
    cfg = PeopleConfig(
        referral_unit=p.email("referral_unit"),
        referral_unit_name=p.string("referral_unit_name"),
        duty_ds=p.email("duty_ds"),
        admin_support=p.email("admin_support"),
        admin_support_phone=p.string("admin_support_phone"),
        mash_manager=p.email("mash_manager"),
        administrator=p.email("administrator"),
        ds_contacts=tuple(contacts),
    )
    p.check_unknown()
    return cfg


def conference(f: Table) -> ConferenceConfig:
    cfg = ConferenceConfig(dial_in=f.string("dial_in"), passcode=f.string("passcode"), venue=f.string("venue"))
    f.check_unknown()
    return cfg


def _meeting_days(d: Table) -> tuple[int, ...]:
    days: list[int] = []
    for name in d.string_list("meeting_days"):
        if name.lower() not in WEEKDAYS:
            raise ConfigError(f'schedule.meeting_days: got {name!r}; expected day names such as "Monday"')
        days.append(WEEKDAYS.index(name.lower()))
    if not days:
        raise ConfigError("schedule.meeting_days: got []; expected at least one day name")
    return tuple(sorted(set(days)))


def _closure_days(d: Table) -> frozenset[date]:
    days = set()
    for value in d.string_list("closure_days"):
        try:
            days.add(date.fromisoformat(value))
        except ValueError:
            raise ConfigError(f'schedule.closure_days: got {value!r}; expected dates as "YYYY-MM-DD"') from None
    return frozenset(days)


def schedule(d: Table) -> Schedule:
    cfg = Schedule(
        meeting_days=_meeting_days(d),
        window_start=d.clock_time("window_start"),
        window_end=d.clock_time("window_end"),
        slot_minutes=d.integer("slot_minutes", minimum=5, maximum=240),
        complex_minutes=d.integer("complex_minutes", minimum=5, maximum=480),
        cutoff=d.clock_time("cutoff"),
        horizon_meeting_days=d.integer("horizon_meeting_days", minimum=1, maximum=365),
        timescale_working_days=d.integer("timescale_working_days", minimum=0, maximum=60),
        complex_timescale_working_days=d.integer("complex_timescale_working_days", minimum=0, maximum=60),
        emergency_timescale_working_days=d.integer("emergency_timescale_working_days", minimum=0, maximum=60),
        closure_days=_closure_days(d),
        bank_holidays_country=d.string("bank_holidays_country"),
        bank_holidays_subdivision=d.string("bank_holidays_subdivision"),
    )
    d.check_unknown()
    if cfg.window_end <= cfg.window_start:
        raise ConfigError(
            f'schedule.window_end: got "{cfg.window_end:%H:%M}"; expected a time after '
            f'schedule.window_start ("{cfg.window_start:%H:%M}")'
        )
    if cfg.complex_minutes % cfg.slot_minutes:
        raise ConfigError(
            f"schedule.complex_minutes: got {cfg.complex_minutes}; expected a multiple of "
            f"schedule.slot_minutes ({cfg.slot_minutes})"
        )
    try:
        # Checked here so that check-config, not the first booking, names an unknown region.
        WorkingDays.from_schedule(cfg)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cfg


def urgent(u: Table, mash_manager: str) -> UrgentConfig:
    cfg = UrgentConfig(
        callback_minutes=u.integer("callback_minutes", minimum=1),
        date_header_max_age_hours=u.integer("date_header_max_age_hours", minimum=0),
        mash_service_manager=u.email("mash_service_manager", derived=mash_manager),
        repeat_minutes=u.integer("repeat_minutes", minimum=1),
        max_repeats=u.integer("max_repeats", minimum=0),
        meeting_minutes=u.integer("meeting_minutes", minimum=5),
    )
    u.check_unknown()
    return cfg


def timers(m: Table) -> TimerSettings:
    cfg = TimerSettings(
        escalation_first_minutes=m.integer("escalation_first_minutes", minimum=1),
        escalation_second_minutes=m.integer("escalation_second_minutes", minimum=1),
        escalation_third_minutes=m.integer("escalation_third_minutes", minimum=1),
        reminder_day_before_time=m.clock_time("reminder_day_before_time"),
        reminder_minutes_before=m.integer("reminder_minutes_before", minimum=1),
        daily_agenda_time=m.clock_time("daily_agenda_time"),
        working_day_start=m.clock_time("working_day_start"),
        working_day_end=m.clock_time("working_day_end"),
        minutes_due_working_hours=m.number("minutes_due_working_hours", minimum=0.25),
        minutes_reminder_working_hours=m.number("minutes_reminder_working_hours", minimum=0.0),
        later_timescales_time=m.clock_time("later_timescales_time"),
        s47_outcome_working_days=m.integer("s47_outcome_working_days", minimum=1),
        icpc_warning_working_days=m.integer("icpc_warning_working_days", minimum=1),
        icpc_due_working_days=m.integer("icpc_due_working_days", minimum=1),
        mobile_family_hours=m.integer("mobile_family_hours", minimum=1),
        late_after_seconds=m.integer("late_after_seconds", minimum=1),
        held_chase_hours=m.integer("held_chase_hours", minimum=1),
        held_chase_day_end=m.clock_time("held_chase_day_end"),
        held_chase_next_day_time=m.clock_time("held_chase_next_day_time"),
    )
    m.check_unknown()
    if cfg.escalation_second_minutes <= cfg.escalation_first_minutes:
        raise ConfigError(
            f"timers.escalation_second_minutes: got {cfg.escalation_second_minutes}; expected more than "
            f"timers.escalation_first_minutes ({cfg.escalation_first_minutes})"
        )
    if cfg.escalation_third_minutes <= cfg.escalation_second_minutes:
        raise ConfigError(
            f"timers.escalation_third_minutes: got {cfg.escalation_third_minutes}; expected more than "
            f"timers.escalation_second_minutes ({cfg.escalation_second_minutes})"
        )
    if cfg.working_day_end <= cfg.working_day_start:
        raise ConfigError(
            f'timers.working_day_end: got "{cfg.working_day_end:%H:%M}"; expected a time after '
            f'timers.working_day_start ("{cfg.working_day_start:%H:%M}")'
        )
    return cfg


def trust(t: Table) -> TrustConfig:
    cfg = TrustConfig(
        sender_domains=t.domains("sender_domains"),
        recipient_domains=t.domains("recipient_domains"),
        authentication_results_server_id=t.optional_string("authentication_results_server_id"),
        require_dmarc=t.boolean("require_dmarc"),
        max_replies_per_sender_per_hour=t.integer("max_replies_per_sender_per_hour", minimum=1),
        max_replies_per_minute=t.integer("max_replies_per_minute", minimum=1),
        max_quarantine_notices_per_hour=t.integer("max_quarantine_notices_per_hour", minimum=1),
    )
    t.check_unknown()
    if cfg.require_dmarc and not cfg.authentication_results_server_id:
        raise ConfigError(
            "trust.require_dmarc: got true; expected trust.authentication_results_server_id "
            "to name the server whose Authentication-Results header is trusted"
        )
    return cfg


def _optional_domains(v: Table, name: str) -> tuple[str, ...]:
    """A list of mail domains that may be empty (``Table.domains`` needs one)."""
    return v.domains(name) if v.string_list(name) else ()


def privacy(v: Table) -> PrivacyConfig:
    cfg = PrivacyConfig(
        key_env=v.optional_string("key_env"),
        retention_days=v.integer("retention_days", minimum=1),
        purge_time=v.clock_time("purge_time"),
        max_minutes_attachment_bytes=v.integer("max_minutes_attachment_bytes", minimum=1),
        receiving_authority_domains=_optional_domains(v, "receiving_authority_domains"),
    )
    v.check_unknown()
    return cfg


def cases(c: Table) -> CasesConfig:
    cfg = CasesConfig(close_after_days=c.integer("close_after_days", minimum=1))
    c.check_unknown()
    return cfg


def leader(d: Table) -> LeaderConfig:
    cfg = LeaderConfig(
        lease_seconds=d.number("lease_seconds", minimum=1.0), renew_seconds=d.number("renew_seconds", minimum=0.1)
    )
    d.check_unknown()
    if cfg.renew_seconds * 2 > cfg.lease_seconds:
        expected = f"at most half of leader.lease_seconds ({cfg.lease_seconds:g})"
        raise d.fail("renew_seconds", cfg.renew_seconds, expected)
    return cfg


def logging(g: Table) -> LoggingConfig:
    cfg = LoggingConfig(
        level=g.choice("level", ("debug", "info", "warning", "error")),
        format=g.choice("format", ("text", "json")),
        repeat_summary_seconds=g.number("repeat_summary_seconds", minimum=1.0),
    )
    g.check_unknown()
    return cfg


def health(h: Table) -> HealthConfig:
    cfg = HealthConfig(
        daemon_down_minutes=h.number("daemon_down_minutes", minimum=1.0),
        outbox_degraded_minutes=h.number("outbox_degraded_minutes", minimum=1.0),
        outbox_down_minutes=h.number("outbox_down_minutes", minimum=1.0),
        timer_overdue_minutes=h.number("timer_overdue_minutes", minimum=0.5),
    )
    h.check_unknown()
    if cfg.outbox_down_minutes < cfg.outbox_degraded_minutes:
        expected = f"at least health.outbox_degraded_minutes ({cfg.outbox_degraded_minutes:g})"
        raise h.fail("outbox_down_minutes", cfg.outbox_down_minutes, expected)
    return cfg


REPORT_ROLES = ("mash_service_manager", "referral_unit", "admin_support", "duty_ds")


def report(r: Table) -> ReportConfig:
    day = r.string("day")
    if day.lower() not in WEEKDAYS:
        raise r.fail("day", day, 'a day name such as "Monday"')
    recipients = tuple(r.string_list("recipients"))
    for who in recipients:
        if who not in REPORT_ROLES and "@" not in who:
            raise r.fail("recipients", who, "roles (" + ", ".join(REPORT_ROLES) + ") or email addresses")
    if not recipients:
        raise r.fail("recipients", [], "at least one role or address")
    cfg = ReportConfig(r.boolean("enabled"), WEEKDAYS.index(day.lower()), r.clock_time("time"), recipients)
    r.check_unknown()
    return cfg


def board(b: Table) -> BoardConfig:
    listen = b.optional_string("listen") or ""
    host, _, port = listen.rpartition(":")
    if listen and (not host or not port.isdigit() or not 0 < int(port) < 65536):
        raise b.fail("listen", listen, 'an address and port such as "127.0.0.1:8080", or "" for no board')
    cfg = BoardConfig(
        listen=listen,
        token_env=b.optional_string("token_env") or "",
        trusted_proxy=b.optional_string("trusted_proxy") or "",
        proxy_header=b.optional_string("proxy_header") or "",
        refresh_seconds=b.integer("refresh_seconds", minimum=5),
    )
    if bool(cfg.trusted_proxy) != bool(cfg.proxy_header):
        raise b.fail("proxy_header", cfg.proxy_header, "set together with board.trusted_proxy, or both left empty")
    b.check_unknown()
    return cfg


def metrics(m: Table) -> MetricsConfig:
    cfg = MetricsConfig(textfile=m.optional_path("textfile"), every_seconds=m.integer("every_seconds", minimum=1))
    m.check_unknown()
    if cfg.textfile is not None and not cfg.textfile.parent.is_dir():
        raise ConfigError(f"metrics.textfile: got {str(cfg.textfile)!r}; expected a file in an existing folder")
    return cfg


def templates_dir(root: Table) -> Path | None:
    found = root.optional_path("templates_dir")
    if found is not None and not found.is_dir():
        raise ConfigError(f"templates_dir: got {str(found)!r}; expected an existing folder")
    return found
