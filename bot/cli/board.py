"""`strategy-bot board`: the referral unit's live board in the foreground (issue 14 item 5)."""

from __future__ import annotations

import argparse
import sys

from bot.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, add_config, config_from


def cmd_board(args: argparse.Namespace) -> int:
    from bot.adapters.system_clock import SystemClock
    from bot.board.server import board_server, host_and_port
    from bot.cli.store_views import _refused
    from bot.wiring import board_setup, build

    config = config_from(args.config)
    if _refused(args, config):
        return EXIT_ERROR
    bot = build(config, with_mail=False)
    try:
        try:
            server = board_server(board_setup(bot), SystemClock(), config.board, args.listen)
        except ValueError as exc:
            print(f"strategy-bot board: {exc}", file=sys.stderr)
            return EXIT_USAGE
        host, port = host_and_port(args.listen or config.board.listen)
        print(f"strategy-bot board: http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr)
        server.run()
    finally:
        bot.close()
    return EXIT_OK


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    board = sub.add_parser("board", help="serve the referral unit's live board (read-only web page)")
    board.add_argument("--listen", help="HOST:PORT to listen on (default: board.listen, else 127.0.0.1:8080)")
    add_config(board)
    board.set_defaults(func=cmd_board)
