"""The bot's own exceptions: adapters turn their library's errors into these."""


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class TransientError(BotError):
    """Worth retrying later: a server down, a timeout, a 4xx from SMTP."""


class PermanentError(BotError):
    """Retrying will not help: bad credentials, a 5xx rejection; a person must act."""


class SlotTaken(BotError):
    """The strategy calendar already has an event overlapping the one being booked."""
