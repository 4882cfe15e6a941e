"""Configuration: the example is the embedded default, and every mistake is named precisely."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = (REPO / "config.example.toml").read_text(encoding="utf-8")


def load_text(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_the_embedded_default_is_the_example_file(tmp_path: Path) -> None:
    embedded = load_config(None, base=tmp_path)
    example = load_config(REPO / "config.example.toml", base=tmp_path)
    assert embedded == example
    assert embedded.bot.address == "referrals@police.example"
    assert embedded.people.duty_ds == "duty.ds@police.example"
    assert embedded.people.admin_support == "admin.support@police.example"
    assert embedded.people.mash_manager == "mash.manager@council.example"
    assert embedded.trust.authentication_results_server_id == "mx.police.example"
    assert embedded.trust.require_dmarc is True
    assert embedded.schedule.meeting_days == (0, 2, 4)
    assert embedded.schedule.cutoff == time(16, 0)
    assert embedded.inbox.path == tmp_path / "strategy-bot-data" / "inbox"


def test_every_key_in_the_example_is_commented() -> None:
    lines = EXAMPLE.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("["):
            continue
        # A key is commented on the line above it, or is part of a block under a comment.
        above = [line.strip() for line in lines[max(0, i - 6) : i]]
        assert any(a.startswith("#") for a in above), f"no comment near {stripped!r}"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'meeting_days = ["Monday", "Wednesday", "Friday"]',
            'meeting_days = ["Munday"]',
            "schedule.meeting_days: got 'Munday'",
        ),
        ('window_end = "11:30"', 'window_end = "09:30"', 'schedule.window_end: got "09:30"; expected a time after'),
        ("complex_minutes = 30", "complex_minutes = 20", "schedule.complex_minutes: got 20; expected a multiple"),
        ("slot_minutes = 15", 'slot_minutes = "15"', "schedule.slot_minutes: got '15'; expected a whole number"),
        (
            'duty_ds = "duty.ds@police.example"',
            'duty_ds = "duty sergeant"',
            "people.duty_ds: got 'duty sergeant'; expected an email",
        ),
        ('timezone = "Europe/London"', 'timezone = "Europe/Londn"', "bot.timezone: got 'Europe/Londn'"),
        ("poll_seconds = 1.0", "poll_secs = 1.0", "inbox.poll_secs: unknown key"),
        (
            "closure_days = []",
            'closure_days = ["24/12/2026"]',
            "schedule.closure_days: got '24/12/2026'; expected dates",
        ),
        ('authentication_results_server_id = "mx.police.example"', "", "trust.require_dmarc: got true"),
        (
            'sender_domains = ["council.example", "police.example", "nhs.example"]',
            "sender_domains = []",
            "trust.sender_domains",
        ),
        ('address = "referrals@police.example"', "", "bot.address: missing"),
        (
            '# textfile = "/var/lib/node_exporter/textfile/strategy_bot.prom"',
            'textfile = "/no/such/folder/bot.prom"',
            "metrics.textfile: got '/no/such/folder/bot.prom'; expected a file in an existing folder",
        ),
        ("every_seconds = 15", "every_seconds = 0", "metrics.every_seconds: got 0"),
        (
            'bank_holidays_subdivision = "ENG"',
            'bank_holidays_subdivision = "XXX"',
            "schedule.bank_holidays_country / schedule.bank_holidays_subdivision: got 'GB' / 'XXX'; expected a country",
        ),
    ],
)
def test_a_bad_value_is_named_with_what_is_expected(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in EXAMPLE
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, EXAMPLE.replace(old, new, 1))
    assert message in str(caught.value)


def test_not_toml_at_all(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_text(tmp_path, "[bot\naddress = ")


def test_an_unknown_adapter_kind_lists_the_known_ones(tmp_path: Path) -> None:
    from bot.wiring import check_kinds

    config = load_text(
        tmp_path, EXAMPLE.replace('kind = "maildir"\npath = "strategy-bot-data/inbox"', 'kind = "pop3"\npath = "x"')
    )
    with pytest.raises(ConfigError, match="inbox.kind: got 'pop3'; expected one of 'maildir'"):
        check_kinds(config)


def test_smtp_password_comes_from_the_named_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE.replace(
        'kind = "maildir"\npath = "strategy-bot-data/sent"', 'kind = "smtp"\npath = "strategy-bot-data/sent"'
    )
    # TOML lets a sub-table be defined anywhere after its parent.
    text += (
        '\n[sender.smtp]\nhost = "smtp.police.example"\n'
        'password_env = "TEST_BOT_SMTP_PASSWORD"\nusername = "referrals@police.example"\n'
    )
    config = load_text(tmp_path, text)
    assert config.sender.smtp is not None
    monkeypatch.delenv("TEST_BOT_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="TEST_BOT_SMTP_PASSWORD"):
        config.sender.smtp.password()
    monkeypatch.setenv("TEST_BOT_SMTP_PASSWORD", "s3cret")
    assert config.sender.smtp.password() == "s3cret"
    assert "s3cret" not in text
