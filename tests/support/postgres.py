"""A real PostgreSQL for the tests, on loopback: one server for the session, a fresh database per test.

The server is Debian's ``postgresql`` package (``initdb`` found by a glob over
``/usr/lib/postgresql/*/bin``, so any major version does), initialised in a temporary folder and
started on a port from the session's allocator (``tests/support/ports.py``). ``initdb`` refuses
to run as root, so as root the folder is given to the ``postgres`` system user and the server
runs as that user (``runuser``). It is waited for by connecting to it, never by sleeping.

Fixtures (loaded as a pytest plugin by ``tests/conftest.py``):

- ``postgres``: the session's ``PostgresServer``; ``postgres.create_database()`` gives the URL of
  another fresh, empty database (for a test that needs two);
- ``postgres_url``: the URL (``postgresql+psycopg://...``) of a fresh, empty database for this test.

Both ask for ``ports``, so every test using them is marked ``servers``. There is no skip: a
machine without PostgreSQL fails these tests, naming what to install.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.ports import HOST, Ports

SUPERUSER = "strategy"
# Fast and throw-away: nothing here must survive a crash of the machine.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "listen_addresses": HOST,
}


def _bin(name: str) -> Path:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major, reverse=True)
    if not found:
        found_on_path = shutil.which(name)
        if found_on_path is None:
            raise RuntimeError(
                f"PostgreSQL's {name} not found in /usr/lib/postgresql/*/bin nor on PATH: "
                "install it (apt-get install postgresql) to run the PostgreSQL tests"
            )
        return Path(found_on_path)
    return Path(found[0])


def _major(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


class PostgresServer:
    """A throw-away PostgreSQL cluster on loopback, trusting local connections."""

    def __init__(self, port: int, durable: bool = False) -> None:
        self.port = port
        # The tests need no durability; a benchmark (bench/backlog.py) measures with it.
        self.settings = {"max_connections": "200", "listen_addresses": HOST} if durable else SETTINGS
        self.folder = Path(tempfile.mkdtemp(prefix="strategy-bot-pg-"))
        self.data = self.folder / "data"
        self.sockets = self.folder / "sockets"
        self.log = self.folder / "postgres.log"
        self._as: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    def _own(self) -> None:
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam("postgres")
        for path in (self.folder, self.sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        self._as = ["runuser", "-u", "postgres", "--"]

    def start(self) -> None:
        self.sockets.mkdir()
        self._own()
        subprocess.run(
            [*self._as, str(_bin("initdb")), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
            + ["--locale=C.UTF-8", "--no-sync"],
            check=True,
            capture_output=True,
        )
        options = [f"-c{key}={value}" for key, value in self.settings.items()]
        with open(self.log, "wb") as log:
            self._process = subprocess.Popen(
                [*self._as, str(_bin("postgres")), "-D", str(self.data), "-p", str(self.port)]
                + ["-k", str(self.sockets), *options],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait()

    def _wait(self) -> None:
        # Polled by connecting: the server answers as soon as it is ready, or dies saying why.
        deadline = time.monotonic() + 120  # an overall bound only
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start:\n{self.log.read_text(errors='replace')}")
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def dsn(self, database: str) -> str:
        """A libpq connection string (for psycopg directly)."""
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str) -> str:
        """A SQLAlchemy URL (what ``STRATEGY_BOT_DATABASE_URL`` holds)."""
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database``, closing any session still on it."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown
            try:
                self._process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(ports: Ports) -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started by the first test that needs it)."""
    server = ports.retrying(lambda: _started(PostgresServer(ports.take())))
    try:
        yield server
    finally:
        server.stop()


def _started(server: PostgresServer) -> PostgresServer:
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test: no test sees another's rows. Dropped after the test."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)
