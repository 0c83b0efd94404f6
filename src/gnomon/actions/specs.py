"""Channel specs: what a user writes under ``channels:``, validated, with secrets from the env.

A spec is parsed when it is read (every problem reported at once, with its key path) and its
``${NAME}`` references are resolved when the channel is built, so a spec file can be checked
on a machine that does not hold the secrets. ``$${`` writes a literal ``${``. Templates are not
resolved: a template renders alert data, not the environment.

Secrets (tokens, passwords, signing keys, database URLs, and the URLs of Slack and Teams
webhooks, which are credentials by themselves) are ``SecretStr``: they print as ``**********`` in
reprs, logs and error messages. A plugin's free ``config`` mapping has no declared secrets, so
every value in it that came from a ``${NAME}`` reference is made a ``SecretStr`` on resolution.
"""

import re
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gnomon.actions.errors import ChannelSpecError, MissingEnvironment
from gnomon.actions.templates import PayloadTemplate
from gnomon.errors import InvalidInput
from gnomon.specfiles import SpecIssue, issues_from, read_yaml, with_lines

__all__ = [
    "DATABASE_PARAMETERS",
    "DEFAULT_RETRY_ON",
    "KINDS",
    "ApiKeyAuthSpec",
    "AuthSpec",
    "BasicAuthSpec",
    "BearerAuthSpec",
    "ChannelSpec",
    "DatabaseSpec",
    "EmailSpec",
    "HttpChannelSpec",
    "OAuth2AuthSpec",
    "PagerDutySpec",
    "PluginSpec",
    "SignSpec",
    "SlackSpec",
    "TeamsSpec",
    "WebhookSpec",
    "load_channels",
    "parse_channel",
    "parse_channels",
    "resolve_environment",
    "secret_values",
]

DEFAULT_RETRY_ON: Final = (408, 425, 429, 500, 502, 503, 504)
"""HTTP statuses that mean "try again later" unless a spec says otherwise."""

_ENV_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEMPLATE_KEYS = frozenset({"template", "subject_template", "text_template", "html_template"})
_FREE_KEYS = frozenset({"config"})
"""Free mappings: every value in them that a ``${NAME}`` reference fills is made a secret."""
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e\t]*$")
_CALLABLE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_ENTRY_POINT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_PARAMETER = re.compile(r"^label_\w+$")

DATABASE_PARAMETERS: Final = (
    "channel",
    "created_at",
    "data",
    "fingerprint",
    "key",
    "rule",
    "severity",
    "state",
    "summary",
    "tenant",
    "title",
)
"""The named parameters a database action's statements may use, besides ``:label_<name>``."""


def _has_reference(value: str) -> bool:
    return "${" in value


def _check_url(value: str, *, secret: bool = False) -> str:
    """An http(s) URL with a host; left alone while it still holds a ``${NAME}`` reference."""
    if _has_reference(value):
        return value
    shown = "the URL" if secret else repr(value)
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{shown} is not a valid URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(f"{shown} must be an http:// or https:// URL with a host")
    return value


def _check_template(value: str | None, *, html: bool = False) -> str | None:
    if value is not None:
        try:
            PayloadTemplate(value, html=html)
        except InvalidInput as exc:
            raise ValueError(exc.message.rstrip(".")) from None
    return value


def _check_address(value: str) -> str:
    if _has_reference(value):
        return value
    _, address = parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ApiKeyAuthSpec(_Spec):
    """An API key sent in a header of its own (``X-API-Key: …``)."""

    type: Literal["api_key"]
    header: str = "X-API-Key"
    key: SecretStr


class BearerAuthSpec(_Spec):
    """A static token sent as ``Authorization: Bearer …``."""

    type: Literal["bearer"]
    token: SecretStr


class BasicAuthSpec(_Spec):
    """HTTP basic authentication."""

    type: Literal["basic"]
    username: str
    password: SecretStr


class OAuth2AuthSpec(_Spec):
    """OAuth 2.0 client credentials: a token fetched from ``token_url``, cached until it expires.

    ``client_auth`` says how the client proves itself to the token endpoint: ``basic`` (HTTP
    basic, the RFC's recommendation) or ``post`` (``client_id``/``client_secret`` in the form).
    """

    type: Literal["oauth2"]
    token_url: str
    client_id: str
    client_secret: SecretStr
    scope: str | None = None
    audience: str | None = None
    client_auth: Literal["basic", "post"] = "basic"

    @field_validator("token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


_AUTH_BY_TYPE: Final[dict[str, type[BaseModel]]] = {
    "api_key": ApiKeyAuthSpec,
    "bearer": BearerAuthSpec,
    "basic": BasicAuthSpec,
    "oauth2": OAuth2AuthSpec,
}

AuthSpec = Annotated[
    ApiKeyAuthSpec | BearerAuthSpec | BasicAuthSpec | OAuth2AuthSpec, Field(discriminator="type")
]
"""How a webhook authenticates, chosen by ``type``."""


class SignSpec(_Spec):
    """HMAC-SHA256 signing of webhook bodies (see docs/actions.md for how to verify)."""

    secret: SecretStr
    header: str = "X-Gnomon-Signature"
    timestamp_header: str = "X-Gnomon-Timestamp"

    @field_validator("header", "timestamp_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not _HEADER_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid HTTP header name")
        return value


class HttpChannelSpec(_Spec):
    """What every HTTP channel shares: timeout, pool size, retryable statuses, extra headers."""

    timeout_s: float = Field(default=10.0, gt=0, le=300)
    retry_on: list[int] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))
    headers: dict[str, str] = Field(default_factory=dict)
    max_connections: int = Field(default=10, ge=1, le=1000)
    verify_tls: bool = True

    @field_validator("retry_on")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        wrong = [code for code in value if not 300 <= code <= 599]
        if wrong:
            raise ValueError(f"retry_on takes HTTP statuses from 300 to 599, not {wrong}")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = [name for name in value if not _HEADER_NAME.match(name)]
        if wrong:
            raise ValueError(f"not valid HTTP header names: {', '.join(map(repr, wrong))}")
        wrong = [name for name, text in value.items() if not _HEADER_VALUE.match(text)]
        if wrong:
            raise ValueError(
                "header values must be printable ASCII on one line: " + ", ".join(map(repr, wrong))
            )
        return value


class WebhookSpec(HttpChannelSpec):
    """An HTTP endpoint of the user's own; the body is the notification as JSON by default."""

    kind: Literal["webhook"]
    url: str
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    auth: AuthSpec | None = None
    sign: SignSpec | None = None
    template: str | None = None
    content_type: str = "application/json"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return _check_template(value)


class SlackSpec(HttpChannelSpec):
    """Slack, by incoming webhook (``url``) or by the Web API (``token`` and ``channel``).

    Only the Web API returns the message's ``ts``, which is what a later notification of the same
    alert needs to reply in its thread (``data.thread_ts``).
    """

    kind: Literal["slack"]
    url: SecretStr | None = None
    token: SecretStr | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/chat.postMessage"
    template: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_url(value.get_secret_value(), secret=True)
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return _check_template(value)

    @model_validator(mode="after")
    def _one_way(self) -> "SlackSpec":
        if (self.url is None) == (self.token is None):
            raise ValueError("give either url (an incoming webhook) or token and channel")
        if self.token is not None and not self.channel:
            raise ValueError("token needs channel (the channel's ID, such as C0123456789)")
        return self


class PagerDutySpec(HttpChannelSpec):
    """PagerDuty Events API v2; ``routing_key`` is the integration key of a service."""

    kind: Literal["pagerduty"]
    routing_key: SecretStr
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "gnomon"
    client_url: str | None = None
    template: str | None = None

    @field_validator("url", "client_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return _check_template(value)


class TeamsSpec(HttpChannelSpec):
    """Microsoft Teams through an incoming webhook (a Workflows "webhook request" trigger)."""

    kind: Literal["teams"]
    url: SecretStr
    template: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        _check_url(value.get_secret_value(), secret=True)
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return _check_template(value)


class EmailSpec(_Spec):
    """E-mail over SMTP, as multipart/alternative with a text and an HTML part.

    ``security``: ``starttls`` (port 587 by default), ``ssl`` (implicit TLS, port 465) or
    ``none`` (port 25; only for a relay on a trusted network).
    """

    kind: Literal["email"]
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    subject_template: str | None = None
    text_template: str | None = None
    html_template: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    verify_tls: bool = True
    helo: str | None = None

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("to", "cc")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return [_check_address(address) for address in value]

    @field_validator("subject_template", "text_template")
    @classmethod
    def _text_template(cls, value: str | None) -> str | None:
        return _check_template(value)

    @field_validator("html_template")
    @classmethod
    def _html_template(cls, value: str | None) -> str | None:
        return _check_template(value, html=True)

    @model_validator(mode="after")
    def _credentials(self) -> "EmailSpec":
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self

    @property
    def effective_port(self) -> int:
        """The port, defaulted from ``security``."""
        if self.port is not None:
            return self.port
        return {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class PluginSpec(_Spec):
    """A Python function of the user's, run in a fresh, limited subprocess for every notification.

    ``entry_point`` names an entry point in the group ``gnomon.actions``; ``callable`` is
    ``"package.module:function"``; exactly one of the two. ``memory_mb`` is the address space the
    plugin may add to the host process; ``timeout_s`` the wall-clock time of one attempt, after
    which the process group is killed. ``pass_env`` names environment variables the plugin sees
    besides the few every process needs (``PATH``, ``HOME``, locale, ``PYTHON*``); secrets are
    better passed through ``config`` with ``${NAME}``, where they are masked.
    """

    kind: Literal["plugin"]
    entry_point: str | None = None
    target: str | None = Field(default=None, alias="callable")
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    memory_mb: int = Field(default=512, ge=32, le=65536)
    config: dict[str, Any] = Field(default_factory=dict)
    pass_env: list[str] = Field(default_factory=list)

    @field_validator("entry_point")
    @classmethod
    def _entry_point(cls, value: str | None) -> str | None:
        if value is not None and not _ENTRY_POINT.match(value):
            raise ValueError(
                f"{value!r} is not an entry point name (letters, digits, '_', '.' and '-')"
            )
        return value

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not _CALLABLE.match(value):
            raise ValueError(f"{value!r} is not of the form 'package.module:function'")
        return value

    @field_validator("pass_env")
    @classmethod
    def _pass_env(cls, value: list[str]) -> list[str]:
        wrong = [name for name in value if not _ENV_NAME.match(name)]
        if wrong:
            raise ValueError(f"not environment variable names: {', '.join(map(repr, wrong))}")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> "PluginSpec":
        if (self.entry_point is None) == (self.target is None):
            raise ValueError(
                "give either entry_point (a name in the group gnomon.actions) or callable "
                "('package.module:function'), not both"
            )
        return self

    @property
    def plugin(self) -> str:
        """What runs: the entry point's name or the callable's ``module:function``."""
        return self.entry_point or self.target or ""


def _statement_parameters(sql: str) -> frozenset[str]:
    """The names of the ``:name`` parameters in ``sql``, as SQLAlchemy's ``text()`` reads them."""
    return frozenset(text(sql).compile().params)


def _check_statement(sql: str) -> str:
    if not sql.strip():
        raise ValueError("a statement must not be empty")
    unknown = sorted(
        name
        for name in _statement_parameters(sql)
        if name not in DATABASE_PARAMETERS and not _LABEL_PARAMETER.match(name)
    )
    if unknown:
        listed = ", ".join(f":{name}" for name in unknown)
        valid = ", ".join(f":{name}" for name in DATABASE_PARAMETERS)
        raise ValueError(
            f"unknown parameters {listed}; use {valid} or :label_<name> (write \\: for a "
            "literal colon)"
        )
    return sql


Statement = Annotated[str, AfterValidator(_check_statement)]
"""One SQL statement with named parameters bound from the notification."""


class DatabaseSpec(_Spec):
    """SQL run against a database of the user's when an alert fires, and undone when it resolves.

    ``url`` is an SQLAlchemy URL (``postgresql://user:pw@host/db``, ``sqlite:////var/x.db``); a
    bare ``postgresql://`` uses psycopg 3. ``statements`` run for a ``firing`` notification and
    ``compensate`` for a ``resolved`` one, each list in one transaction; ``timeout_s`` bounds one
    attempt (connecting, and on PostgreSQL each statement).
    """

    kind: Literal["database"]
    url: SecretStr
    statements: list[Statement] = Field(min_length=1)
    compensate: list[Statement] = Field(default_factory=list)
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if _has_reference(raw):
            return value
        try:
            url = make_url(raw)
        except ArgumentError:
            raise ValueError(
                "the URL is not an SQLAlchemy database URL (dialect+driver://user:password@"
                "host:port/database)"
            ) from None
        if url.get_backend_name() == "sqlite" and url.database in {None, "", ":memory:"}:
            raise ValueError(
                "an in-memory SQLite database is private to one connection and lost with it; "
                "name a file (sqlite:////path/to/file.db)"
            )
        return value


ChannelSpec = Annotated[
    WebhookSpec | EmailSpec | SlackSpec | PagerDutySpec | TeamsSpec | PluginSpec | DatabaseSpec,
    Field(discriminator="kind"),
]
"""One channel's spec, chosen by ``kind``."""

_BY_KIND: Final[dict[str, type[BaseModel]]] = {
    "database": DatabaseSpec,
    "email": EmailSpec,
    "pagerduty": PagerDutySpec,
    "plugin": PluginSpec,
    "slack": SlackSpec,
    "teams": TeamsSpec,
    "webhook": WebhookSpec,
}

KINDS: Final = tuple(sorted(_BY_KIND))
"""The built-in channel kinds."""


def _channel_issues(name: str, data: object) -> tuple[Any, list[SpecIssue]]:
    path = f"channels.{name}"
    if not _CHANNEL_NAME.match(name):
        return None, [
            SpecIssue(
                path,
                "a channel name is letters, digits, '_', '.' and '-', starting with a letter or "
                "digit, at most 100 characters",
            )
        ]
    if not isinstance(data, Mapping):
        return None, [SpecIssue(path, "must be a mapping with a kind")]
    kind = data.get("kind")
    model = _BY_KIND.get(kind) if isinstance(kind, str) else None
    if model is None:
        got = "missing" if kind is None else f"{kind!r} is not a channel kind"
        return None, [SpecIssue(f"{path}.kind", got, KINDS)]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        issues = _issues(exc.errors(), model)
    return None, [
        SpecIssue(".".join(p for p in (path, i.path) if p), i.message, i.valid) for i in issues
    ]


def _issues(errors: list[ErrorDetails], model: type[BaseModel]) -> list[SpecIssue]:
    """Pydantic's errors as issues, following ``auth`` into the member its ``type`` chose.

    The shared walker stops at a union; here the member is known from the error's location
    (``("auth", "bearer", "token")``), so the issue can name ``auth.token``.
    """
    plain: list[ErrorDetails] = []
    issues: list[SpecIssue] = []
    for error in (_masked(error, model) for error in errors):
        loc = error["loc"]
        member = _AUTH_BY_TYPE.get(str(loc[1])) if len(loc) > 2 and loc[0] == "auth" else None
        if member is None:
            plain.append(error)
            continue
        inner = issues_from([{**error, "loc": loc[2:]}], member)
        issues += [SpecIssue(_join("auth", i.path), i.message, i.valid) for i in inner]
    return issues_from(plain, model) + issues


def _masked(error: ErrorDetails, model: type[BaseModel]) -> ErrorDetails:
    """The error with its input masked when it is the value of a secret field (a webhook URL)."""
    loc = error["loc"]
    field = next(
        (info for name, info in model.model_fields.items() if loc and loc[0] in {name, info.alias}),
        None,
    )
    if field is None or not (
        field.annotation is SecretStr or SecretStr in get_args(field.annotation)
    ):
        return error
    return {**error, "input": SecretStr(str(error["input"]))}


def parse_channels(
    data: object, *, source: str = "<channels>", text: str | None = None
) -> dict[str, ChannelSpec]:
    """Read a document with a ``channels:`` mapping of name to spec.

    Args:
        data: the parsed YAML document.
        source: where it came from, for the error message.
        text: the YAML text, so that issues carry line numbers.

    Raises:
        ChannelSpecError: anything is wrong; every problem is listed with its key path, and an
            unknown ``kind`` lists the known kinds.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("channels"), Mapping):
        raise ChannelSpecError(source, [SpecIssue("channels", "must be a mapping of name to spec")])
    specs: dict[str, ChannelSpec] = {}
    issues: list[SpecIssue] = []
    for name, raw in data["channels"].items():
        spec, found = _channel_issues(str(name), raw)
        issues.extend(found)
        if spec is not None:
            specs[str(name)] = spec
    if issues:
        raise ChannelSpecError(source, with_lines(issues, text))
    return specs


def parse_channel(name: str, data: object) -> ChannelSpec:
    """Read one channel's spec.

    Raises:
        ChannelSpecError: it is not valid; an unknown ``kind`` lists the known kinds.

    >>> parse_channel("ops", {"kind": "webhook", "url": "https://example.com/hook"}).method
    'POST'
    """
    spec, issues = _channel_issues(name, data)
    if issues:
        raise ChannelSpecError(f"channel {name!r}", issues)
    result: ChannelSpec = spec
    return result


def load_channels(path: Path) -> dict[str, ChannelSpec]:
    """Read and validate the channel specs in the YAML file at ``path``.

    Raises:
        ChannelSpecError: the file cannot be read, is not YAML, or holds invalid specs.
    """
    read = read_yaml(path)
    if not isinstance(read, tuple):
        raise ChannelSpecError(str(path), [read])
    data, text = read
    return parse_channels(data, source=str(path), text=text)


def resolve_environment(name: str, spec: ChannelSpec, env: Mapping[str, str]) -> ChannelSpec:
    """The spec with every ``${NAME}`` outside templates replaced from ``env``, then re-checked.

    Raises:
        MissingEnvironment: a referenced variable is not in ``env``; every one is named.
        ChannelSpecError: a resolved value is not valid (a URL that is not one).
    """
    missing: list[tuple[str, str]] = []
    data = spec.model_dump(mode="python", by_alias=True, exclude_unset=True)
    resolved = _resolve(data, env, missing, path="")
    if missing:
        raise MissingEnvironment(name, missing)
    if resolved == data:
        return spec
    return parse_channel(name, resolved)


def _resolve(
    value: object,
    env: Mapping[str, str],
    missing: list[tuple[str, str]],
    path: str,
    *,
    free: bool = False,
) -> Any:
    """``value`` with references replaced; inside a free mapping (``free``) a filled one is secret.

    In a free mapping keys are the user's own, so none of them is taken for a template.
    """
    if isinstance(value, str):
        resolved = _substitute(value, env, missing, path)
        filled = any(match.group(1) for match in _ENV_REFERENCE.finditer(value))
        return SecretStr(resolved) if free and filled else resolved
    if isinstance(value, SecretStr):
        return SecretStr(_substitute(value.get_secret_value(), env, missing, path))
    if isinstance(value, Mapping):
        return {
            key: item
            if key in _TEMPLATE_KEYS and not free
            else _resolve(
                item, env, missing, _join(path, key), free=free or (not path and key in _FREE_KEYS)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _resolve(item, env, missing, f"{path}.{i}", free=free) for i, item in enumerate(value)
        ]
    return value


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _substitute(
    text: str, env: Mapping[str, str], missing: list[tuple[str, str]], path: str
) -> str:
    def replace(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable is None:
            return "${"
        if variable not in env:
            missing.append((variable, path))
            return match.group(0)
        return env[variable]

    return _ENV_REFERENCE.sub(replace, text)


def secret_values(spec: BaseModel) -> list[str]:
    """Every ``SecretStr`` value in ``spec``, nested specs and mappings included, for masking."""
    found: list[str] = []
    for name in type(spec).model_fields:
        found.extend(_secrets_in(getattr(spec, name)))
    return found


def _secrets_in(value: object) -> list[str]:
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return secret_values(value)
    if isinstance(value, Mapping):
        return [secret for item in value.values() for secret in _secrets_in(item)]
    if isinstance(value, list | tuple):
        return [secret for item in value for secret in _secrets_in(item)]
    return []
