"""The exception kinds every layer raises, and the only ones interfaces map.

Why a closed set: the API turns a kind into an HTTP status, the CLI into an exit code, and the
retry logic into a decision, without ever reading message text. A capability subclasses a kind
(``ContractViolation(InvalidInput)``) to add attributes, never a new kind.

Messages read "what was wrong: detail." and the ``hint`` says how to fix it.
"""

from typing import Any, ClassVar

__all__ = [
    "ConfigError",
    "Conflict",
    "Forbidden",
    "GnomonError",
    "InternalError",
    "InvalidInput",
    "MissingDependency",
    "NotFound",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
    "UserCodeError",
]


class GnomonError(Exception):
    """Base of every error gnomon raises on purpose.

    Attributes:
        message: what was wrong, in one sentence.
        hint: how to fix it, or ``None`` when there is nothing the user can do.
        details: structured facts (file, line, column, rule, valid values …) for the API and logs.
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """The one shape shared by the API error body, CLI JSON output and the audit log."""
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }


class InvalidInput(GnomonError):
    """The caller's input (file, YAML, query, argument) is wrong; retrying will not help."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class NotFound(GnomonError):
    """The named thing does not exist for this tenant."""

    code = "not_found"
    http_status = 404
    exit_code = 2


class Conflict(GnomonError):
    """The request clashes with the current state (a running load, an existing name)."""

    code = "conflict"
    http_status = 409
    exit_code = 1


class Unauthenticated(GnomonError):
    """The caller did not prove who it is (no credential, or a refused one)."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 2


class Forbidden(GnomonError):
    """The principal may not do this."""

    code = "forbidden"
    http_status = 403
    exit_code = 1


class TooManyRequests(GnomonError):
    """A tenant's rate limit or query quota is used up; ``retry_after_s`` says when to retry."""

    code = "rate_limited"
    http_status = 429
    exit_code = 1


class Unavailable(GnomonError):
    """A service or resource is not reachable now; the same call may succeed later."""

    code = "unavailable"
    http_status = 503
    exit_code = 1
    retryable = True


class ConfigError(GnomonError):
    """A setting is missing or wrong; the message names the key path and where it came from."""

    code = "config_error"
    http_status = 500
    exit_code = 2


class MissingDependency(ConfigError):
    """An optional library is needed for the configured feature and is not installed."""

    code = "missing_dependency"


class InternalError(GnomonError):
    """A bug in gnomon, kept apart from user mistakes so that it is reported as one."""

    code = "internal_error"
    http_status = 500
    exit_code = 1


class UserCodeError(GnomonError):
    """User or plugin code raised something that is not a GnomonError; the cause is chained."""

    code = "user_code_error"
    http_status = 422
    exit_code = 1
