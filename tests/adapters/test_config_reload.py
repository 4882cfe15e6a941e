"""What SIGHUP would apply from an edited file and what it keeps (bot.reload.merge), key by key."""

from __future__ import annotations

from pathlib import Path

from bot.config import load_config
from bot.reload import merge

REPO = Path(__file__).resolve().parents[2]


def edited(tmp_path: Path, *changes: tuple[str, str], name: str = "edited.toml") -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name  # beside the original: relative paths resolve alike
    path.write_text(text, encoding="utf-8")
    return path


def test_live_keys_are_applied_and_the_others_kept_with_their_names(tmp_path: Path) -> None:
    old = load_config(edited(tmp_path, name="bot.toml"))
    new = load_config(
        edited(
            tmp_path,
            ('meeting_days = ["Monday", "Wednesday", "Friday"]', 'meeting_days = ["Tuesday"]'),
            ("poll_seconds = 1.0", "poll_seconds = 3.0"),
            ('path = "strategy-bot-data/inbox"', 'path = "other/inbox"'),
            ('address = "referrals@police.example"', 'address = "referrals2@police.example"'),
            ("[metrics]\n", '[logging]\nlevel = "warning"\n\n[metrics]\n'),
        )
    )
    result = merge(old, new)
    assert set(result.applied) == {"schedule.meeting_days", "inbox.poll_seconds", "logging.level"}
    assert {"inbox.path", "bot.address"} <= set(result.kept)
    assert all(not key.startswith(("schedule", "logging")) for key in result.kept)
    config = result.config
    assert config.schedule == new.schedule != old.schedule
    assert config.inbox.poll_seconds == 3.0 and config.logging.level == "warning"
    assert config.inbox.path == old.inbox.path and config.bot.address == old.bot.address


def test_an_unchanged_file_changes_nothing(tmp_path: Path) -> None:
    old = load_config(edited(tmp_path, name="bot.toml"))
    result = merge(old, load_config(edited(tmp_path)))
    assert (result.applied, result.kept) == ((), ())
    assert result.config == old
