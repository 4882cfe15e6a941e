"""`python -m bot` runs the command line."""

import sys

from bot.cli import main

# Guarded: the reading-limit worker process imports this module as its main module.
if __name__ == "__main__":
    sys.exit(main())
