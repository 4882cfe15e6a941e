"""Exchange Server through EWS (exchangelib 5): the referral inbox, the sender and the strategy calendar.

exchangelib is imported by these modules only, and they only from ``bot.wiring``'s factories,
so the embedded default starts without it. ``bot.wiring`` builds them with
``EwsInbox.from_config``, ``EwsSender.from_config`` and ``EwsCalendar.from_config``.
"""

from bot.adapters.ews_calendar import UID_PROPERTY_NAME, UID_PROPERTY_SET, EwsCalendar
from bot.adapters.ews_inbox import EwsInbox
from bot.adapters.ews_sender import EwsSender

__all__ = ["UID_PROPERTY_NAME", "UID_PROPERTY_SET", "EwsCalendar", "EwsInbox", "EwsSender"]
