"""The errors of action channels: a spec that cannot be used, or a secret the environment lacks.

A delivery that goes wrong is not an error here: ``Channel.send`` reports it as an
:class:`gnomon.actions.models.Attempt`, so the dispatcher decides on retries from the outcome.
"""

from collections.abc import Sequence

from gnomon.errors import ConfigError, InvalidInput, Unavailable
from gnomon.specfiles import SpecIssue

__all__ = ["ChannelSpecError", "MissingEnvironment", "PluginRetry"]


class ChannelSpecError(InvalidInput):
    """A channel spec cannot be used as written; every problem found is listed with its key path.

    Attributes:
        source: where the specs came from (a file, or a label such as ``"<channels>"``).
        issues: each problem, with its dotted key path (``channels.ops.auth.token``).
    """

    def __init__(self, source: str, issues: Sequence[SpecIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        listed = "; ".join(str(issue) for issue in self.issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        valid = [
            f"{issue.path or '(top level)'} takes {', '.join(issue.valid)}"
            for issue in self.issues
            if issue.valid
        ]
        hint = "Fix the channel spec (see docs/actions.md)."
        if valid:
            hint = f"Valid values: {'; '.join(valid)}. {hint}"
        super().__init__(
            f"Invalid channel spec {source}, {len(self.issues)} {noun}: {listed}.",
            hint=hint,
            source=source,
            issues=[issue.to_dict() for issue in self.issues],
        )


class MissingEnvironment(ConfigError):
    """A channel spec refers to ``${NAME}`` and the process environment has no ``NAME``.

    A ``ConfigError`` rather than ``InvalidInput``: the spec is fine, the deployment lacks a
    secret, and the fix is in the environment gnomon runs in.

    Attributes:
        channel: the channel's name.
        variables: the missing variable names, each with the key path that uses it.
    """

    def __init__(self, channel: str, missing: Sequence[tuple[str, str]]) -> None:
        self.channel = channel
        self.variables = tuple(name for name, _ in missing)
        where = ", ".join(f"{name} (used by {path})" for name, path in missing)
        names = ", ".join(dict.fromkeys(self.variables))
        super().__init__(
            f"Channel {channel!r} needs environment variables that are not set: {where}.",
            hint=f"Set {names} in the environment gnomon runs in, or write the value into the "
            "channel spec.",
            channel=channel,
            variables=list(self.variables),
        )


class PluginRetry(Unavailable):
    """Raised by an action plugin: the action cannot be done now, the same one may work later.

    The attempt becomes ``retry`` rather than ``failed``; the dispatcher schedules the next one
    with backoff, not sooner than ``retry_after_s`` when given. Any other exception a plugin
    raises fails the notification for good (but see :class:`gnomon.errors.Unavailable`: every
    retryable kind is treated the same way).

    Attributes:
        retry_after_s: the earliest time to try again, in seconds, when the plugin knows it.
    """

    def __init__(
        self,
        message: str = "The action plugin asked to try again later.",
        *,
        retry_after_s: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s
