"""Fetching and caching issuers' key sets (JWKS).

A key set is fetched on first use, kept for the issuer's ``jwks_ttl``, and fetched again at most
once per request when a token names a key id the cached set lacks (the provider rotated its
keys), but no sooner than ``jwks_refetch_interval`` after the last fetch, so that tokens with
made-up key ids cannot make every request a fetch. A failed fetch is
:class:`IdentityProviderUnavailable` (503), never a 401: the token may be fine.
"""

import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from gnomon.clock import Clock
from gnomon.governance.auth.errors import IdentityProviderUnavailable
from gnomon.governance.auth.models import IssuerConfig
from gnomon.governance.auth.protocols import JwksFetcher

__all__ = ["IssuerKeys", "fetch_jwks"]

logger = logging.getLogger(__name__)

_MAX_JWKS_BYTES = 1_000_000
_SIGNING_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


def fetch_jwks(url: str, *, timeout_s: float) -> Mapping[str, Any]:
    """The key set at ``url``, fetched over HTTP(S) with a timeout (proxies from the environment).

    Raises:
        IdentityProviderUnavailable: no answer in time, an HTTP error, or not a key set.
    """
    if urlsplit(url).scheme not in {"http", "https"}:
        raise IdentityProviderUnavailable(f"JWKS URL {url!r} is not an http(s) URL.")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, headers={"Accept": "application/json", "User-Agent": "gnomon"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            body: bytes = response.read(_MAX_JWKS_BYTES + 1)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the response; unclosed, its socket leaks
        raise _unavailable(url, f"it answered HTTP {error.code}") from error
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise _unavailable(url, f"the fetch failed ({error})") from error
    if len(body) > _MAX_JWKS_BYTES:
        raise _unavailable(url, f"the answer is larger than {_MAX_JWKS_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise _unavailable(url, "the answer is not JSON") from error
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _unavailable(url, "the answer is not a key set (no 'keys' list)")
    return document


def _unavailable(url: str, why: str) -> IdentityProviderUnavailable:
    return IdentityProviderUnavailable(
        f"Identity provider unavailable: the key set at {url} could not be read: {why}.",
        hint="Retry later; if it persists, check the issuer's jwks_url and the network.",
        url=url,
    )


@dataclass(frozen=True, slots=True)
class _KeySet:
    keys: tuple[Mapping[str, Any], ...]
    fetched_at: datetime

    def find(self, kid: str | None) -> list[Mapping[str, Any]]:
        """Keys with this id; a token without ``kid`` may only use a set's single key."""
        if kid is None:
            return list(self.keys) if len(self.keys) == 1 else []
        return [key for key in self.keys if key.get("kid") == kid]


def _signing_keys(document: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """The asymmetric signature keys of a key set; encryption and symmetric keys are dropped."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        return ()
    return tuple(
        key
        for key in keys
        if isinstance(key, dict)
        and key.get("kty") in _SIGNING_KEY_TYPES
        and key.get("use", "sig") == "sig"
    )


class IssuerKeys:
    """One issuer's public keys, from an inline set or a cached fetch; safe across threads."""

    def __init__(self, config: IssuerConfig, *, fetch: JwksFetcher, clock: Clock) -> None:
        self._config = config
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._set: _KeySet | None = None
        if config.jwks is not None:
            self._set = _KeySet(_signing_keys(config.jwks), fetched_at=clock.now())

    def find(self, kid: str | None) -> list[Mapping[str, Any]]:
        """The keys a token with this ``kid`` may be signed with (empty: none known).

        Raises:
            IdentityProviderUnavailable: the key set had to be fetched and could not be.
        """
        url = self._config.jwks_url
        if url is None:
            return self._set.find(kid) if self._set is not None else []
        with self._lock:
            now = self._clock.now()
            fetched_now = False
            if self._set is None or now - self._set.fetched_at >= self._config.jwks_ttl:
                self._set = self._load(url, now)
                fetched_now = True
            found = self._set.find(kid)
            refetch_allowed = now - self._set.fetched_at >= self._config.jwks_refetch_interval
            if not found and not fetched_now and refetch_allowed:
                logger.info(
                    "unknown key id %r for issuer %s: fetching its key set again",
                    kid,
                    self._config.issuer,
                )
                self._set = self._load(url, now)
                found = self._set.find(kid)
            return found

    def _load(self, url: str, now: datetime) -> _KeySet:
        document = self._fetch(url, timeout_s=self._config.jwks_timeout_s)
        keys = _signing_keys(document)
        if not keys:
            raise _unavailable(url, "it holds no signature keys")
        return _KeySet(keys, fetched_at=now)
