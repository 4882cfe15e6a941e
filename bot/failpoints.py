"""Crash points for the exactly-once tests: the daemon kills itself with SIGKILL at a named step.

Only a test sets ``STRATEGY_BOT_CRASH_AT``; in production the variable is absent and each
``reach`` is one dictionary lookup. The steps are the windows where a crash could lose or
double a request: after fetching, after committing, between moves, in the middle of an SMTP
session (logged in, the mail not yet given), and after the SMTP server accepted a mail but
before we recorded it.
"""

from __future__ import annotations

import os
import signal

ENV = "STRATEGY_BOT_CRASH_AT"
STEPS = ("after_fetch", "after_commit", "after_move", "during_send", "after_send")


def reach(step: str) -> None:
    if os.environ.get(ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
