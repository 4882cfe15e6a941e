"""`python -m bot` runs the command line."""

import sys

# Guarded: the reading-limit worker process imports this module as its main module.
if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        # Before anything else is imported: a SIGTERM in the daemon's first second is a clean stop.
        from bot import stop_request

        stop_request.install()
    from bot.cli import main

    sys.exit(main())
