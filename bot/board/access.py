"""Who may see the board, and the headers every answer carries (issue 14 item 5).

The board listens on 127.0.0.1 by default. To be reached by others it sits behind the
council's reverse proxy with sign-on: it then trusts only the configured header from the
configured proxy address; or it requires a bearer token from an environment variable.
With neither configured only the machine itself gets in. Anything else is 401, before any
route runs: no page, no fragment, no chart, no file.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from bot.config.schema import BoardConfig

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; img-src 'self' data:"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


@dataclass(frozen=True)
class Access:
    token: str | None = None
    trusted_proxy: str | None = None
    proxy_header: str | None = None  # lower case

    @classmethod
    def from_config(cls, cfg: BoardConfig) -> Access:
        """The rule ``[board]`` sets; the token is read from its environment variable now."""
        token = os.environ.get(cfg.token_env, "").strip() if cfg.token_env else ""
        if cfg.token_env and not token:
            raise ValueError(f"board.token_env: the environment variable {cfg.token_env} is not set or empty")
        return cls(token or None, cfg.trusted_proxy or None, cfg.proxy_header.lower() or None)

    @property
    def local_only(self) -> bool:
        return self.token is None and self.trusted_proxy is None

    def allows(self, client: str | None, headers: dict[str, str]) -> bool:
        if self.token is not None:
            given = headers.get("authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return True
        proxy, header = self.trusted_proxy, self.proxy_header
        if proxy is not None and header is not None and client == proxy and headers.get(header, "").strip():
            return True
        if self.local_only and client is not None:
            try:
                return ipaddress.ip_address(client).is_loopback
            except ValueError:
                return False
        return False


def exposed_without_access(host: str, access: Access) -> bool:
    """Listening beyond this machine with no token and no proxy: refused at start."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return access.local_only and not loopback


class Guard:
    """ASGI middleware: 401 for anyone ``access`` does not allow; the security headers on every answer."""

    def __init__(self, app: App, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client")
        host = client[0] if client else None

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        if not self.access.allows(host, headers):
            body = b"401 Unauthorized: sign on through the council's proxy, or give the board's token\n"
            await secured(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b'Bearer realm="strategy-bot board"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, secured)
