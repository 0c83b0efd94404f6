"""The nouns of authentication: a stored API key as a store hands it over, and an issuer's setup.

Both are frozen values; the catalog and the settings are mapped to them by the composition root,
so this package depends on neither. Timestamps are timezone-aware UTC.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gnomon.errors import ConfigError

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "MIN_SECRET_BYTES",
    "IssuerConfig",
    "StoredKey",
]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
MIN_SECRET_BYTES = 32
"""An HMAC secret shorter than the hash output (RFC 7518 §3.2) is refused."""

_URL = re.compile(r"^https?://[^\s]+$")


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One API key row joined with its user, as the key store finds it by hash.

    Attributes:
        key_roles: the roles the key is limited to; ``None`` or empty means all the user's roles.
        revoked_at: set once the key is revoked; any value means refused from then on.
        user_disabled: a disabled user's keys are refused without being revoked, so that
            enabling the user again brings them back.
    """

    tenant: str
    key_id: str
    key_hash: str
    user: str
    user_roles: frozenset[str] = frozenset()
    user_attributes: Mapping[str, Any] = field(default_factory=dict)
    key_roles: frozenset[str] | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    user_disabled: bool = False


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """One trusted token issuer (an OIDC provider, or the development issuer).

    Exactly one source of keys: ``jwks_url`` (fetched and cached), ``jwks`` (an inline key set),
    or ``secret`` (a shared HMAC secret, meant for development). Asymmetric and HMAC algorithms
    are never allowed together, so that a public key can never be used as an HMAC secret.

    Attributes:
        issuer: the exact ``iss`` value tokens carry.
        audience: the ``aud`` value tokens must carry (this gnomon's client id at the provider).
        algorithms: the ``alg`` values accepted; ``none`` is always refused.
        tenant_claim: the claim naming the tenant; a token without it is refused.
        user_claim: the claim naming the user.
        roles_claim: the claim holding roles, a list of strings or one space-separated string.
        attribute_claims: claims copied as they are into the principal's attributes.
        attributes_claim: a claim holding an object whose entries become attributes.
        allowed_tenants: the tenants this issuer may speak for; ``None`` trusts any. Set it
            when an issuer belongs to one tenant, so its tokens cannot name another.
        leeway: tolerated clock skew for ``exp``, ``nbf`` and ``iat``.
        jwks_ttl: how long a fetched key set is used before it is fetched again.
        jwks_refetch_interval: the least time between fetches triggered by an unknown ``kid``,
            so that tokens with made-up key ids cannot turn every request into a fetch.
        jwks_timeout_s: connect and read timeout of a fetch, in seconds.

    Claim names are looked up as they are first (URL-shaped names such as
    ``https://example.com/roles`` contain dots), then as dotted paths (``realm_access.roles``).
    """

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks: Mapping[str, Any] | None = None
    secret: bytes | None = field(default=None, repr=False)
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    tenant_claim: str = "tenant"
    user_claim: str = "sub"
    roles_claim: str = "roles"
    attribute_claims: tuple[str, ...] = ()
    attributes_claim: str | None = None
    allowed_tenants: frozenset[str] | None = None
    leeway: timedelta = timedelta(seconds=30)
    jwks_ttl: timedelta = timedelta(minutes=10)
    jwks_refetch_interval: timedelta = timedelta(seconds=30)
    jwks_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        where = f"auth issuer {self.issuer!r}"
        if not self.issuer:
            raise ConfigError(
                "auth issuer: the issuer is empty.", hint="Set it to the 'iss' value."
            )
        if not self.audience:
            raise ConfigError(f"{where}: the audience is empty.", hint="Set it to the 'aud' value.")
        sources = [s for s in (self.jwks_url, self.jwks, self.secret) if s is not None]
        if len(sources) != 1:
            raise ConfigError(
                f"{where}: exactly one of jwks_url, jwks and secret must be set, "
                f"found {len(sources)}.",
                hint="Use jwks_url for an OIDC provider, secret only for development.",
            )
        if self.jwks_url is not None and not _URL.match(self.jwks_url):
            raise ConfigError(
                f"{where}: jwks_url {self.jwks_url!r} is not an http(s) URL.",
                hint="Use the provider's jwks_uri from /.well-known/openid-configuration.",
            )
        self._check_algorithms(where)
        if self.secret is not None and len(self.secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"{where}: the shared secret has {len(self.secret)} bytes, fewer than "
                f"{MIN_SECRET_BYTES}.",
                hint="Use a random secret of at least 32 bytes (e.g. the development key file).",
            )
        if self.jwks_timeout_s <= 0:
            raise ConfigError(f"{where}: jwks_timeout_s must be positive.")

    def _check_algorithms(self, where: str) -> None:
        known = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS
        if not self.algorithms:
            raise ConfigError(f"{where}: no algorithms are allowed.", hint="Allow e.g. RS256.")
        unknown = sorted(set(self.algorithms) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unsupported algorithms {unknown}.",
                hint=f"Use some of: {', '.join(sorted(known))}.",
            )
        hmac_wanted = set(self.algorithms) & HMAC_ALGORITHMS
        if self.secret is not None and set(self.algorithms) - HMAC_ALGORITHMS:
            raise ConfigError(
                f"{where}: a shared secret verifies only HMAC algorithms, "
                f"not {sorted(set(self.algorithms) - HMAC_ALGORITHMS)}.",
                hint="Set algorithms to ['HS256'].",
            )
        if self.secret is None and hmac_wanted:
            raise ConfigError(
                f"{where}: HMAC algorithms {sorted(hmac_wanted)} need a shared secret, and a key "
                "set's public keys must never serve as one.",
                hint="Allow asymmetric algorithms only (e.g. RS256, ES256).",
            )
