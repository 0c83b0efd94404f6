"""Verifying JWT bearer tokens from trusted issuers (any OIDC provider, or the dev issuer).

A token is accepted only if all of these hold, in this order:

1. it parses, and its ``iss`` is one of the configured issuers;
2. its header ``alg`` is one that issuer allows (never ``none``; never HMAC for an issuer whose
   keys are public, which closes the "HS256 signed with the public key" confusion);
3. its signature verifies with the issuer's key named by ``kid`` (or the shared secret), the key
   type matching ``alg``;
4. ``aud`` contains the issuer's audience; ``exp`` is present and not past, ``nbf`` and ``iat``
   are not in the future, all within the issuer's leeway and by the injected clock;
5. it names a tenant (one the issuer may speak for) and a user.

Signature, ``aud`` and ``iss`` are checked by PyJWT; the time claims here, against the injected
:class:`~gnomon.clock.Clock`, so that tests and replays can fix the time.
"""

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import jwt as pyjwt

from gnomon.clock import Clock
from gnomon.context import Principal
from gnomon.errors import ConfigError
from gnomon.governance.auth._jwks import IssuerKeys, fetch_jwks
from gnomon.governance.auth.errors import AuthenticationError
from gnomon.governance.auth.models import IssuerConfig
from gnomon.governance.auth.protocols import JwksFetcher

__all__ = ["MAX_TOKEN_CHARS", "JwtVerifier"]

logger = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 16_384
"""Longer tokens are refused before parsing; providers' tokens stay well below this."""

_MISSING: Final = object()
_KEY_TYPES = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
_ISSUER_HINT = "Use a token from one of the issuers this server trusts (auth.issuers)."


def _refused(why: str, *, hint: str | None = None, **details: Any) -> AuthenticationError:
    if hint is None:
        return AuthenticationError(f"Bearer token refused: {why}.", **details)
    return AuthenticationError(f"Bearer token refused: {why}.", hint=hint, **details)


def _shown(value: object) -> str:
    """An untrusted value for a message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class JwtVerifier:
    """Checks bearer tokens against a fixed list of trusted issuers and returns their principal."""

    def __init__(
        self,
        issuers: Sequence[IssuerConfig],
        clock: Clock,
        *,
        fetch: JwksFetcher = fetch_jwks,
    ) -> None:
        by_name: dict[str, IssuerConfig] = {}
        for config in issuers:
            if config.issuer in by_name:
                raise ConfigError(
                    f"auth issuers: {config.issuer!r} is configured twice.",
                    hint="Keep one entry per issuer.",
                )
            by_name[config.issuer] = config
        self._issuers = by_name
        self._clock = clock
        self._keys = {
            name: IssuerKeys(config, fetch=fetch, clock=clock)
            for name, config in by_name.items()
            if config.secret is None
        }

    @property
    def issuers(self) -> tuple[str, ...]:
        """The ``iss`` values accepted."""
        return tuple(self._issuers)

    def verify(self, token: str) -> Principal:
        """The principal a valid token stands for.

        Raises:
            AuthenticationError: the token is malformed, from an unknown issuer, badly signed,
                expired, not yet valid, for another audience, or names no tenant or user.
            IdentityProviderUnavailable: the issuer's key set could not be fetched.
        """
        if len(token) > MAX_TOKEN_CHARS:
            raise _refused(f"it is longer than {MAX_TOKEN_CHARS} characters")
        header, unverified = _peek(token)
        config = self._issuer_of(unverified)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in config.algorithms:
            raise _refused(
                f"its algorithm {_shown(alg)} is not accepted for issuer {config.issuer}",
                hint=f"The issuer's tokens must be signed with one of {list(config.algorithms)}.",
            )
        key = self._key(config, header, alg)
        claims = _decode(token, key, alg=alg, config=config)
        self._check_times(claims, config)
        return _principal(claims, config)

    def _issuer_of(self, unverified: Mapping[str, Any]) -> IssuerConfig:
        issuer = unverified.get("iss")
        if not isinstance(issuer, str):
            raise _refused("it has no 'iss' (issuer) claim", hint=_ISSUER_HINT)
        config = self._issuers.get(issuer)
        if config is None:
            raise _refused(f"its issuer {_shown(issuer)} is not trusted", hint=_ISSUER_HINT)
        return config

    def _key(self, config: IssuerConfig, header: Mapping[str, Any], alg: str) -> Any:
        if config.secret is not None:
            return config.secret
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _refused("its 'kid' header is not a string")
        for jwk in self._keys[config.issuer].find(kid):
            if not _fits(jwk, alg):
                continue
            try:
                return pyjwt.PyJWK(dict(jwk), algorithm=alg)
            except pyjwt.PyJWTError:
                logger.warning("issuer %s publishes an unusable key %r", config.issuer, kid)
        raise _refused(
            f"its signing key {_shown(kid)} is not in the key set of issuer {config.issuer}",
            hint="Get a new token; if this persists the provider's keys and ours disagree.",
        )

    def _check_times(self, claims: Mapping[str, Any], config: IssuerConfig) -> None:
        now = self._clock.now().timestamp()
        leeway = config.leeway.total_seconds()
        expires = _numeric_date(claims, "exp")
        if expires is None:
            raise _refused("it has no 'exp' (expiry) claim")
        if expires <= now - leeway:
            raise _refused("it has expired", hint="Get a new token from the identity provider.")
        not_before = _numeric_date(claims, "nbf")
        if not_before is not None and not_before > now + leeway:
            raise _refused("it is not valid yet ('nbf' is in the future)")
        issued = _numeric_date(claims, "iat")
        if issued is not None and issued > now + leeway:
            raise _refused("it was issued in the future ('iat'); check the clocks")


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified: only to choose the issuer and key."""
    try:
        header = pyjwt.get_unverified_header(token)
        claims = pyjwt.decode(token, options={"verify_signature": False})
    except (pyjwt.PyJWTError, ValueError, TypeError, RecursionError) as error:
        raise _refused("it is not a well-formed JWT") from error
    return header, claims


def _fits(jwk: Mapping[str, Any], alg: str) -> bool:
    """Whether a key may verify ``alg``: the key type and curve must match, and its own ``alg``."""
    expected = _KEY_TYPES.get(alg)
    if expected is None:
        return False
    kty, curve = expected
    if jwk.get("kty") != kty or jwk.get("alg", alg) != alg:
        return False
    return curve is None or jwk.get("crv") == curve


def _decode(token: str, key: Any, *, alg: str, config: IssuerConfig) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = pyjwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=config.audience,
            issuer=config.issuer,
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp"],
                "enforce_minimum_key_length": True,
            },
        )
    except pyjwt.InvalidAudienceError as error:
        raise _refused(
            f"it is not meant for this server (audience {config.audience!r})",
            hint="Request the token for this server's audience (client id).",
        ) from error
    except pyjwt.MissingRequiredClaimError as error:
        raise _refused(f"it has no {error.claim!r} claim") from error
    except pyjwt.InvalidSignatureError as error:
        raise _refused("its signature does not verify") from error
    except (pyjwt.PyJWTError, ValueError, TypeError, RecursionError) as error:
        logger.info("token from %s refused: %s", config.issuer, error)
        raise _refused("it did not verify") from error
    return claims


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refused(f"its {name!r} claim is not a number of seconds")
    return float(value)


def _claim(claims: Mapping[str, Any], name: str) -> object:
    """A claim by exact name, else by dotted path (``realm_access.roles``)."""
    if name in claims:
        return claims[name]
    value: object = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _principal(claims: Mapping[str, Any], config: IssuerConfig) -> Principal:
    tenant = _claim(claims, config.tenant_claim)
    if not isinstance(tenant, str) or not tenant:
        raise _refused(
            f"it names no tenant (claim {config.tenant_claim!r})",
            hint="Have the identity provider add the tenant claim, or set the issuer's "
            "tenant_claim to the claim it uses.",
        )
    if config.allowed_tenants is not None and tenant not in config.allowed_tenants:
        logger.warning("issuer %s named tenant %r it may not speak for", config.issuer, tenant)
        raise _refused(f"issuer {config.issuer} may not name tenant {_shown(tenant)}")
    user = _claim(claims, config.user_claim)
    if not isinstance(user, str) or not user:
        raise _refused(f"it names no user (claim {config.user_claim!r})")
    return Principal(
        tenant=tenant,
        user=user,
        roles=_roles(_claim(claims, config.roles_claim), config.roles_claim),
        attributes=_attributes(claims, config),
    )


def _roles(value: object, name: str) -> frozenset[str]:
    if value is _MISSING or value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(role, str) for role in value):
        return frozenset(value)
    raise _refused(f"its {name!r} claim is neither a list of strings nor a string")


def _attributes(claims: Mapping[str, Any], config: IssuerConfig) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if config.attributes_claim is not None:
        bag = _claim(claims, config.attributes_claim)
        if isinstance(bag, Mapping):
            attributes.update(bag)
        elif bag is not _MISSING and bag is not None:
            raise _refused(f"its {config.attributes_claim!r} claim is not an object")
    for name in config.attribute_claims:
        value = _claim(claims, name)
        if value is not _MISSING:
            attributes[name] = value
    return attributes
