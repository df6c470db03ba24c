"""Configuration: TOML loaded once into frozen, validated values.

Nothing here reads the environment or a file at import time; `load_config` is
called by the composition root. Secrets (later: IMAP, SMTP, Zendesk) come from
environment variables or files named in the TOML, never from the TOML itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from parsers.limits import Limits
from rules.policy import Policy


@dataclass(frozen=True)
class Config:
    policy: Policy = field(default_factory=Policy)
    limits: Limits = field(default_factory=Limits)


def _section(cls: type[Policy] | type[Limits], data: dict[str, Any], name: str) -> dict[str, Any]:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"[{name}] has unknown key(s): {', '.join(unknown)}")
    return data


def _policy(data: dict[str, Any]) -> Policy:
    values = dict(_section(Policy, data, "policy"))
    for key in ("supported_regions", "own_process_carriers"):
        if key in values:
            items = values[key]
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise ConfigError(f"[policy] {key} must be a list of strings")
            values[key] = frozenset(values[key])
    try:
        return Policy(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[policy] {exc}") from exc


def _limits(data: dict[str, Any]) -> Limits:
    values = _section(Limits, data, "limits")
    for key, value in values.items():
        if isinstance(value, bool) != (key == "ocr") or (
            not isinstance(value, bool) and (not isinstance(value, int | float) or value <= 0)
        ):
            raise ConfigError(f"[limits] {key} must be a positive number" if key != "ocr"
                              else "[limits] ocr must be true or false")  # fmt: skip
    return Limits(**values)


def parse_config(data: dict[str, Any]) -> Config:
    known = {"policy", "limits"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(unknown)}")
    return Config(policy=_policy(data.get("policy", {})), limits=_limits(data.get("limits", {})))


def load_config(path: Path | None) -> Config:
    """The configuration in `path`, or the embedded defaults when None."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data)
