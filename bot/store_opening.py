"""The configured database alone, for the commands that only read it (`status`, `history`,
`metrics`, `health`, `migrate`): no templates, service, calendar or mail are set up, and nothing
heavier than the store is imported. ``bot.wiring`` builds the whole bot on top of ``STORES``.
`status` on SQLite goes further (``open_status_view``): not even SQLAlchemy.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from bot.config import Config, ConfigError
from bot.sealing import Sealer

if TYPE_CHECKING:  # imported when a store is opened: `status` on SQLite never imports SQLAlchemy
    from bot.adapters.sql_store import SqlStore


class View(Protocol):
    """What the read-only commands read: the configuration and the store. A whole ``Bot`` is one."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> SqlStore: ...


@dataclass
class StoreView:
    """The configuration and the store alone (a ``View``)."""

    config: Config
    store: SqlStore

    def close(self) -> None:
        self.store.dispose()


def _sealer(config: Config) -> Sealer | None:
    key_env = config.privacy.key_env
    return Sealer.from_env(key_env) if key_env else None


def _sqlite_store(config: Config) -> SqlStore:
    from bot.adapters.sql_store import SqlStore

    path = Path(config.store.url.removeprefix("sqlite:///"))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # personal data: the bot's user only
    return SqlStore(config.store.url, _sealer(config))


def _postgresql_store(config: Config) -> SqlStore:
    """The database URL (password included) comes from the environment, never from the file nor a log."""
    name = config.store.url_env
    url = os.environ.get(name, "").strip()
    if not url:
        raise ConfigError(
            f"store.postgresql.url_env: the environment variable {name} is not set; expected the database URL, "
            "e.g. postgresql+psycopg://strategy_bot:PASSWORD@db.example:5432/strategy_bot?sslmode=verify-full"
        )
    if not url.startswith(("postgresql+psycopg://", "postgresql://")):
        raise ConfigError(
            f"store.postgresql.url_env: {name} does not hold a PostgreSQL URL; "
            "expected postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE?sslmode=verify-full"
        )
    from bot.adapters.sql_store import SqlStore

    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return SqlStore(url, _sealer(config))


STORES: dict[str, Callable[[Config], SqlStore]] = {"sqlite": _sqlite_store, "postgresql": _postgresql_store}

# The kinds that need an optional extra (pyproject.toml), and the modules it brings.
EXTRAS = {"graph": ("msal", "requests"), "ews": ("exchangelib", "requests"), "postgresql": ("psycopg",)}


def pick(table: dict[str, Any], key: str, kind: str) -> Any:
    if kind not in table:
        raise ConfigError(f"{key}: got {kind!r}; expected one of " + ", ".join(repr(k) for k in table))
    return table[kind]


def require_extra(key: str, kind: str) -> None:
    for module in EXTRAS.get(kind, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError(
                f'{key}: got "{kind}", but the {kind} extra is not installed ({module} is missing); '
                f"install it with: pip install 'strategy-bot[{kind}]'"
            ) from None


def open_store(config: Config) -> SqlStore:
    """The configured database, its schema not checked (``strategy-bot migrate`` brings it up to date)."""
    kind = config.store.kind
    require_extra("store.kind", kind)
    store: SqlStore = pick(STORES, "store.kind", kind)(config)
    return store


def open_view(config: Config) -> StoreView:
    """The configured database, its schema checked as at every start (an older or newer one is refused)."""
    store = open_store(config)
    try:
        store.check_schema()
    except BaseException:
        store.dispose()
        raise
    return StoreView(config, store)


def open_status_view(config: Config) -> StoreView:
    """What `status` reads: a SQLite database at the newest revision through the standard library
    (``sqlite_reader``, SQLAlchemy not imported); any other database as ``open_view`` opens it.

    The reader has what ``bot.status`` reads of a store (``connection``, ``get_state``,
    ``dialect``) and nothing else, so it is only ever handed to ``render_status``/``status_json``.
    """
    if config.store.kind == "sqlite":
        from bot.adapters.sqlite_reader import SqliteReader

        _sealer(config)  # a key variable that is not set is refused here as at every start
        reader = SqliteReader.at_head(Path(config.store.url.removeprefix("sqlite:///")), config.store.url)
        if reader is not None:
            return StoreView(config, cast("SqlStore", reader))
    return open_view(config)
