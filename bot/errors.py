"""The bot's own exceptions: adapters turn their library's errors into these."""


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class TransientError(BotError):
    """Worth retrying later: a server down, a timeout, a 4xx from SMTP."""


class ServerUnreachable(TransientError):
    """The server itself did not answer (refused, timed out, dropped): every email waits, not only this one."""


class PermanentError(BotError):
    """Retrying will not help: bad credentials, a 5xx rejection; a person must act."""


class StorageError(Exception):
    """The disk or the database failed (full, read-only, corrupt): no retry mends it, so the daemon stops.

    Not a ``BotError``, so that nothing handling a server's or a message's trouble takes it for its own;
    ``str()`` is the one line the operator reads, naming the path.
    """


class SlotTaken(BotError):
    """The strategy calendar already has an event overlapping the one being booked."""
