"""The TOML configuration, read once and validated into typed, frozen objects.

Every default is in ``defaults.toml`` beside this module, once, with its comment; a user's
file is read over it. Every error names the key, the bad value and what was expected
(``ConfigError``), so an admin can fix the file without reading code. Secrets never live in
the file: the file names the environment variable that holds them.
"""

from __future__ import annotations

from bot.config.errors import ConfigError
from bot.config.load import load_config, parse_config
from bot.config.schema import (
    BotConfig,
    CalendarConfig,
    ConferenceConfig,
    Config,
    DsContact,
    EwsConfig,
    GraphConfig,
    ImapConfig,
    InboxConfig,
    MetricsConfig,
    PeopleConfig,
    PrivacyConfig,
    ScheduleConfig,
    SenderConfig,
    SmtpConfig,
    StoreConfig,
    TimersConfig,
    TrustConfig,
    UrgentConfig,
)

__all__ = [
    "BotConfig",
    "CalendarConfig",
    "ConferenceConfig",
    "Config",
    "ConfigError",
    "DsContact",
    "EwsConfig",
    "GraphConfig",
    "ImapConfig",
    "InboxConfig",
    "MetricsConfig",
    "PeopleConfig",
    "PrivacyConfig",
    "ScheduleConfig",
    "SenderConfig",
    "SmtpConfig",
    "StoreConfig",
    "TimersConfig",
    "TrustConfig",
    "UrgentConfig",
    "load_config",
    "parse_config",
]
