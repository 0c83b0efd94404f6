"""Errors of authentication.

:class:`AuthenticationError` is the ``Unauthenticated`` kind (HTTP 401: "we do not know who you
are"), with the ``WWW-Authenticate`` challenge an HTTP interface sends; ``Forbidden`` (403) means
"we know, and you may not".

Messages are deliberately coarse. A caller holding an unknown, revoked or disabled credential gets
one message, so that a leaked key cannot be probed for whether it ever worked; the precise reason
goes to the log only. A token's expiry is reported as such, because its holder can read ``exp``
anyway.
"""

from typing import Any

from gnomon.errors import Unauthenticated, Unavailable

__all__ = ["AUTH_HINT", "AuthenticationError", "IdentityProviderUnavailable"]

AUTH_HINT = (
    "Send 'Authorization: Bearer <token>' with a token from your identity provider, or "
    "'Authorization: Bearer gnm_…' (or 'ApiKey gnm_…') with an API key."
)


class AuthenticationError(Unauthenticated):
    """The request carries no credential, or one that does not prove who the caller is.

    Attributes:
        challenge: the ``WWW-Authenticate`` header value an HTTP interface sends with the 401
            (RFC 6750: ``error="invalid_token"`` when a credential was sent and refused).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = AUTH_HINT,
        credential_sent: bool = True,
        **details: Any,
    ) -> None:
        super().__init__(message, hint=hint, **details)
        self.challenge = (
            'Bearer realm="gnomon", error="invalid_token"'
            if credential_sent
            else 'Bearer realm="gnomon"'
        )


class IdentityProviderUnavailable(Unavailable):
    """An issuer's key set (JWKS) could not be fetched: the caller's token may well be valid.

    This is a 503, not a 401: telling a client with a good token that it is unauthenticated would
    make it throw the token away and log in again, which cannot help.
    """

    code = "identity_provider_unavailable"
