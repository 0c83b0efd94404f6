"""What authentication needs from the outside, as Protocols: the catalog and the network.

The catalog's key repository satisfies :class:`ApiKeyStore` structurally, so this package never
imports the catalog and tests use an in-memory store.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from gnomon.governance.auth.models import StoredKey

__all__ = ["ApiKeyStore", "JwksFetcher"]


class ApiKeyStore(Protocol):
    """Finds API keys by the hash of their text, and records when they were used."""

    def find(self, key_hash: str) -> StoredKey | None:
        """The key whose stored hash is ``key_hash`` (SHA-256 hex), in any tenant, or ``None``."""
        ...

    def touch(self, key_id: str, *, at: datetime) -> None:
        """Record that the key was used at ``at``; for "last used" in listings and audits."""
        ...


class JwksFetcher(Protocol):
    """Fetches an issuer's JSON Web Key Set."""

    def __call__(self, url: str, *, timeout_s: float) -> Mapping[str, Any]:
        """The parsed key set document.

        Raises:
            IdentityProviderUnavailable: the URL did not answer in time or with a key set.
        """
        ...
