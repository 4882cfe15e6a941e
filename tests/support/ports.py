"""Loopback ports for the test servers: one allocator for the session, never the same port twice.

``bind(127.0.0.1, 0)`` and closing the socket hands back a number that is free *now*; the next
call, another test's server or another process on a busy machine may get the same number before
the server binds it. Two things went wrong that way: a throw-away Dovecot was given the same
number for both its listeners (``duplicate listener``), and a stopped Dovecot's port was taken by
another process, which then answered in its place.

So each port handed out is *held* until the session ends: a socket stays bound to it, with
``SO_REUSEADDR`` and never listening. While it is held

- the kernel gives the number to no one else's ``bind(0)`` nor to an outgoing connection's
  source port;
- the server the test starts can still bind and listen on it (Dovecot, aiosmtpd, asyncio and
  ``socketserver`` all set ``SO_REUSEADDR``), and gets every connection while it listens;
- once that server stops, a connection to the port is refused at once: nothing answers in its
  place.

The numbers handed out are remembered too, so the allocator never hands one out twice in a
session even after it lets the sockets go.

Every test that starts a server must be marked ``servers`` (``tests/conftest.py`` marks the tests
that use the server fixtures); ``take`` refuses to hand a port to a test that is not, so a test
that would slip into the fast inner loop with a real server fails at once, naming itself.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

HOST = "127.0.0.1"

T = TypeVar("T")


class UnmarkedServerTest(RuntimeError):
    """A test started a server on loopback without the ``servers`` marker."""


@dataclass(frozen=True)
class _RunningTest:
    nodeid: str
    servers: bool


class Ports:
    """Hands out loopback TCP ports, each held for the session and never handed out twice."""

    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._held: dict[int, socket.socket] = {}
        self._given: set[int] = set()
        self._test: _RunningTest | None = None

    # -- what the conftest tells it --------------------------------------------------------------

    def running(self, nodeid: str | None, servers: bool = False) -> None:
        """The test now running (None between tests), and whether it is marked ``servers``."""
        self._test = _RunningTest(nodeid, servers) if nodeid is not None else None

    # -- ports -----------------------------------------------------------------------------------

    def take(self) -> int:
        """A port no one else can be given while this session runs, and that no server uses yet."""
        test = self._test
        if test is not None and not test.servers:
            raise UnmarkedServerTest(
                f"{test.nodeid} starts a server on loopback but is not marked `servers`: take the server "
                "from a fixture (start_server, line_server, ports, certs, ...) or mark the test "
                "@pytest.mark.servers, so that `pytest -m 'not servers'` leaves it out"
            )
        with self._lock:
            for _ in range(10_000):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    # Bound first without SO_REUSEADDR, so the kernel picks a port nothing is bound to.
                    sock.bind((self.host, 0))
                    # Then let the test's server (which sets SO_REUSEADDR) bind and listen beside it.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                except BaseException:
                    sock.close()
                    raise
                port: int = sock.getsockname()[1]
                if port in self._given:  # released earlier in the session: never hand it out again
                    sock.close()
                    continue
                self._given.add(port)
                self._held[port] = sock
                return port
        raise RuntimeError(f"no loopback port left that this session has not used ({len(self._given)} used)")

    def held(self, port: int) -> bool:
        """Whether ``port`` is held by this allocator (so no one else can listen on it)."""
        return port in self._held

    def refuses(self, port: int) -> bool:
        """Whether a connection to ``port`` is refused now: nothing listens there."""
        with socket.socket() as probe:
            return probe.connect_ex((self.host, port)) == errno.ECONNREFUSED

    def release_all(self) -> None:
        """Let go of every held port (at the end of the session); the numbers stay used."""
        with self._lock:
            for sock in self._held.values():
                sock.close()
            self._held.clear()

    def retrying(self, start: Callable[[], T], attempts: int = 5) -> T:
        """``start()`` again with new ports while it fails because a port is in use.

        Held ports make this rare (only a process binding that very number with SO_REUSEADDR can
        take one); a server that cannot bind says so plainly, so it is tried again, not waited for.
        """
        for attempt in range(attempts):
            try:
                return start()
            except OSError as error:
                if error.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")


PORTS = Ports()
"""The session's allocator: every test server takes its ports from here."""


def free_port() -> int:
    """A port for a test server (see ``Ports.take``)."""
    return PORTS.take()
