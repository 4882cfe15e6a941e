"""Configuration: every default once in the packaged defaults file, and every mistake named precisely."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, ConfigError, InboxConfig, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
DEFAULTS_FILE = REPO / "bot" / "config" / "defaults.toml"
EXAMPLE_FILE = REPO / "config.example.toml"
DEFAULTS_TEXT = DEFAULTS_FILE.read_text(encoding="utf-8")
EXAMPLE_TEXT = EXAMPLE_FILE.read_text(encoding="utf-8")
# Tables read only when the file has them or a kind needs them: their defaults alone switch nothing on.
SERVER_TABLES = {("inbox", "imap"), ("sender", "smtp"), ("graph",), ("ews",)}


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE_TEXT)


def load_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def with_every_default(data: dict[str, Any], defaults: dict[str, Any], at: tuple[str, ...] = ()) -> dict[str, Any]:
    """``data`` with every key the defaults file sets written out, server tables left as ``data`` has them."""
    merged = copy.deepcopy(data)
    for key, value in defaults.items():
        if isinstance(value, dict):
            if at + (key,) in SERVER_TABLES and key not in data:
                continue
            merged[key] = with_every_default(data.get(key, {}), value, at + (key,))
        else:
            merged.setdefault(key, value)
    return merged


def test_the_embedded_default_is_the_example_file(tmp_path: Path) -> None:
    embedded = load_config(None, base=tmp_path)
    assert embedded == load_config(EXAMPLE_FILE, base=tmp_path)
    assert embedded.source == "embedded default"
    assert embedded.bot.address == "referrals@police.example"
    assert embedded.bot.display_name == "PVP Referral Unit (strategy bot)"
    assert embedded.people.duty_ds == "duty.ds@police.example"
    assert embedded.people.admin_support == "admin.support@police.example"
    assert embedded.people.mash_manager == "mash.manager@council.example"
    assert embedded.trust.authentication_results_server_id == "mx.police.example"
    assert embedded.trust.require_dmarc is True
    assert embedded.schedule.meeting_days == (0, 2, 4)
    assert embedded.schedule.cutoff == time(16, 0)
    assert embedded.inbox.path == tmp_path / "strategy-bot-data" / "inbox"
    assert embedded.inbox.poll_seconds == 1.0
    assert embedded.calendar.ics_path == tmp_path / "strategy-bot-data" / "strategy-calendar.ics"


def test_the_example_is_one_file_and_not_a_copy_of_the_defaults() -> None:
    assert EXAMPLE_FILE.samefile(REPO / "bot" / "config" / "example.toml")
    assert not (REPO / "bot" / "default_config.toml").exists()
    example_keys = {key for table in example().values() if isinstance(table, dict) for key in table}
    assert "escalation_first_minutes" not in example_keys and "max_mime_depth" not in example_keys


@pytest.mark.parametrize("text", [DEFAULTS_TEXT, EXAMPLE_TEXT], ids=["defaults", "example"])
def test_every_key_is_commented(text: str) -> None:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("["):
            continue
        # A key is commented on the line above it, or is part of a block under a comment.
        above = [line.strip() for line in lines[max(0, i - 6) : i]]
        assert any(a.startswith("#") for a in above), f"no comment near {stripped!r}"


def test_a_key_left_out_takes_its_default_from_the_defaults_file(tmp_path: Path) -> None:
    data = example()
    del data["bot"]["display_name"], data["inbox"]["poll_seconds"], data["people"]["referral_unit_name"]
    config = parse_config(data, tmp_path, "bot.toml")
    assert config.bot.display_name == "Strategy discussion bot"
    assert config.inbox.poll_seconds == 2.0
    assert config.people.referral_unit_name == "Police referral unit"
    # The example sets no timers at all: every one is the default.
    assert (config.timers.escalation_first_minutes, config.timers.escalation_second_minutes) == (60, 90)
    assert config.timers.reminder_day_before_time == time(16, 0)
    assert (config.urgent.callback_minutes, config.privacy.retention_days, config.metrics.every_seconds) == (
        60,
        365,
        15,
    )
    assert config.inbox.max_message_bytes == 25 * 1024 * 1024 and config.inbox.parse_seconds == 5.0


def test_some_defaults_are_worked_out_from_other_keys(tmp_path: Path) -> None:
    data = example()
    data["bot"]["address"] = "strategy@county.example"
    data["graph"] = {"tenant_id": "t", "client_id": "c", "client_secret_env": "SECRET"}
    config = parse_config(data, tmp_path, "bot.toml")
    assert (config.bot.message_id_domain, config.bot.x_loop) == ("county.example", "strategy@county.example")
    assert config.graph is not None
    assert (config.graph.mailbox, config.graph.calendar_mailbox) == ("strategy@county.example",) * 2
    assert config.graph.endpoint == "https://graph.microsoft.com/v1.0"


def test_spelling_out_every_default_changes_nothing(tmp_path: Path) -> None:
    defaults = tomllib.loads(DEFAULTS_TEXT)
    assert parse_config(with_every_default(example(), defaults), tmp_path, "x") == load_config(None, base=tmp_path)
    servers = example()
    servers["inbox"]["imap"] = {"host": "imap.police.example", "username": "u", "password_env": "P"}
    servers["sender"]["smtp"] = {"host": "smtp.police.example"}
    servers["graph"] = {"tenant_id": "t", "client_id": "c", "client_secret_env": "SECRET"}
    servers["ews"] = {"endpoint": "https://mail.police.example/EWS/Exchange.asmx", "username": "u", "password_env": "P"}
    spelled = parse_config(with_every_default(servers, defaults), tmp_path, "x")
    assert spelled == parse_config(servers, tmp_path, "x")
    assert spelled.inbox.imap is not None and spelled.inbox.imap.idle_renew_seconds == 1500.0


def test_every_key_the_defaults_file_names_in_a_comment_is_a_key(tmp_path: Path) -> None:
    # Uncommented, the file's own examples make a valid config with every server table on; only the
    # keys naming files that must exist, and the second of two exclusive credentials, stay out.
    left_out = ("templates_dir", "ca_file", "textfile", "certificate_path", "certificate_thumbprint", "oauth_token_env")
    text = re.sub(r"(?m)^# (\[\[people\.ds_contacts\]\]|[a-z_]+ = .*)$", r"\1", DEFAULTS_TEXT)
    text = re.sub(rf"(?m)^({'|'.join(left_out)}) = .*$", "", text)
    config = load_text(tmp_path, text)
    assert config.inbox.imap is not None and config.inbox.imap.port == 993
    assert config.sender.smtp is not None and config.sender.smtp.port == 587
    assert config.graph is not None and config.graph.calendar_mailbox == "strategy.calendar@police.example"
    assert config.ews is not None and config.ews.username == "POLICE\\svc-strategy-bot"
    assert config.people.ds_contacts[0].name == "DS Sam Carver"


def test_a_table_of_defaults_may_be_left_out_but_not_one_with_a_required_key(tmp_path: Path) -> None:
    data = example()
    del data["store"], data["privacy"], data["metrics"]
    config = parse_config(data, tmp_path, "bot.toml")
    assert config.store.url == f"sqlite:///{tmp_path / 'strategy-bot-data' / 'bot.sqlite3'}"
    del data["conference"]
    with pytest.raises(ConfigError, match=re.escape("conference: missing; expected a [conference] table")):
        parse_config(data, tmp_path, "bot.toml")


def test_an_inbox_config_built_by_hand_takes_the_packaged_defaults(tmp_path: Path) -> None:
    inbox = InboxConfig("maildir", tmp_path, 1.0, "Processed", "Quarantine", "Triage", 4096, 500, 100, 10)
    assert (inbox.parse_seconds, inbox.folder, inbox.silence_alert_minutes, inbox.imap) == (5.0, "INBOX", 15, None)


@pytest.mark.parametrize(
    ("table", "key", "value", "message"),
    [
        ("schedule", "meeting_days", ["Munday"], "schedule.meeting_days: got 'Munday'"),
        ("schedule", "meeting_days", [], "schedule.meeting_days: got []; expected at least one day name"),
        ("schedule", "window_end", "09:30", 'schedule.window_end: got "09:30"; expected a time after'),
        ("schedule", "complex_minutes", 20, "schedule.complex_minutes: got 20; expected a multiple"),
        ("schedule", "slot_minutes", "15", "schedule.slot_minutes: got '15'; expected a whole number"),
        ("people", "duty_ds", "duty sergeant", "people.duty_ds: got 'duty sergeant'; expected an email"),
        ("bot", "timezone", "Europe/Londn", "bot.timezone: got 'Europe/Londn'"),
        (
            "inbox",
            "poll_secs",
            1.0,
            "inbox.poll_secs: unknown key; check its spelling against bot/config/defaults.toml",
        ),
        ("schedule", "closure_days", ["24/12/2026"], "schedule.closure_days: got '24/12/2026'; expected dates"),
        ("trust", "authentication_results_server_id", None, "trust.require_dmarc: got true"),
        ("trust", "sender_domains", [], "trust.sender_domains: got []; expected at least one domain"),
        ("bot", "address", None, "bot.address: missing; this key is required"),
        ("people", "ds_contacts", None, "people.ds_contacts: missing; expected at least one [[people.ds_contacts]]"),
        (
            "metrics",
            "textfile",
            "/no/such/folder/bot.prom",
            "metrics.textfile: got '/no/such/folder/bot.prom'; expected a file in an existing folder",
        ),
        ("metrics", "every_seconds", 0, "metrics.every_seconds: got 0; expected a whole number 1 or more"),
        ("timers", "escalation_second_minutes", 60, "timers.escalation_second_minutes: got 60; expected more than"),
        (
            "schedule",
            "bank_holidays_subdivision",
            "XXX",
            "schedule.bank_holidays_country / schedule.bank_holidays_subdivision: got 'GB' / 'XXX'; expected a country",
        ),
        ("", "templates_dir", "/no/such/folder", "templates_dir: got '/no/such/folder'; expected an existing folder"),
    ],
)
def test_a_bad_value_is_named_with_what_is_expected(
    tmp_path: Path, table: str, key: str, value: object, message: str
) -> None:
    data = example()
    where = data.setdefault(table, {}) if table else data
    if value is None:
        del where[key]
    else:
        where[key] = value
    with pytest.raises(ConfigError) as caught:
        parse_config(data, tmp_path, "bot.toml")
    assert message in str(caught.value)


def test_a_misspelt_key_in_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inbox.poll_secs: unknown key"):
        load_text(tmp_path, EXAMPLE_TEXT.replace("poll_seconds = 1.0", "poll_secs = 1.0"))


def test_not_toml_at_all(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_text(tmp_path, "[bot\naddress = ")


def test_an_unknown_adapter_kind_lists_the_known_ones(tmp_path: Path) -> None:
    from bot.wiring import check_kinds

    config = load_text(
        tmp_path,
        EXAMPLE_TEXT.replace('kind = "maildir"\npath = "strategy-bot-data/inbox"', 'kind = "pop3"\npath = "x"'),
    )
    with pytest.raises(ConfigError, match="inbox.kind: got 'pop3'; expected one of 'maildir'"):
        check_kinds(config)


def test_smtp_password_comes_from_the_named_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE_TEXT.replace(
        'kind = "maildir"\npath = "strategy-bot-data/sent"', 'kind = "smtp"\npath = "strategy-bot-data/sent"'
    )
    # TOML lets a sub-table be defined anywhere after its parent.
    text += (
        '\n[sender.smtp]\nhost = "smtp.police.example"\n'
        'password_env = "TEST_BOT_SMTP_PASSWORD"\nusername = "referrals@police.example"\n'
    )
    config = load_text(tmp_path, text)
    assert config.sender.smtp is not None
    assert (config.sender.smtp.security, config.sender.smtp.port) == ("starttls", 587)
    monkeypatch.delenv("TEST_BOT_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="TEST_BOT_SMTP_PASSWORD"):
        config.sender.smtp.password()
    monkeypatch.setenv("TEST_BOT_SMTP_PASSWORD", "s3cret")
    assert config.sender.smtp.password() == "s3cret"
    assert "s3cret" not in text
