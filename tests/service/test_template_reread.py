"""Mail templates are compiled once and read again on SIGHUP (bot.reload), never per email."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import pytest

from bot.config import Config, ConfigError
from bot.mail.rendering import packaged_templates
from bot.reload import reload
from bot.wiring import Bot, build

CONTEXT = {"standard_subject": "Strategy discussion N123456"}


@pytest.fixture
def edited_bot(config: Config, tmp_path: Path) -> tuple[Bot, Path]:
    templates = tmp_path / "templates"
    shutil.copytree(packaged_templates(), templates)
    return build(dataclasses.replace(config, templates_dir=templates)), templates


def subject(bot: Bot) -> str:
    return bot.renderer.render_text("triage_reply.subject.j2", CONTEXT).strip()


def test_an_edited_template_is_used_from_the_next_sighup(edited_bot: tuple[Bot, Path]) -> None:
    bot, templates = edited_bot
    try:
        before = subject(bot)
        (templates / "triage_reply.subject.j2").write_text("Please resend: {{ standard_subject }}\n")
        assert subject(bot) == before  # compiled at start: the file is not read for each email
        reload(bot)
        assert subject(bot) == "Please resend: Strategy discussion N123456"
    finally:
        bot.close()


def test_a_broken_edit_is_refused_on_sighup_and_the_old_templates_stay(
    edited_bot: tuple[Bot, Path], caplog: pytest.LogCaptureFixture
) -> None:
    bot, templates = edited_bot
    try:
        before = subject(bot)
        (templates / "triage_reply.subject.j2").write_text("{% if standard_subject %}unclosed\n")
        with caplog.at_level(logging.ERROR, logger="bot.reload"):
            reload(bot)
        [refused] = [r.getMessage() for r in caplog.records if "mail templates" in r.getMessage()]
        assert "triage_reply.subject.j2 line" in refused and "still using the previous ones" in refused
        assert subject(bot) == before
    finally:
        bot.close()


def test_a_template_that_does_not_compile_is_refused_at_start_by_name(config: Config, tmp_path: Path) -> None:
    """Templates are compiled when checked: a filter that does not exist stops the start, not the first email."""
    templates = tmp_path / "templates"
    shutil.copytree(packaged_templates(), templates)
    (templates / "triage_reply.subject.j2").write_text("Not recognised\n{{ standard_subject | shout }}\n")
    with pytest.raises(ConfigError, match=r"triage_reply\.subject\.j2 line 2: No filter named 'shout'"):
        build(dataclasses.replace(config, templates_dir=templates))
