"""Personal data sealed at rest: the outbox's emails and each case's details, with keys from the environment.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``). ``privacy.key_env`` names an
environment variable holding one or more comma-separated keys: the first seals, all open, so
a key can be rotated without losing what was sealed before. Data written before sealing was
turned on is read as it is.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bot.config import ConfigError
from bot.errors import PermanentError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

PREFIX = b"sealed:v1:"
# ``cryptography`` is imported where a key is used: the commands that only read counts (`status`,
# `metrics`) and a bot that seals nothing do not load it (about 0.01 s).


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        self._fernet: MultiFernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])

    @classmethod
    def from_env(cls, key_env: str) -> Sealer:
        value = os.environ.get(key_env)
        if not value:
            raise ConfigError(
                f"privacy.key_env: environment variable {key_env!r} is not set; expected it to hold a key "
                "(`strategy-bot new-key` prints one)"
            )
        try:
            return cls([k for k in value.split(",") if k.strip()])
        except ValueError:
            raise ConfigError(
                f"privacy.key_env: environment variable {key_env!r} does not hold a valid key; expected "
                "32 url-safe base64-encoded bytes, comma-separated if more than one (`strategy-bot new-key`)"
            ) from None

    def seal(self, data: bytes) -> bytes:
        return PREFIX + self._fernet.encrypt(data)

    def open(self, data: bytes) -> bytes:
        if not data.startswith(PREFIX):
            return data  # written before sealing was turned on
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(data[len(PREFIX) :])
        except InvalidToken:
            raise PermanentError(
                "sealed data cannot be opened with the keys in privacy.key_env; was a key removed?"
            ) from None

    def seal_text(self, text: str) -> str:
        return self.seal(text.encode("utf-8")).decode("ascii")

    def open_text(self, text: str) -> str:
        return self.open(text.encode("ascii") if text.startswith(PREFIX.decode()) else text.encode("utf-8")).decode(
            "utf-8"
        )
