"""Shared fixtures: a config on temporary folders and a builder of realistic request emails."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from bot.config import Config, load_config  # noqa: E402
from bot.wiring import Bot, build  # noqa: E402

LONDON = ZoneInfo("Europe/London")


def london(text: str) -> datetime:
    """'2026-11-23 09:00' as an aware London time."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(None, base=tmp_path)


@pytest.fixture
def bot(config: Config) -> Iterator[Bot]:
    built = build(config)
    yield built
    built.close()
