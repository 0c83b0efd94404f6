"""The built-in development issuer: tokens for local work and demos without an identity provider.

It is off unless configured: the composition root adds :meth:`DevIssuer.issuer_config` to the
verifier's issuers only when development tokens are enabled, and otherwise its tokens are refused
like any other unknown issuer's. It signs with a project-local secret (HS256) by default, kept in
a file readable by its owner only, or with a private key (RS256/ES256) when given one.
"""

import contextlib
import json
import os
import secrets
import stat
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gnomon.clock import Clock, SystemClock
from gnomon.errors import ConfigError, InvalidInput
from gnomon.governance.auth.models import MIN_SECRET_BYTES, IssuerConfig

__all__ = [
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "DEV_SECRET_FILE",
    "DevIssuer",
    "load_or_create_secret",
]

DEV_ISSUER = "gnomon-dev"
DEV_AUDIENCE = "gnomon"
DEV_SECRET_FILE = Path(".gnomon") / "dev-issuer.key"
"""Where the secret lives, relative to the project directory."""

_ATTRIBUTES_CLAIM = "attributes"


class DevIssuer:
    """Mints tokens that a verifier given :meth:`issuer_config` accepts.

    Args:
        secret_or_key: a shared secret of at least 32 bytes (HS256), or an RSA (RS256) or P-256
            (ES256) private key.
        issuer: the ``iss`` of its tokens.
        audience: the ``aud`` of its tokens.
        ttl: how long a token is valid.
        clock: the source of ``iat``/``nbf``/``exp``; the wall clock by default.
    """

    def __init__(
        self,
        secret_or_key: bytes | str | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        *,
        issuer: str = DEV_ISSUER,
        audience: str = DEV_AUDIENCE,
        ttl: timedelta = timedelta(hours=8),
        clock: Clock | None = None,
        key_id: str = "gnomon-dev-1",
    ) -> None:
        if ttl <= timedelta(0):
            raise ConfigError("development issuer: ttl must be positive.")
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._key_id = key_id
        self._secret: bytes | None = None
        self._private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None
        if isinstance(secret_or_key, str | bytes):
            secret = (
                secret_or_key.encode("utf-8") if isinstance(secret_or_key, str) else secret_or_key
            )
            if len(secret) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"development issuer: the secret has {len(secret)} bytes, fewer than "
                    f"{MIN_SECRET_BYTES}.",
                    hint="Use load_or_create_secret(), which makes a random one.",
                )
            self._secret = secret
            self._algorithm = "HS256"
        elif isinstance(secret_or_key, rsa.RSAPrivateKey):
            self._private_key = secret_or_key
            self._algorithm = "RS256"
        elif isinstance(secret_or_key, ec.EllipticCurvePrivateKey) and isinstance(
            secret_or_key.curve, ec.SECP256R1
        ):
            self._private_key = secret_or_key
            self._algorithm = "ES256"
        else:
            raise ConfigError(
                "development issuer: the key must be a secret, an RSA key or a P-256 EC key, "
                f"not {type(secret_or_key).__name__}."
            )

    @property
    def algorithm(self) -> str:
        """The ``alg`` its tokens are signed with."""
        return self._algorithm

    def issuer_config(self, *, allowed_tenants: frozenset[str] | None = None) -> IssuerConfig:
        """The verifier's view of this issuer: same issuer, audience, algorithm and key."""
        if self._private_key is None:
            return IssuerConfig(
                issuer=self._issuer,
                audience=self._audience,
                secret=self._secret,
                algorithms=(self._algorithm,),
                attributes_claim=_ATTRIBUTES_CLAIM,
                allowed_tenants=allowed_tenants,
            )
        jwk = _public_jwk(self._private_key)
        jwk.update({"kid": self._key_id, "alg": self._algorithm, "use": "sig"})
        return IssuerConfig(
            issuer=self._issuer,
            audience=self._audience,
            jwks={"keys": [jwk]},
            algorithms=(self._algorithm,),
            attributes_claim=_ATTRIBUTES_CLAIM,
            allowed_tenants=allowed_tenants,
        )

    def create_token(
        self,
        *,
        tenant: str,
        user: str,
        roles: Iterable[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token for ``user`` in ``tenant``, valid from now for the issuer's ttl.

        Raises:
            InvalidInput: the tenant or user is empty, or an attribute is not JSON.
        """
        if not tenant or not user:
            raise InvalidInput(
                "token request: the tenant and the user must not be empty.",
                hint="Pass e.g. --tenant acme --user admin@acme.",
            )
        now = int(self._clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user,
            "tenant": tenant,
            "roles": sorted(set(roles)),
            _ATTRIBUTES_CLAIM: dict(attributes or {}),
            "iat": now,
            "nbf": now,
            "exp": now + int(self._ttl.total_seconds()),
            "jti": uuid.uuid4().hex,
        }
        try:
            json.dumps(claims)
        except (TypeError, ValueError) as error:
            raise InvalidInput(
                f"token request: the attributes are not JSON values ({error}).",
                hint="Use strings, numbers, booleans, lists and objects.",
            ) from error
        key: Any = self._secret if self._secret is not None else self._private_key
        return pyjwt.encode(claims, key, algorithm=self._algorithm, headers={"kid": self._key_id})


def _public_jwk(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return dict(pyjwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    return dict(pyjwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True))


def load_or_create_secret(path: Path, *, purpose: str = "development issuer") -> bytes:
    """The secret at ``path`` (the development issuer's, say), made (random, 0600) on first use.

    Creation is atomic: the secret is written to a private temporary file and linked into place,
    so two processes starting together agree on one secret and neither reads a half-written file.

    Raises:
        ConfigError: the file is readable by others than its owner, or too short to be a secret.
    """
    if not path.exists():
        _create_secret_file(path)
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{purpose}: {path} is readable by others (mode {mode:04o}).",
                hint=f"Run 'chmod 600 {path}', or delete it to have a new secret made.",
                path=str(path),
            )
    secret = path.read_bytes().strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{purpose}: {path} holds {len(secret)} bytes, fewer than {MIN_SECRET_BYTES}.",
            hint="Delete the file to have a new secret made.",
            path=str(path),
        )
    return secret


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        # Another process may have made it first: then theirs is the secret.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
