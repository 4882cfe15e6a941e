"""Serving the board with uvicorn: in the foreground (`strategy-bot board`) or on a thread of the daemon."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from bot.board.access import Access, exposed_without_access
from bot.board.app import create_app
from bot.config.schema import BoardConfig
from bot.ports import Clock
from bot.service.setup import Setup

log = logging.getLogger("bot.board")

DEFAULT_LISTEN = "127.0.0.1:8080"


def host_and_port(listen: str) -> tuple[str, int]:
    host, _, port = (listen or DEFAULT_LISTEN).rpartition(":")
    return host.strip("[]"), int(port)


def board_server(setup: Setup, clock: Clock, cfg: BoardConfig, listen: str | None = None) -> uvicorn.Server:
    """A uvicorn server for the board; ValueError when it would be open to others with no access rule."""
    host, port = host_and_port(listen or cfg.listen)
    access = Access.from_config(cfg)
    if exposed_without_access(host, access):
        raise ValueError(
            f"board.listen: {host}:{port} is reachable from other machines and neither board.token_env nor "
            "board.trusted_proxy is set; listen on 127.0.0.1 behind the proxy, or set one of them"
        )
    app = create_app(setup, clock, access, cfg.refresh_seconds)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


class BoardThread:
    """The board on a thread of its own, started and stopped with the daemon."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, name="board", daemon=True)

    def start(self, timeout: float = 120.0) -> None:
        """Start serving; returns once the socket listens (RuntimeError if it cannot).

        A port that cannot be bound ends the thread at once; the deadline is only for a machine so
        busy that uvicorn is slow to start, and is generous so that such a machine still gets its board."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the board could not listen on {self.server.config.host}:{self.server.config.port}")
            time.sleep(0.02)
        log.info("board listening on %s:%d", self.server.config.host, self.server.config.port)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


class NoBoard:
    """``[board] listen`` not set: the daemon serves no board."""

    def stop(self, timeout: float = 10.0) -> None:
        return None


def start_board(setup: Setup, clock: Clock, cfg: BoardConfig) -> BoardThread | NoBoard:
    """The daemon's board when ``[board] listen`` is set, already listening; one that cannot start is logged,
    and the daemon goes on booking without it."""
    if not cfg.listen:
        return NoBoard()
    try:
        board = BoardThread(board_server(setup, clock, cfg))
        board.start()
    except (ValueError, RuntimeError) as exc:
        log.error("board not served: %s", exc)
        return NoBoard()
    return board
