"""`strategy-bot init` for a test's config file: the folders and database `run` and `check-config` now require."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from bot.cli import main


def init(config: Path) -> Path:
    """Create what ``config`` names (as an operator does before the first start); returns ``config``."""
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        code = main(["init", "--config", str(config)])
    assert code == 0, said.getvalue()
    return config
