"""The bot's own exceptions: adapters turn their library's errors into these."""


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class TransientError(BotError):
    """Worth retrying later: a server down, a timeout, a 4xx from SMTP."""


class ServerUnreachable(TransientError):
    """The server itself did not answer (refused, timed out, dropped): every email waits, not only this one."""


class PermanentError(BotError):
    """Retrying will not help: bad credentials, a 5xx rejection; a person must act."""


class StopActing(Exception):  # noqa: N818 - an order, not a fault
    """This instance must stop acting at once: another leads now (``sql_lease.LeaseLost``).

    Not a ``BotError``, and never a message's or a timer's failure: nothing quarantines it or alerts on
    it, since every write of this instance is refused from now on; the daemon stops on it.
    """


class StorageError(Exception):
    """The disk or the database failed (full, read-only, corrupt): no retry mends it, so the daemon stops.

    Not a ``BotError``, so that nothing handling a server's or a message's trouble takes it for its own;
    ``str()`` is the one line the operator reads, naming the path.
    """


class SlotTaken(BotError):
    """The strategy calendar already has an event overlapping the one being booked."""
