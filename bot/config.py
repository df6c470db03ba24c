"""Configuration: TOML loaded once into frozen, validated values.

Nothing here reads the environment or a file at import time; `load_config` is
called by the composition root. Secrets (later: IMAP, SMTP, Zendesk) come from
environment variables or files named in the TOML, never from the TOML itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.ops.metrics import MetricsSettings
from bot.render.ticket import FIELD_SPECS, ZendeskNames
from parsers.limits import Limits
from rules.policy import Policy


@dataclass(frozen=True)
class ImapConfig:
    """[imap]: where support@ lives and how to log in (secrets by reference only)."""

    host: str = ""
    port: int = 993
    # "tls": TLS from the first byte (port 993); "starttls": plain, then STARTTLS (143).
    # Certificates are always verified; ca_file adds a CA (a self-signed server cert).
    security: str = "tls"
    ca_file: str = ""
    username: str = ""
    auth: str = "password"  # or "xoauth2"
    password_env: str = "PORTBOT_IMAP_PASSWORD"
    password_file: str = ""
    oauth2_token_command: tuple[str, ...] = ()
    oauth2_token_file: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    timeout_seconds: float = 60.0
    # The first run against a folder the state file does not know: "new" reads only
    # mail arriving from then on (a real support@ holds years of mail), "all" reads the
    # folder from its first message. `portbot poll --backlog` reads what "new" skipped.
    start: str = "new"

    def __post_init__(self) -> None:
        if self.security not in ("tls", "starttls"):
            raise ValueError('security must be "tls" or "starttls"')
        if self.auth not in ("password", "xoauth2"):
            raise ValueError('auth must be "password" or "xoauth2"')
        if not 0 < self.port < 65536:
            raise ValueError("port must be between 1 and 65535")
        if not self.folders:
            raise ValueError("folders must name at least one folder")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.start not in ("new", "all"):
            raise ValueError('start must be "new" or "all"')
        if self.auth == "xoauth2" and bool(self.oauth2_token_command) == bool(
            self.oauth2_token_file
        ):
            raise ValueError(
                'auth = "xoauth2" needs exactly one of oauth2_token_command, oauth2_token_file'
            )


@dataclass(frozen=True)
class StateConfig:
    """[state]: the SQLite file that remembers what was read (relative to the cwd)."""

    path: str = "portbot-state.sqlite3"

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("path must not be empty")


@dataclass(frozen=True)
class ScheduleConfig:
    """[schedule]: how `portbot run` wakes up."""

    poll_seconds: float = 60.0
    idle: bool = False
    idle_renew_seconds: float = 600.0  # servers drop an IDLE after ~30 minutes

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0 or self.idle_renew_seconds <= 0:
            raise ValueError("poll_seconds and idle_renew_seconds must be positive")


@dataclass(frozen=True)
class QuarantineConfig:
    """[quarantine]: where mail that cannot be handled is moved, on the same server."""

    folder: str = "Quarantine"
    max_delivery_attempts: int = 5

    def __post_init__(self) -> None:
        if not self.folder:
            raise ValueError("folder must not be empty")
        if self.max_delivery_attempts < 1:
            raise ValueError("max_delivery_attempts must be at least 1")


@dataclass(frozen=True)
class ZendeskConfig:
    """[zendesk]: the ticket desk. Without the section the bot only assesses.

    The API token is read at the edge (`token_file`, else the variable `token_env`),
    never written here. `url` sends the API calls elsewhere (the local emulator, a
    proxy) instead of https://SUBDOMAIN.zendesk.com.
    """

    subdomain: str = ""
    email: str = ""
    token_env: str = "PORTBOT_ZENDESK_TOKEN"
    token_file: str = ""
    url: str = ""
    timeout_seconds: float = 30.0
    # Zendesk allows 30 updates of one ticket per 10 minutes; beyond the budget an
    # update waits for a later cycle.
    updates_per_ticket: int = 30
    update_window_seconds: float = 600.0
    retry_attempts: int = 5
    retry_backoff_seconds: float = 1.0
    retry_max_backoff_seconds: float = 30.0
    retry_max_wait_seconds: float = 120.0
    names: ZendeskNames = field(default_factory=ZendeskNames)

    def __post_init__(self) -> None:
        if not self.subdomain and not self.url:
            raise ValueError("subdomain is required (or url, for the local emulator)")
        if not self.email:
            raise ValueError("email is required: the agent the API token belongs to")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {self.url!r}")
        if self.updates_per_ticket < 1 or self.update_window_seconds <= 0:
            raise ValueError("updates_per_ticket must be >= 1, update_window_seconds positive")
        if (
            self.retry_attempts < 1
            or min(
                self.retry_backoff_seconds,
                self.timeout_seconds,
                self.retry_max_backoff_seconds,
                self.retry_max_wait_seconds,
            )
            < 0
        ):
            raise ValueError("retry_attempts must be >= 1 and the waits not negative")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    def __repr__(self) -> str:
        return f"ZendeskConfig({self.subdomain or self.url!r}, {self.email!r})"


@dataclass(frozen=True)
class SmtpConfig:
    """[smtp]: where replies are sent. The password is read at the edge (password_file,
    else the variable password_env), never written here."""

    host: str = ""
    port: int = 587
    security: str = "starttls"  # or "tls" (implicit TLS, usually port 465)
    ca_file: str = ""
    username: str = ""
    password_env: str = "PORTBOT_SMTP_PASSWORD"
    password_file: str = ""
    timeout_seconds: float = 60.0
    envelope_from: str = ""

    def __post_init__(self) -> None:
        check_endpoint(self.host, self.security, self.port, self.timeout_seconds)


@dataclass(frozen=True)
class ReplyConfig:
    """[reply]: who the replies come from, and how they are kept in check."""

    support_address: str = ""
    support_name: str = "Porting Team"
    domain: str = ""  # of the Message-IDs we mint; the support address's domain when empty
    own_addresses: tuple[str, ...] = ()
    internal_domains: tuple[str, ...] = ()
    daily_cap: int = 5
    # A copy of each reply goes here (our own mailbox): after a crash its presence in
    # copy_folder proves the reply went out. Empty: no copy, a crash resends.
    copy_to: str = ""
    copy_folder: str = ""  # default: the first of [imap] folders

    def __post_init__(self) -> None:
        if "@" not in self.support_address:
            raise ValueError("support_address is required (the address replies come from)")
        if self.daily_cap < 0:
            raise ValueError("daily_cap must not be negative")
        if self.copy_to and "@" not in self.copy_to:
            raise ValueError("copy_to must be an email address")

    @property
    def message_domain(self) -> str:
        return (self.domain or self.support_address.rsplit("@", 1)[1]).lower()


@dataclass(frozen=True)
class RemindersConfig:
    """[reminders]: a request still missing items gets a reminder after remind_after_days
    of silence (at most max_reminders, that far apart), then the stale tag after
    stale_after_days more."""

    enabled: bool = True
    remind_after_days: float = 3.0
    stale_after_days: float = 4.0
    max_reminders: int = 1

    def __post_init__(self) -> None:
        if self.remind_after_days <= 0 or self.stale_after_days <= 0:
            raise ValueError("remind_after_days and stale_after_days must be positive")
        if self.max_reminders < 0:
            raise ValueError("max_reminders must not be negative")


@dataclass(frozen=True)
class StagesConfig:
    """[stages]: carrier-partner notices and agent changes on the ticket."""

    # Partner patterns (parsers/data/carrier_notices.toml's format) replacing the built-in.
    notice_patterns: str = ""
    # Refuse a notice that carries no DKIM/DMARC verdict from our server (not just a failed one).
    require_authenticated: bool = False
    # Read the stage agents set on tickets at most this often (seconds); 0: every cycle,
    # before the new mail, so a customer's follow-up never overwrites an agent's change.
    sync_seconds: float = 0.0
    # The reference we give the carrier partner when submitting, if it is derived from
    # the ticket: "LOFTY-ZD-{ticket}" ({request} for the request id). Notices quoting it
    # are matched by it; empty: matched by the partner's order id or the numbers.
    customer_ref_format: str = ""

    def __post_init__(self) -> None:
        if self.sync_seconds < 0:
            raise ValueError("sync_seconds must not be negative")


@dataclass(frozen=True)
class LoggingConfig:
    """[logging]: JSON lines or text ("auto": JSON unless stderr is a terminal), the level."""

    format: str = "auto"
    level: str = "INFO"

    def __post_init__(self) -> None:
        if self.format not in ("auto", "json", "text"):
            raise ValueError('format must be "auto", "json" or "text"')
        if self.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")

    @property
    def json(self) -> bool | None:
        return None if self.format == "auto" else self.format == "json"


@dataclass(frozen=True)
class Config:
    policy: Policy = field(default_factory=Policy)
    limits: Limits = field(default_factory=Limits)
    imap: ImapConfig = field(default_factory=ImapConfig)
    state: StateConfig = field(default_factory=StateConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    quarantine: QuarantineConfig = field(default_factory=QuarantineConfig)
    zendesk: ZendeskConfig | None = None  # None: no tickets, assessments only
    smtp: SmtpConfig | None = None  # None (or no [reply]): no replies
    reply: ReplyConfig | None = None
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    stages: StagesConfig = field(default_factory=StagesConfig)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def __post_init__(self) -> None:
        if (self.smtp is None) != (self.reply is None):
            have, need = ("smtp", "reply") if self.smtp is not None else ("reply", "smtp")
            raise ConfigError(f"[{have}] needs a [{need}] section too (replies need both)")


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


_BOOL_LIMITS = frozenset({"ocr", "sandbox"})
_WHOLE_LIMITS = frozenset({"worker_memory_mb", "worker_output_bytes", "workers", "worker_reads"})
_MIN_WORKER_MEMORY_MB = 256  # a worker's interpreter and libraries take about 170 MB


def _limits(data: dict[str, Any]) -> Limits:
    values = _section(Limits, data, "limits")
    if "ocr_off_reason" in values:  # set by the parsers themselves, not configurable
        raise ConfigError("[limits] has unknown key(s): ocr_off_reason")
    for key, value in values.items():
        if key in _BOOL_LIMITS:
            if not isinstance(value, bool):
                raise ConfigError(f"[limits] {key} must be true or false")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"[limits] {key} must be a positive number")
        elif key in _WHOLE_LIMITS and not isinstance(value, int):
            raise ConfigError(f"[limits] {key} must be a whole number")
    limits = Limits(**values)
    if limits.worker_memory_mb < _MIN_WORKER_MEMORY_MB:
        raise ConfigError(
            f"[limits] worker_memory_mb must be at least {_MIN_WORKER_MEMORY_MB} "
            "(a worker's interpreter and libraries alone take about 170 MB)"
        )
    if limits.ocr and limits.attachment_seconds < limits.ocr_seconds_per_page:
        raise ConfigError(
            "[limits] attachment_seconds must be at least ocr_seconds_per_page "
            "(one scanned page must fit in an attachment's time)"
        )
    return limits


_MAIL_SECTIONS: dict[str, type[Any]] = {
    "imap": ImapConfig,
    "state": StateConfig,
    "schedule": ScheduleConfig,
    "quarantine": QuarantineConfig,
}


def _mail_section(
    name: str, data: Any, cls: type[Any] | None = None, skip: frozenset[str] = frozenset()
) -> Any:
    """One of the intake sections, each key checked against the field's default type."""
    cls = cls or _MAIL_SECTIONS[name]
    if not isinstance(data, dict):
        raise ConfigError(f"[{name}] must be a table")
    defaults = {f.name: f.default for f in fields(cls) if f.name not in skip}
    unknown = sorted(set(data) - set(defaults))
    if unknown:
        raise ConfigError(f"[{name}] has unknown key(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in data.items():
        default = defaults[key]
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"[{name}] {key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"[{name}] {key} must be true or false")
        elif isinstance(default, int | float):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (isinstance(default, int) and not isinstance(value, int))
            ):
                raise ConfigError(f"[{name}] {key} must be a number")
        elif not isinstance(value, str):
            raise ConfigError(f"[{name}] {key} must be a string")
        values[key] = value
    try:
        return cls(**values)
    except ValueError as exc:
        text = str(exc)
        raise ConfigError(text if text.startswith(f"[{name}]") else f"[{name}] {text}") from exc


_NAME_KEYS = (
    "porting_tag",
    "stage_tag_prefix",
    "missing_tag_prefix",
    "problem_tag_prefix",
    "ready_tag",
    "follow_up_boss_tag",
    "subject_prefix",
    "rejection_tag_prefix",
    "stale_tag",
)


def _table(data: Any, name: str, value_type: type[Any], what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"[{name}] must be a table")
    for key, value in data.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, value_type)
            or (value_type is str and not value.strip())
        ):
            raise ConfigError(f"[{name}] {key} must be {what}")
    return data


def _zendesk(data: Any) -> ZendeskConfig:
    """[zendesk] with its tables: names (tags, subject), fields (ids), field_titles."""
    if not isinstance(data, dict):
        raise ConfigError("[zendesk] must be a table")
    tables = ("names", "fields", "field_titles")
    plain = {k: v for k, v in data.items() if k not in tables}
    base: ZendeskConfig = _mail_section("zendesk", plain, ZendeskConfig, frozenset({"names"}))
    names = _table(data.get("names", {}), "zendesk.names", str, "a non-empty string")
    unknown = sorted(set(names) - set(_NAME_KEYS))
    if unknown:
        raise ConfigError(
            f"[zendesk.names] has unknown key(s): {', '.join(unknown)}; "
            f"known: {', '.join(_NAME_KEYS)}"
        )
    ids = _table(data.get("fields", {}), "zendesk.fields", int, "a field id (a number)")
    titles = _table(data.get("field_titles", {}), "zendesk.field_titles", str, "a non-empty string")
    for table, values in (("fields", ids), ("field_titles", titles)):
        unknown = sorted(set(values) - set(FIELD_SPECS))
        if unknown:
            raise ConfigError(
                f"[zendesk.{table}] has unknown key(s): {', '.join(unknown)}; "
                f"known: {', '.join(FIELD_SPECS)}"
            )
    defaults = ZendeskNames()
    try:
        return replace(
            base,
            names=ZendeskNames(
                **names, field_ids=dict(ids), field_titles={**defaults.field_titles, **titles}
            ),
        )
    except ValueError as exc:
        raise ConfigError(f"[zendesk] {exc}") from exc


_OPTIONAL_SECTIONS: dict[str, type[Any]] = {
    "smtp": SmtpConfig,
    "reply": ReplyConfig,
    "reminders": RemindersConfig,
    "stages": StagesConfig,
    "metrics": MetricsSettings,
    "logging": LoggingConfig,
}


def parse_config(data: dict[str, Any]) -> Config:
    known = {"policy", "limits", "zendesk", *_MAIL_SECTIONS, *_OPTIONAL_SECTIONS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(unknown)}")
    mail = {name: _mail_section(name, data[name]) for name in _MAIL_SECTIONS if name in data}
    mail.update(
        {
            name: _mail_section(name, data[name], cls)
            for name, cls in _OPTIONAL_SECTIONS.items()
            if name in data
        }
    )
    zendesk = _zendesk(data["zendesk"]) if "zendesk" in data else None
    metrics_data = data.get("metrics", {})
    poll = mail["schedule"].poll_seconds if "schedule" in mail else ScheduleConfig().poll_seconds
    if isinstance(metrics_data, dict) and "stall_after_seconds" not in metrics_data:
        # left to its default, the stall limit follows a long poll interval
        metrics = mail.get("metrics", MetricsSettings())
        mail["metrics"] = replace(
            metrics, stall_after_seconds=max(metrics.stall_after_seconds, 3.0 * poll)
        )
    elif mail["metrics"].enabled:
        try:
            mail["metrics"].check_against_poll(poll)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    return Config(
        policy=_policy(data.get("policy", {})),
        limits=_limits(data.get("limits", {})),
        zendesk=zendesk,
        **mail,
    )


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


def check_endpoint(host: str, security: str, port: int, timeout_seconds: float) -> None:
    """The SMTP server settings both the [smtp] config and `SmtpSettings` must obey."""
    if not host:
        raise ValueError("host is required")
    if security not in ("tls", "starttls"):
        raise ValueError('security must be "tls" or "starttls"')
    if not 0 < port < 65536:
        raise ValueError("port must be between 1 and 65535")
    if timeout_seconds <= 0:
        raise ValueError("timeout_seconds must be positive")
