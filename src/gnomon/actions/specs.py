"""Channel specs: what a user writes under ``channels:``, validated, with secrets from the env.

A spec is parsed when it is read (every problem reported at once, with its key path) and its
``${NAME}`` references are resolved when the channel is built, so a spec file can be checked
on a machine that does not hold the secrets. ``$${`` writes a literal ``${``. Templates are not
resolved: a template renders alert data, not the environment.

Secrets (tokens, passwords, signing keys, and the URLs of Slack and Teams webhooks, which are
credentials by themselves) are ``SecretStr``: they print as ``**********`` in reprs, logs and
error messages.
"""

import re
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from gnomon.actions.errors import ChannelSpecError, MissingEnvironment
from gnomon.actions.templates import PayloadTemplate
from gnomon.errors import InvalidInput
from gnomon.specfiles import SpecIssue, issues_from, read_yaml, with_lines

__all__ = [
    "DEFAULT_RETRY_ON",
    "KINDS",
    "ApiKeyAuthSpec",
    "AuthSpec",
    "BasicAuthSpec",
    "BearerAuthSpec",
    "ChannelSpec",
    "EmailSpec",
    "HttpChannelSpec",
    "OAuth2AuthSpec",
    "PagerDutySpec",
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
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e\t]*$")


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


ChannelSpec = Annotated[
    WebhookSpec | EmailSpec | SlackSpec | PagerDutySpec | TeamsSpec, Field(discriminator="kind")
]
"""One channel's spec, chosen by ``kind``."""

_BY_KIND: Final[dict[str, type[BaseModel]]] = {
    "email": EmailSpec,
    "pagerduty": PagerDutySpec,
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
    for error in errors:
        loc = error["loc"]
        member = _AUTH_BY_TYPE.get(str(loc[1])) if len(loc) > 2 and loc[0] == "auth" else None
        if member is None:
            plain.append(error)
            continue
        inner = issues_from([{**error, "loc": loc[2:]}], member)
        issues += [SpecIssue(_join("auth", i.path), i.message, i.valid) for i in inner]
    return issues_from(plain, model) + issues


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
    value: object, env: Mapping[str, str], missing: list[tuple[str, str]], path: str
) -> Any:
    if isinstance(value, str):
        return _substitute(value, env, missing, path)
    if isinstance(value, SecretStr):
        return SecretStr(_substitute(value.get_secret_value(), env, missing, path))
    if isinstance(value, Mapping):
        return {
            key: item if key in _TEMPLATE_KEYS else _resolve(item, env, missing, _join(path, key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve(item, env, missing, f"{path}.{i}") for i, item in enumerate(value)]
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
    """Every ``SecretStr`` value in ``spec``, nested specs included, for masking in attempts."""
    found: list[str] = []
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(secret_values(value))
    return found
