"""Microsoft 365 through Microsoft Graph: the referral inbox, the sender and the strategy calendar.

``bot.wiring`` builds them with ``GraphInbox.from_config``, ``GraphSender.from_config`` and
``GraphCalendar.from_config``; docs/outlook.md tells an Exchange administrator how to set up
the app registration they sign in as.
"""

from bot.adapters.graph_calendar import GraphCalendar
from bot.adapters.graph_client import GraphClient
from bot.adapters.graph_inbox import GraphInbox
from bot.adapters.graph_sender import GraphSender

__all__ = ["GraphCalendar", "GraphClient", "GraphInbox", "GraphSender"]
