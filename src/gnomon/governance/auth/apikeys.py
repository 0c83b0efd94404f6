"""API keys: shown once, stored as a hash, narrowed to roles, expiring and revocable.

A key is ``gnm_`` followed by 40 URL-safe random characters (240 bits). Because it is random and
long, a plain SHA-256 of it is a safe thing to store: there is nothing to guess, so a slow
password hash would only slow every request. The first 12 characters (the *prefix*) are stored in
clear so that people can tell their keys apart in listings.
"""

import hashlib
import hmac
import logging
import re
import secrets
import string
from datetime import datetime

from gnomon.clock import Clock
from gnomon.context import Principal
from gnomon.governance.auth.errors import AuthenticationError
from gnomon.governance.auth.models import StoredKey
from gnomon.governance.auth.protocols import ApiKeyStore

__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyAuthenticator",
    "hash_api_key",
    "is_api_key",
    "new_api_key",
]

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "gnm_"
_RANDOM_CHARS = 40
_DISPLAY_PREFIX_CHARS = 12
_ALPHABET = string.ascii_letters + string.digits + "-_"
_KEY_SHAPE = re.compile(rf"^{API_KEY_PREFIX}[A-Za-z0-9_-]{{{_RANDOM_CHARS}}}$")
_PRINCIPALS_KEPT = 4096
"""Principals of this many keys are kept at most (then all are made again)."""
_REFUSED = "API key refused: it is unknown, revoked, or its user is disabled."


def new_api_key() -> tuple[str, str, str]:
    """A fresh key as ``(key, prefix, key_hash)``: show ``key`` once, store the other two.

    >>> key, prefix, key_hash = new_api_key()
    >>> key.startswith("gnm_"), len(key), key.startswith(prefix), len(prefix)
    (True, 44, True, 12)
    >>> key_hash == hash_api_key(key)
    True
    """
    key = API_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return key, key[:_DISPLAY_PREFIX_CHARS], hash_api_key(key)


def hash_api_key(key: str) -> str:
    """The stored form of a key: SHA-256 of its UTF-8 text, lowercase hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_api_key(credential: str) -> bool:
    """Whether a credential has the shape of a gnomon API key (it may still be unknown).

    >>> is_api_key("gnm_" + "a" * 40), is_api_key("eyJhbGciOi.e30.sig")
    (True, False)
    """
    return _KEY_SHAPE.match(credential) is not None


class ApiKeyAuthenticator:
    """Turns an API key into the principal of its user, within the key's tenant."""

    def __init__(self, store: ApiKeyStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        # The principal made from each stored key: the same key, read once, gives the same
        # (immutable) principal, so what is kept per principal downstream stays valid.
        self._principals: dict[str, tuple[StoredKey, Principal]] = {}

    def authenticate(self, key: str) -> Principal:
        """The principal the key stands for.

        The roles are the user's, narrowed to the key's roles when the key names any; a key can
        never carry a role its user no longer has.

        Raises:
            AuthenticationError: the key is malformed, unknown, revoked, expired, or its user is
                disabled. Unknown, revoked and disabled share one message.
        """
        if not is_api_key(key):
            raise AuthenticationError(
                "API key refused: it is not a gnomon API key (they start with 'gnm_' and have "
                f"{len(API_KEY_PREFIX) + _RANDOM_CHARS} characters)."
            )
        key_hash = hash_api_key(key)
        stored = self._store.find(key_hash)
        if stored is None or not hmac.compare_digest(stored.key_hash, key_hash):
            logger.info("API key refused: unknown key with prefix %s", key[:_DISPLAY_PREFIX_CHARS])
            raise AuthenticationError(_REFUSED)
        now = self._clock.now()
        self._check_usable(stored, now=now)
        self._store.touch(stored.key_id, at=now)
        made = self._principals.get(key_hash)
        if made is not None and made[0] is stored:
            return made[1]
        principal = Principal(
            tenant=stored.tenant,
            user=stored.user,
            roles=_effective_roles(stored),
            attributes=dict(stored.user_attributes),
        )
        if len(self._principals) >= _PRINCIPALS_KEPT:
            self._principals.clear()
        self._principals[key_hash] = (stored, principal)
        return principal

    @staticmethod
    def _check_usable(stored: StoredKey, *, now: datetime) -> None:
        if stored.revoked_at is not None or stored.user_disabled:
            logger.info(
                "API key %s refused: %s",
                stored.key_id,
                "revoked" if stored.revoked_at is not None else "user disabled",
                extra={"tenant": stored.tenant},
            )
            raise AuthenticationError(_REFUSED)
        if stored.expires_at is not None and stored.expires_at <= now:
            raise AuthenticationError(
                f"API key refused: it expired at {stored.expires_at.isoformat()}.",
                hint="Create a new API key; expired keys cannot be extended.",
            )


def _effective_roles(stored: StoredKey) -> frozenset[str]:
    if not stored.key_roles:
        return stored.user_roles
    return stored.user_roles & stored.key_roles
