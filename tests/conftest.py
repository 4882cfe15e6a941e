"""Shared fixtures (a config on temporary folders, the bot built on it) and the markers.

Markers, applied here at collection so that no test has to remember them:

- ``e2e``: every test under ``tests/e2e/``, by directory;
- ``servers``: every test that starts a real server on loopback (Dovecot, aiosmtpd, a scripted
  line server), by its fixtures: whatever asks for ``ports`` (which ``start_server`` and
  ``line_server`` do) or for the servers' ``certs``. A test that starts a server without being
  marked fails at once (``tests/support/ports.py``), so the fast inner loop,
  ``python -m pytest -m "not servers and not e2e"``, never starts one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.wiring import Bot, build
from tests.support.ports import PORTS

# Real servers on loopback (certificates, SMTP, scripted servers, the port allocator, PostgreSQL) as fixtures.
pytest_plugins = ["tests.support.mail_servers", "tests.support.postgres"]

E2E = Path(__file__).resolve().parent / "e2e"
SERVER_FIXTURES = frozenset({"ports", "certs"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    PORTS.running(item.nodeid, servers=item.get_closest_marker("servers") is not None)
    try:
        return (yield)
    finally:
        PORTS.running(None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    PORTS.release_all()


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """What a test leaves of the global logging set-up is undone (no order dependence between tests).

    ``strategy-bot`` commands run in-process (``main([...])``) call bot.logging_setup.configure,
    which puts a handler on the root logger writing to the sys.stderr of that moment (pytest's
    capture of that test), sets the root, bot and library levels, and keeps module globals.
    """
    import logging

    from bot import logging_setup

    root = logging.getLogger()
    names = ("bot", *logging_setup.LIBRARIES)
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in names}
    saved = (logging_setup._installed, logging_setup._repeats, logging_setup._verbose)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    logging_setup._installed, logging_setup._repeats, logging_setup._verbose = saved


@pytest.fixture(autouse=True)
def _process_state_restored() -> Iterator[None]:
    """The umask and the stop and reload signal handlers, as they were before the test.

    ``strategy-bot run`` in-process (``main(["run", ...])``, refused at start in some tests)
    sets the umask to 077 and installs bot.stop_request's handlers, for the rest of the session.
    """
    umask = os.umask(0o022)
    os.umask(umask)
    signums = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    handlers = {signum: signal.getsignal(signum) for signum in signums}
    yield
    os.umask(umask)
    for signum, handler in handlers.items():
        if signal.getsignal(signum) is not handler and handler is not None:
            signal.signal(signum, handler)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(None, base=tmp_path)


@pytest.fixture
def bot(config: Config) -> Iterator[Bot]:
    built = build(config)
    yield built
    built.close()
