"""Configuration: TOML loaded once into frozen values that pydantic validates.

One model per section: `[imap]` is `ImapConfig`, `[smtp]` is `SmtpConfig`, and so on.
Each is a frozen pydantic dataclass whose annotations say what a key may hold (strict
types: TOML's `1` is not `true`, `"993"` is not a port) and whose validators say what
contradicts what. A mistake becomes one line that names the section and the key
(`[imap] port must be a number`), never a pydantic report. To add a section: write its
dataclass with the `_SECTION` config, add it to `Config` and to `_SECTIONS`.

The policy and limit values belong to `rules/` and `parsers/`, and the metrics and
ticket names to `bot/ops` and `bot/render`, which know nothing of pydantic: their
sections are checked by models mirrored from those dataclasses' fields.

Nothing here reads the environment or a file at import time; `load_config` is called
by the composition root. Secrets (IMAP, SMTP, Zendesk) come from environment variables
or files named in the TOML, never from the TOML itself. Relative paths in the file are
taken relative to the file's own folder.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    Strict,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
    WrapValidator,
    create_model,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from bot.errors import ConfigError, PortbotError
from bot.ops.metrics import MetricsSettings
from bot.render.loa_form import LoaTemplate
from bot.render.ticket import FIELD_SPECS, ZendeskNames
from parsers.limits import Limits
from rules.policy import Policy

# -- what a key may hold --------------------------------------------------------------

_SECTION = ConfigDict(extra="forbid")


def _says(message: str) -> WrapValidator:
    """Any mistake in the value is reported as `message` (e.g. "must be a field id")."""

    def check(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("config", message) from None

    return WrapValidator(check)


def _not_empty(value: Any) -> Any:
    if not value:
        raise PydanticCustomError("config", "must not be empty")
    return value


def _positive_number(value: float) -> float:
    if value <= 0:
        raise PydanticCustomError("config", "must be a positive number")
    return value


Whole = Annotated[int, Strict()]
Number = Annotated[float, Strict()]  # a whole number is a number too
Flag = StrictBool
Text = StrictStr
Texts = tuple[StrictStr, ...]  # a TOML list of strings
NonEmpty = Annotated[StrictStr, AfterValidator(_not_empty)]
Positive = Annotated[Number, Field(gt=0)]
NotNegative = Annotated[Number, Field(ge=0)]
Port = Annotated[Whole, Field(ge=1, le=65535)]
# "plain" (no TLS at all) only for a server on this machine; see check_endpoint.
Security = Annotated[
    Literal["tls", "starttls", "plain"],
    _says('must be "tls" or "starttls" ("plain", without TLS, only for a server on loopback)'),
]


class _RelativeToFile:
    """Marks a key holding a path: relative, it is taken from the config file's folder."""


FilePath = Annotated[StrictStr, _RelativeToFile()]
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: the only hosts spoken to without TLS."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _plain_only_on_loopback(host: str, security: str) -> None:
    if security == "plain" and host and not is_loopback(host):
        raise ValueError(
            f'security = "plain" (no TLS) is allowed only for a server on this machine '
            f'(127.0.0.1, ::1, localhost), not {host}: use "tls" or "starttls", and '
            "ca_file if the server's certificate comes from a private CA"
        )


# -- the sections -----------------------------------------------------------------------


@dataclass(frozen=True, config=_SECTION)
class ImapConfig:
    """[imap]: where support@ lives and how to log in (secrets by reference only)."""

    host: Text = ""
    port: Port = 993
    # "tls": TLS from the first byte (port 993); "starttls": plain, then STARTTLS (143);
    # "plain": no TLS, only for a server on loopback (with a warning at each login).
    # Certificates are always verified; ca_file adds a CA (a self-signed server cert).
    security: Security = "tls"
    ca_file: FilePath = ""
    username: Text = ""
    auth: Literal["password", "xoauth2"] = "password"
    password_env: Text = "PORTBOT_IMAP_PASSWORD"
    password_file: FilePath = ""
    oauth2_token_command: Texts = ()
    oauth2_token_file: FilePath = ""
    folders: Annotated[
        Texts, Field(min_length=1), _says("must name at least one folder (a list of strings)")
    ] = ("INBOX",)
    timeout_seconds: Positive = 60.0
    # The first run against a folder the state file does not know: "new" reads only
    # mail arriving from then on (a real support@ holds years of mail), "all" reads the
    # folder from its first message. `portbot poll --backlog` reads what "new" skipped.
    start: Literal["new", "all"] = "new"

    @model_validator(mode="after")
    def _one_token_source(self) -> Self:
        _plain_only_on_loopback(self.host, self.security)
        if self.auth == "xoauth2" and bool(self.oauth2_token_command) == bool(
            self.oauth2_token_file
        ):
            raise ValueError(
                'auth = "xoauth2" needs exactly one of oauth2_token_command, oauth2_token_file'
            )
        return self


@dataclass(frozen=True, config=_SECTION)
class StateConfig:
    """[state]: the SQLite file that remembers what was read (relative: to the config file)."""

    path: Annotated[NonEmpty, _RelativeToFile()] = "portbot-state.sqlite3"


@dataclass(frozen=True, config=_SECTION)
class ScheduleConfig:
    """[schedule]: how `portbot run` wakes up."""

    poll_seconds: Positive = 60.0
    idle: Flag = True  # IMAP IDLE where the server announces it; the poll is the fallback
    idle_renew_seconds: Positive = 600.0  # servers drop an IDLE after ~30 minutes


@dataclass(frozen=True, config=_SECTION)
class QuarantineConfig:
    """[quarantine]: where mail that cannot be handled is moved, on the same server."""

    folder: NonEmpty = "Quarantine"
    max_delivery_attempts: Annotated[Whole, Field(ge=1)] = 5


@dataclass(frozen=True, config=_SECTION)
class ZendeskConfig:
    """[zendesk]: the ticket desk. Without the section the bot only assesses.

    The API token is read at the edge (`token_file`, else the variable `token_env`),
    never written here. `url` sends the API calls elsewhere (the local emulator, a
    proxy) instead of https://SUBDOMAIN.zendesk.com. Its tables `[zendesk.names]`,
    `[zendesk.fields]` and `[zendesk.field_titles]` become `names`.
    """

    subdomain: Text = ""
    email: Text = ""
    token_env: Text = "PORTBOT_ZENDESK_TOKEN"
    token_file: FilePath = ""
    url: Text = ""
    timeout_seconds: Positive = 30.0
    # Zendesk allows 30 updates of one ticket per 10 minutes; beyond the budget an
    # update waits for a later cycle.
    updates_per_ticket: Annotated[Whole, Field(ge=1)] = 30
    update_window_seconds: Positive = 600.0
    retry_attempts: Annotated[Whole, Field(ge=1)] = 5
    retry_backoff_seconds: NotNegative = 1.0
    retry_max_backoff_seconds: NotNegative = 30.0
    retry_max_wait_seconds: NotNegative = 120.0
    # "create": the bot is the mailbox's only intake and opens each request's ticket.
    # "annotate": the desk's own email channel already makes a ticket of every email;
    # the bot finds that ticket (by the email's Message-ID) and pre-fills it, never
    # creating one; a message waits until the desk's ticket appears.
    mode: Literal["create", "annotate"] = "create"
    names: InstanceOf[ZendeskNames] = field(default_factory=ZendeskNames)

    @model_validator(mode="after")
    def _account(self) -> Self:
        if not self.subdomain and not self.url:
            raise ValueError("subdomain is required (or url, for the local emulator)")
        if not self.email:
            raise ValueError("email is required: the agent the API token belongs to")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {self.url!r}")
        return self

    def __repr__(self) -> str:
        return f"ZendeskConfig({self.subdomain or self.url!r}, {self.email!r})"


@dataclass(frozen=True, config=_SECTION)
class SmtpConfig:
    """[smtp]: where replies are sent. The password is read at the edge (password_file,
    else the variable password_env), never written here."""

    host: Text = ""
    port: Port = 587
    security: Security = "starttls"  # "tls" (implicit TLS, usually 465); "plain": loopback only
    ca_file: FilePath = ""
    username: Text = ""
    password_env: Text = "PORTBOT_SMTP_PASSWORD"
    password_file: FilePath = ""
    timeout_seconds: Positive = 60.0
    envelope_from: Text = ""

    @model_validator(mode="after")
    def _endpoint(self) -> Self:
        check_endpoint(self.host, self.security, self.port, self.timeout_seconds)
        return self


def _address(value: str) -> str:
    if "@" not in value:
        raise PydanticCustomError("config", "must be an email address")
    return value


@dataclass(frozen=True, config=_SECTION)
class ReplyConfig:
    """[reply]: who the replies come from, and how they are kept in check."""

    support_address: Text = ""
    support_name: Text = "Porting Team"
    domain: Text = ""  # of the Message-IDs we mint; the support address's domain when empty
    own_addresses: Texts = ()
    internal_domains: Texts = ()
    daily_cap: Annotated[Whole, Field(ge=0)] = 5
    # A copy of each reply goes here (our own mailbox): after a crash its presence in
    # copy_folder proves the reply went out. Empty: no copy, a crash resends.
    copy_to: Annotated[Text, AfterValidator(lambda v: v and _address(v))] = ""
    copy_folder: Text = ""  # default: the first of [imap] folders
    # "smtp": the bot sends the reply itself; "zendesk": the reply is a public comment
    # on the request's ticket, and Zendesk emails it (needs [zendesk], not [smtp])
    via: Literal["smtp", "zendesk"] = "smtp"
    # A folder of templates and a wording.toml overriding the package's file by file
    # (bot/render/templates/); checked by `portbot doctor` and at start-up
    templates_dir: FilePath = ""

    @model_validator(mode="after")
    def _support_address(self) -> Self:
        if "@" not in self.support_address:
            raise ValueError("support_address is required (the address replies come from)")
        return self

    @property
    def message_domain(self) -> str:
        return (self.domain or self.support_address.rsplit("@", 1)[1]).lower()


@dataclass(frozen=True, config=_SECTION)
class RemindersConfig:
    """[reminders]: a request still missing items gets a reminder after remind_after_days
    of silence (at most max_reminders, that far apart), then the stale tag after
    stale_after_days more."""

    enabled: Flag = True
    remind_after_days: Positive = 3.0
    stale_after_days: Positive = 4.0
    max_reminders: Annotated[Whole, Field(ge=0)] = 1


_LOA = LoaTemplate()


@dataclass(frozen=True, config=_SECTION)
class LoaConfig:
    """[loa]: the filled-in LOA a reply carries when the customer's LOA is missing or has
    a problem (bot/render/loa_form.py). `{company}` in the wording stands for
    company_name (empty: [reply] support_name); more numbers than numbers_first_page
    are listed from page 2 on."""

    enabled: Flag = True
    company_name: Text = ""
    title: Text = _LOA.title
    authorization: Text = _LOA.authorization
    attestation: Text = _LOA.attestation
    footer: Text = _LOA.footer
    numbers_first_page: Annotated[Whole, Field(ge=1, le=24)] = _LOA.numbers_first_page

    def template(self, default_company: str) -> LoaTemplate:
        return LoaTemplate(
            company_name=self.company_name or default_company,
            title=self.title,
            authorization=self.authorization,
            attestation=self.attestation,
            footer=self.footer,
            numbers_first_page=self.numbers_first_page,
        )


@dataclass(frozen=True, config=_SECTION)
class StagesConfig:
    """[stages]: carrier-partner notices and agent changes on the ticket."""

    # Partner patterns (parsers/data/carrier_notices.toml's format) replacing the built-in.
    notice_patterns: FilePath = ""
    # Refuse a notice that carries no DKIM/DMARC verdict from our server (not just a failed one).
    require_authenticated: Flag = False
    # Read the stage agents set on tickets at most this often (seconds); 0: every cycle,
    # before the new mail, so a customer's follow-up never overwrites an agent's change.
    sync_seconds: NotNegative = 0.0
    # The reference we give the carrier partner when submitting, if it is derived from
    # the ticket: "LOFTY-ZD-{ticket}" ({request} for the request id). Notices quoting it
    # are matched by it; empty: matched by the partner's order id or the numbers.
    customer_ref_format: Text = ""
    # A completed or cancelled port solves its ticket (false: agents solve it by hand).
    solve_when_final: Flag = True


def _patterns(value: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise PydanticCustomError("config", f"bad pattern {pattern!r}: {exc}") from exc
    return value


@dataclass(frozen=True, config=_SECTION)
class SortingConfig:
    """[sorting]: support@ is shared with the desk; only porting mail is the bot's.

    A new conversation is a porting request when its score (words that ask for a port,
    a bill or number list attached, numbers, PINs, a carrier; rules/data/porting_mail.toml)
    reaches `threshold`; anything else (a question, an out-of-office, a bounce, a list)
    is recorded and counted, never ticketed or answered. `enabled = false`: every message
    is treated as a porting request (a mailbox that receives nothing else)."""

    enabled: Flag = True
    threshold: Annotated[Whole, Field(ge=0)] | None = None  # None: the built-in (3)
    extra_words: Annotated[Texts, AfterValidator(_patterns)] = ()  # regular expressions


@dataclass(frozen=True, config=_SECTION)
class CarrierConfig:
    """[carrier]: the carrier partner's API (Twilio's Numbers v1 porting; issue 17).

    Portability is asked at intake (cached `cache_hours`, never holding up the mail),
    an agent's move to "submitted" (or `portbot submit`) creates the port-in, and its
    status comes back by webhook (`webhook_listen`, validated against `webhook_url`,
    the public URL Twilio posts to) and by polling every `poll_seconds`. The auth token
    is read at the edge (`auth_token_file`, else the variable `auth_token_env`).
    `api_url` and `upload_url` send the calls elsewhere (the local emulator)."""

    partner: Literal["twilio"] = "twilio"
    account_sid: Text = ""
    auth_token_env: Text = "PORTBOT_TWILIO_AUTH_TOKEN"
    auth_token_file: FilePath = ""
    api_url: Text = "https://numbers.twilio.com"
    upload_url: Text = "https://numbers-upload.twilio.com"
    timeout_seconds: Positive = 15.0
    portability: Flag = True
    cache_hours: NotNegative = 24.0
    min_days: Annotated[Whole, Field(ge=7)] = 7
    notification_emails: Texts = ()
    poll_seconds: NotNegative = 900.0
    webhook_listen: Text = ""  # "HOST:PORT"; empty: no receiver, polling only
    webhook_url: Text = ""

    @model_validator(mode="after")
    def _account(self) -> Self:
        if not re.fullmatch(r"AC[0-9a-fA-F]{32}", self.account_sid):
            raise ValueError("account_sid is required: AC and 32 hex digits")
        for key in ("api_url", "upload_url"):
            if not getattr(self, key).startswith(("http://", "https://")):
                raise ValueError(f"{key} must start with http:// or https://")
        if bool(self.webhook_listen) != bool(self.webhook_url):
            raise ValueError("webhook_listen and webhook_url go together")
        if self.webhook_listen and not re.fullmatch(r"[^:\s]+:\d{1,5}", self.webhook_listen):
            raise ValueError(f"webhook_listen must be HOST:PORT, not {self.webhook_listen!r}")
        return self


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level(value: str) -> str:
    if value.upper() not in _LEVELS:
        raise PydanticCustomError("config", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


@dataclass(frozen=True, config=_SECTION)
class LoggingConfig:
    """[logging]: JSON lines or text ("auto": JSON unless stderr is a terminal), the level."""

    format: Literal["auto", "json", "text"] = "auto"
    level: Annotated[Text, AfterValidator(_level)] = "INFO"

    @property
    def json(self) -> bool | None:
        return None if self.format == "auto" else self.format == "json"


@dataclasses.dataclass(frozen=True)
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
    loa: LoaConfig = field(default_factory=LoaConfig)
    stages: StagesConfig = field(default_factory=StagesConfig)
    sorting: SortingConfig = field(default_factory=SortingConfig)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    carrier: CarrierConfig | None = None  # None: no partner API (notices by email only)

    def __post_init__(self) -> None:
        if self.reply is not None and self.reply.via == "zendesk":
            if self.zendesk is None:
                raise ConfigError('[reply] via = "zendesk" needs a [zendesk] section')
        elif (self.smtp is None) != (self.reply is None):
            have, need = ("smtp", "reply") if self.smtp is not None else ("reply", "smtp")
            raise ConfigError(f"[{have}] needs a [{need}] section too (replies need both)")


# The sections read as they are, by their model; [policy], [limits], [metrics] and
# [zendesk] (with its tables) are read below.
_SECTIONS: dict[str, type[Any]] = {
    "imap": ImapConfig,
    "state": StateConfig,
    "schedule": ScheduleConfig,
    "quarantine": QuarantineConfig,
    "smtp": SmtpConfig,
    "reply": ReplyConfig,
    "reminders": RemindersConfig,
    "loa": LoaConfig,
    "stages": StagesConfig,
    "sorting": SortingConfig,
    "logging": LoggingConfig,
    "carrier": CarrierConfig,
}


# -- secrets ------------------------------------------------------------------------------


def read_secret(
    section: str,
    file_key: str,
    file: str,
    env_name: str,
    what: str,
    environ: Mapping[str, str] | None = None,
    error: type[PortbotError] = ConfigError,
) -> str:
    """The one way a secret is read: the first line of the file the configuration names
    (`[section] file_key`), else the environment variable `env_name`; never the TOML.

    `what` names the secret for the person fixing it ("IMAP password"); `error` is the
    class raised (the IMAP adapter's login error, so that a missing password waits like
    a refused one). The message never holds the secret.
    """
    if file:
        try:
            lines = Path(file).read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise error(f"[{section}] {file_key} {file} cannot be read: {exc.strerror}") from exc
        if not lines or not lines[0].strip():
            raise error(f"[{section}] {file_key} {file} is empty")
        return lines[0].strip()
    value = (os.environ if environ is None else environ).get(env_name, "").strip()
    if not value:
        raise error(f"no {what}: set the environment variable {env_name} or [{section}] {file_key}")
    return value


# -- sections whose values belong to other layers ---------------------------------------

_MIN_WORKER_MEMORY_MB = 256  # a worker's interpreter and libraries take about 170 MB

# The strict type of a mirrored field, by its annotation in the other layer's dataclass.
_STRICT: dict[str, Any] = {
    "int": Whole,
    "float": Number,
    "bool": Flag,
    "str": Text,
    "frozenset[str]": Annotated[frozenset[StrictStr], _says("must be a list of strings")],
    "Mapping[str, str]": dict[StrictStr, NonEmpty],
}
_POSITIVE: dict[str, Any] = {
    "int": Annotated[Whole, AfterValidator(_positive_number)],
    "float": Annotated[Number, AfterValidator(_positive_number)],
}


def _model(name: str, fields: dict[str, Any]) -> type[BaseModel]:
    """A section model whose keys are all optional (what is left out keeps its default)."""
    optional: dict[str, Any] = {key: (kind | None, None) for key, kind in fields.items()}
    return create_model(name, __config__=_SECTION, **optional)


def _mirror(
    cls: type[Any], *, skip: frozenset[str] = frozenset(), types: Mapping[str, Any] = _STRICT
) -> type[BaseModel]:
    """A model of `cls`'s fields (those not in `skip`), each with its strict type."""
    return _model(
        f"{cls.__name__}Section",
        {
            f.name: types.get(str(f.type), _STRICT[str(f.type)])
            for f in dataclasses.fields(cls)
            if f.init and f.name not in skip
        },
    )


_POLICY = _mirror(Policy)
_LIMITS = _mirror(Limits, skip=frozenset({"ocr_off_reason"}), types=_POSITIVE)  # parsers' own
_METRICS = _mirror(MetricsSettings)
_NAMES = _mirror(
    ZendeskNames,
    skip=frozenset({"field_titles", "field_ids"}),
    types={"str": NonEmpty},
)
_FIELD_IDS = _model(
    "ZendeskFieldsSection",
    {name: Annotated[Whole, _says("must be a field id (a number)")] for name in FIELD_SPECS},
)
_FIELD_TITLES = _model("ZendeskFieldTitlesSection", {name: NonEmpty for name in FIELD_SPECS})


def _given(model: type[BaseModel], name: str, data: Any) -> dict[str, Any]:
    """The keys given in `data`, validated by `model`."""
    if not isinstance(data, dict):
        raise ConfigError(f"[{name}] must be a table")
    try:
        checked = model.model_validate(data)
    except ValidationError as exc:
        raise _one_line(name, exc, model) from None
    return {key: getattr(checked, key) for key in data}


def _build(cls: Callable[..., Any], name: str, values: dict[str, Any]) -> Any:
    """`cls(**values)`; its own ValueError becomes a ConfigError naming the section."""
    try:
        return cls(**values)
    except ValueError as exc:
        text = str(exc)
        raise ConfigError(text if text.startswith("[") else f"[{name}] {text}") from exc


def _limits(data: Any) -> Limits:
    limits: Limits = _build(Limits, "limits", _given(_LIMITS, "limits", data))
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


def _zendesk(data: Any) -> ZendeskConfig:
    """[zendesk] with its tables: names (tags, subject), fields (ids), field_titles."""
    if not isinstance(data, dict):
        raise ConfigError("[zendesk] must be a table")
    tables = ("names", "fields", "field_titles")
    names = _given(_NAMES, "zendesk.names", data.get("names", {}))
    ids = _given(_FIELD_IDS, "zendesk.fields", data.get("fields", {}))
    titles = _given(_FIELD_TITLES, "zendesk.field_titles", data.get("field_titles", {}))
    plain = {key: value for key, value in data.items() if key not in tables}
    zendesk: ZendeskConfig = _section("zendesk", ZendeskConfig, plain)
    defaults = ZendeskNames()
    full_names = _build(
        ZendeskNames,
        "zendesk",
        {**names, "field_ids": ids, "field_titles": {**defaults.field_titles, **titles}},
    )
    return replace(zendesk, names=full_names)


def _metrics(data: Any, poll_seconds: float) -> MetricsSettings:
    metrics: MetricsSettings = _build(MetricsSettings, "metrics", _given(_METRICS, "metrics", data))
    if "stall_after_seconds" not in data:
        # left to its default, the stall limit follows a long poll interval
        return replace(
            metrics, stall_after_seconds=max(metrics.stall_after_seconds, 3.0 * poll_seconds)
        )
    if metrics.enabled:
        _build(metrics.check_against_poll, "metrics", {"poll_seconds": poll_seconds})
    return metrics


# -- reading the file ---------------------------------------------------------------------


def _section(name: str, cls: type[Any], data: Any) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"[{name}] must be a table")
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as exc:
        raise _one_line(name, exc, cls) from None


def parse_config(data: dict[str, Any]) -> Config:
    known = {"policy", "limits", "metrics", "zendesk", *_SECTIONS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"unknown section(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    sections = {
        name: _section(name, cls, data[name]) for name, cls in _SECTIONS.items() if name in data
    }
    schedule = sections.get("schedule", ScheduleConfig())
    return Config(
        policy=_build(Policy, "policy", _given(_POLICY, "policy", data.get("policy", {}))),
        limits=_limits(data.get("limits", {})),
        zendesk=_zendesk(data["zendesk"]) if "zendesk" in data else None,
        metrics=_metrics(data.get("metrics", {}), schedule.poll_seconds),
        **sections,
    )


def load_config(path: Path | None) -> Config:
    """The configuration in `path` as written, or the embedded defaults when None.

    The commands then take its relative paths from the file's folder (`resolve_paths`)."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"configuration file {path} is a folder") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data)


def resolve_paths(config: Config, folder: Path) -> Config:
    """`config` with each relative path of its sections (`[state] path`, `ca_file`,
    `password_file`, ...) taken from `folder`, the config file's: every command then
    finds the same state file wherever it is started from."""
    changes: dict[str, Any] = {}
    for part in dataclasses.fields(config):
        section = getattr(config, part.name)
        keys = getattr(section, "__pydantic_fields__", {})
        moved = {
            key: str(folder / getattr(section, key))
            for key, info in keys.items()
            if any(isinstance(m, _RelativeToFile) for m in info.metadata)
            and getattr(section, key)
            and not Path(getattr(section, key)).is_absolute()
        }
        if moved:
            changes[part.name] = replace(section, **moved)
    return replace(config, **changes)


# Where a command looks for its configuration when --config is not given.
CONFIG_VARIABLE = "PORTBOT_CONFIG"
SYSTEM_CONFIG = Path("/etc/portbot/portbot.toml")


def find_config(
    given: Path | None, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Path:
    """--config, else $PORTBOT_CONFIG, else ./portbot.toml, else /etc/portbot/portbot.toml."""
    if given is not None:
        return given
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_VARIABLE):
        return Path(environ[CONFIG_VARIABLE])
    local = (Path.cwd() if cwd is None else cwd) / "portbot.toml"
    for candidate in (local, SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no configuration: give --config FILE, set {CONFIG_VARIABLE}, or create "
        f"./portbot.toml or {SYSTEM_CONFIG} (copy config.example.toml)"
    )


def check_endpoint(host: str, security: str, port: int, timeout_seconds: float) -> None:
    """The SMTP server settings both the [smtp] config and `SmtpSettings` must obey."""
    if not host:
        raise ValueError("host is required")
    if security not in ("tls", "starttls", "plain"):
        raise ValueError('security must be "tls", "starttls" or "plain"')
    _plain_only_on_loopback(host, security)
    if not 0 < port < 65536:
        raise ValueError("port must be between 1 and 65535")
    if timeout_seconds <= 0:
        raise ValueError("timeout_seconds must be positive")


# -- one line per mistake -------------------------------------------------------------------

_LISTS = frozenset({"tuple_type", "list_type", "frozen_set_type", "set_type", "iterable_type"})


def _phrase(error: Any) -> str:
    """What is wrong with the value, in words: "must be a number", "must be positive"..."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "int_type":
        value = error.get("input")
        whole = isinstance(value, float) and not isinstance(value, bool)
        return "must be a whole number" if whole else "must be a number"
    if kind in ("float_type", "int_parsing", "float_parsing"):
        return "must be a number"
    if kind == "bool_type":
        return "must be true or false"
    if kind == "string_type":
        return 'must be a string (in "quotes")'
    if kind in _LISTS:
        return "must be a list of strings"
    if kind in ("dict_type", "model_type", "dataclass_type"):
        return "must be a table"
    if kind == "literal_error":
        return "must be " + str(ctx.get("expected", "")).replace("'", '"')
    if kind == "greater_than":
        return "must be positive" if ctx.get("gt") == 0 else f"must be more than {ctx['gt']}"
    if kind == "greater_than_equal":
        return "must not be negative" if ctx.get("ge") == 0 else f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "config":
        return str(error["msg"])
    return str(error["msg"]).lower()


def _one_line(section: str, exc: ValidationError, model: Any) -> ConfigError:
    """The first mistake of a section, as one line naming the section and the key."""
    errors = exc.errors()
    extra = ("extra_forbidden", "unexpected_keyword_argument")
    unknown = sorted({str(e["loc"][0]) for e in errors if e["type"] in extra and e["loc"]})
    if unknown:
        known = [
            f.name
            for f in (dataclasses.fields(model) if dataclasses.is_dataclass(model) else ())
            if f.init and f.name != "names"
        ] or list(getattr(model, "model_fields", {}))
        return ConfigError(
            f"[{section}] has unknown key(s): {', '.join(unknown)}; known: {', '.join(known)}"
        )
    first = errors[0]
    loc = [str(part) for part in first["loc"] if isinstance(part, str)]
    key = loc[0] if loc else ""
    if len(first["loc"]) > 1 and first["type"] not in ("config",):
        # a bad item of a list: say what the whole list must be
        return ConfigError(f"[{section}] {key} must be a list of strings")
    return ConfigError(
        f"[{section}] {key} {_phrase(first)}" if key else f"[{section}] {_phrase(first)}"
    )
