"""The one error a configuration mistake raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message says which and what is expected."""
