"""Authentication: who is calling, proved by an API key or a JWT bearer token.

Interfaces call :meth:`Authenticator.authenticate` with the ``Authorization`` header and get a
:class:`gnomon.context.Principal`, or :class:`AuthenticationError` (401). The catalog is reached
only through :class:`ApiKeyStore`, and issuers are plain :class:`IssuerConfig` values, so the
composition root decides what is stored where and which issuers are trusted (the development
issuer only when configured).
"""

from gnomon.governance.auth.apikeys import (
    API_KEY_PREFIX,
    ApiKeyAuthenticator,
    hash_api_key,
    is_api_key,
    new_api_key,
)
from gnomon.governance.auth.devissuer import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    DEV_SECRET_FILE,
    DevIssuer,
    load_or_create_secret,
)
from gnomon.governance.auth.errors import (
    AUTH_HINT,
    AuthenticationError,
    IdentityProviderUnavailable,
)
from gnomon.governance.auth.jwt import JwtVerifier
from gnomon.governance.auth.models import IssuerConfig, StoredKey
from gnomon.governance.auth.protocols import ApiKeyStore, JwksFetcher
from gnomon.governance.auth.service import Authenticator

__all__ = [
    "API_KEY_PREFIX",
    "AUTH_HINT",
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "DEV_SECRET_FILE",
    "ApiKeyAuthenticator",
    "ApiKeyStore",
    "AuthenticationError",
    "Authenticator",
    "DevIssuer",
    "IdentityProviderUnavailable",
    "IssuerConfig",
    "JwksFetcher",
    "JwtVerifier",
    "StoredKey",
    "hash_api_key",
    "is_api_key",
    "load_or_create_secret",
    "new_api_key",
]
