"""The bot's exception tree (adapters map library errors into it).

    PortbotError
    ├── ConfigError          the configuration is wrong: say what and where
    └── parsers.errors.ParseError (re-exported: input that cannot be read)
"""

from __future__ import annotations

from parsers.errors import ParseError


class PortbotError(Exception):
    """Base of the bot's own errors."""


class ConfigError(PortbotError):
    """Configuration that cannot be used; the message names the key."""


__all__ = ["ConfigError", "ParseError", "PortbotError"]
