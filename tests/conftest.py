"""Shared fixtures: a config on temporary folders and a builder of realistic request emails."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

# Real servers on loopback (certificates, SMTP) as fixtures for every test module.
pytest_plugins = ["mail_servers"]

from bot.config import Config, load_config  # noqa: E402
from bot.wiring import Bot, build  # noqa: E402


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(None, base=tmp_path)


@pytest.fixture
def bot(config: Config) -> Iterator[Bot]:
    built = build(config)
    yield built
    built.close()
