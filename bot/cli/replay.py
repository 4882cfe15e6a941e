"""`strategy-bot replay` and `demo`: saved emails through the service on a simulated clock."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.cli.common import EXIT_OK, EXIT_USAGE, add_config, config_from, instant


def cmd_replay(args: argparse.Namespace) -> int:
    from bot.replay import Replay, load

    config = config_from(args.config)
    try:
        saved = load([Path(p) for p in args.paths])
    except OSError as exc:
        print(f"strategy-bot replay: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    replay = Replay(config)
    try:
        for _item, _result, events in replay.run(saved, args.until):
            for event in events:
                print(json.dumps(event, ensure_ascii=False), flush=False)
    finally:
        replay.close()
    sys.stdout.flush()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    # The demo prints its own account of what happened; the daemon's warnings would only repeat it.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    return run_demo(config_from(args.config), Path(args.out), sys.stdout)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="replay the bundled example requests over a week and show the result")
    add_config(demo)
    demo.add_argument(
        "--out", default="strategy-bot-demo", help="folder for the rendered emails and .ics (default: %(default)s)"
    )
    demo.set_defaults(func=cmd_demo)

    replay = sub.add_parser("replay", help="dry-run saved emails through the service; JSON lines out")
    replay.add_argument("paths", nargs="+", metavar="PATH", help=".eml files or folders of them")
    add_config(replay)
    replay.add_argument("--until", type=instant, help="advance the simulated clock to this time at the end")
    replay.set_defaults(func=cmd_replay)
