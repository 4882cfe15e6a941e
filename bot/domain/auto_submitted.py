"""RFC 3834's ``Auto-Submitted`` for each email the bot sends: a reply to a person's mail, or not.

One place decides it (issue 13 item 8): ``auto-replied`` for the bot's direct answer to the
message it is handling (its confirmation, the request for missing details, the short replies);
``auto-generated`` for everything else: timer mail, notices and alerts to other people, and
anything sent with no incoming message behind it.
"""

from __future__ import annotations

from bot.domain.purposes import Purpose

P = Purpose

# The emails that answer the message that made them, sent back to the person who wrote.
ANSWERS = frozenset(
    {
        P.CONFIRMATION,
        P.MISSING_INFORMATION,
        P.URGENT_ACKNOWLEDGEMENT,
        P.TRIAGE_REPLY,
        P.COMMAND_HELP,
        "command_refused",
    }
)


def auto_submitted(purpose: str, in_reply_to: str | None) -> str:
    """``auto-replied`` for an answer to an incoming message, else ``auto-generated`` (RFC 3834 §5)."""
    return "auto-replied" if in_reply_to and purpose in ANSWERS else "auto-generated"
