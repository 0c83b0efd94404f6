"""The one entry point interfaces call: an ``Authorization`` header in, a principal out.

Accepted forms (the scheme is case-insensitive):

- ``Bearer gnm_…`` and ``ApiKey gnm_…``: an API key;
- ``Bearer <JWT>``: a token from a trusted issuer.

Anything else, including no header at all, is :class:`AuthenticationError` (401) with a hint
saying how to authenticate; a request is never served without a principal.
"""

import re

from gnomon.catalog import require_io
from gnomon.context import Principal
from gnomon.governance.auth.apikeys import API_KEY_PREFIX, ApiKeyAuthenticator
from gnomon.governance.auth.errors import AuthenticationError
from gnomon.governance.auth.jwt import MAX_TOKEN_CHARS, JwtVerifier

__all__ = ["Authenticator"]

_HEADER = re.compile(r"^[ \t]*([A-Za-z]+)[ \t]+([\x21-\x7e]+)[ \t]*$")


class Authenticator:
    """API keys and bearer tokens behind one call.

    Args:
        api_keys: checks API keys; ``None`` refuses them.
        tokens: checks JWTs; ``None`` refuses them (no issuer configured).
    """

    def __init__(
        self,
        *,
        api_keys: ApiKeyAuthenticator | None = None,
        tokens: JwtVerifier | None = None,
    ) -> None:
        self._api_keys = api_keys
        self._tokens = tokens

    def authenticate(self, authorization_header: str | None) -> Principal:
        """The principal of the request whose ``Authorization`` header this is.

        Raises:
            AuthenticationError: no header, a malformed one, or a credential that is refused.
            IdentityProviderUnavailable: a token's issuer could not be asked for its keys.
        """
        if authorization_header is None or not authorization_header.strip():
            raise AuthenticationError(
                "Authentication required: the request has no Authorization header.",
                credential_sent=False,
            )
        match = _HEADER.match(authorization_header)
        if match is None or len(match.group(2)) > MAX_TOKEN_CHARS:
            raise AuthenticationError(
                "Authorization header malformed: expected '<scheme> <credential>' with the "
                "scheme Bearer or ApiKey."
            )
        scheme, credential = match.group(1).lower(), match.group(2)
        if scheme == "apikey" or (scheme == "bearer" and credential.startswith(API_KEY_PREFIX)):
            return self._api_key(credential)
        if scheme == "bearer":
            return self._token(credential)
        raise AuthenticationError(
            f"Authorization scheme {match.group(1)[:20]!r} is not supported: use Bearer or ApiKey."
        )

    def _api_key(self, key: str) -> Principal:
        if self._api_keys is None:
            raise AuthenticationError("API keys are not accepted by this server.")
        return self._api_keys.authenticate(key)

    def _token(self, token: str) -> Principal:
        if self._tokens is None:
            raise AuthenticationError(
                "Bearer tokens are not accepted by this server: no issuer is configured.",
                hint="Authenticate with an API key ('Authorization: Bearer gnm_…').",
            )
        require_io("verify a bearer token (its issuer's keys may have to be fetched)")
        return self._tokens.verify(token)
