"""Authentication: API keys, JWT bearer tokens (JWKS over HTTP), the dev issuer, the header.

The JWKS tests start a tiny HTTP server on 127.0.0.1 (an ephemeral port) inside the test, so
they need no outside service. Time comes from a FixedClock; nothing here depends on timing.
"""

import base64
import hashlib
import hmac
import http.server
import json
import socket
import stat
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from gnomon.clock import FixedClock
from gnomon.context import Principal
from gnomon.errors import ConfigError, InvalidInput, Unavailable
from gnomon.governance.auth import (
    ApiKeyAuthenticator,
    AuthenticationError,
    Authenticator,
    DevIssuer,
    IdentityProviderUnavailable,
    IssuerConfig,
    JwtVerifier,
    StoredKey,
    hash_api_key,
    is_api_key,
    load_or_create_secret,
    new_api_key,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://idp.example.test/realms/acme"
AUDIENCE = "gnomon-api"
DEV_SECRET = b"0123456789abcdef0123456789abcdef-dev"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


# ---------------------------------------------------------------- API keys


@dataclass
class MemoryKeyStore:
    """The catalog's key repository, reduced to the two calls authentication makes."""

    keys: dict[str, StoredKey] = field(default_factory=dict)
    touched: list[tuple[str, datetime]] = field(default_factory=list)
    finds: int = 0

    def add(self, **overrides: Any) -> str:
        key, _prefix, key_hash = new_api_key()
        stored = StoredKey(
            tenant="acme",
            key_id=f"k{len(self.keys) + 1}",
            key_hash=key_hash,
            user="emea@acme",
            user_roles=frozenset({"analyst", "viewer"}),
            user_attributes={"region": "EMEA"},
        )
        self.keys[key_hash] = replace(stored, **overrides)
        return key

    def find(self, key_hash: str) -> StoredKey | None:
        self.finds += 1
        return self.keys.get(key_hash)

    def touch(self, key_id: str, *, at: datetime) -> None:
        self.touched.append((key_id, at))


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore()


@pytest.fixture
def api_keys(store: MemoryKeyStore, clock: FixedClock) -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator(store, clock)


def _refusal(call: Any, *args: Any) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        call(*args)
    assert caught.value.http_status == 401
    assert caught.value.code == "unauthenticated"
    return caught.value


def test_new_api_key_is_random_and_stored_as_its_sha256() -> None:
    keys = {new_api_key() for _ in range(50)}
    assert len(keys) == 50
    for key, prefix, key_hash in keys:
        assert key.startswith("gnm_")
        assert len(key) == 44
        assert is_api_key(key)
        assert prefix == key[:12]
        assert key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert hash_api_key(key) == key_hash
        assert key not in key_hash


def test_valid_key_gives_its_users_principal_and_is_touched(
    store: MemoryKeyStore, api_keys: ApiKeyAuthenticator
) -> None:
    key = store.add()
    principal = api_keys.authenticate(key)
    assert principal == Principal(
        tenant="acme",
        user="emea@acme",
        roles=frozenset({"analyst", "viewer"}),
        attributes={"region": "EMEA"},
    )
    assert store.touched == [("k1", NOW)]


def test_unknown_revoked_and_disabled_keys_share_one_message(
    store: MemoryKeyStore, api_keys: ApiKeyAuthenticator
) -> None:
    revoked = store.add(revoked_at=NOW - timedelta(days=1))
    disabled = store.add(user_disabled=True)
    unknown, _, _ = new_api_key()
    messages = {
        str(_refusal(api_keys.authenticate, revoked)),
        str(_refusal(api_keys.authenticate, disabled)),
        str(_refusal(api_keys.authenticate, unknown)),
    }
    assert len(messages) == 1
    assert store.touched == []


def test_revocation_takes_effect_at_once(
    store: MemoryKeyStore, api_keys: ApiKeyAuthenticator
) -> None:
    key = store.add()
    api_keys.authenticate(key)
    key_hash = hash_api_key(key)
    store.keys[key_hash] = replace(store.keys[key_hash], revoked_at=NOW)
    _refusal(api_keys.authenticate, key)


def test_expired_key_is_refused_from_its_expiry_on(
    store: MemoryKeyStore, api_keys: ApiKeyAuthenticator, clock: FixedClock
) -> None:
    key = store.add(expires_at=NOW + timedelta(seconds=1))
    assert api_keys.authenticate(key).user == "emea@acme"
    clock.advance(timedelta(seconds=1))
    error = _refusal(api_keys.authenticate, key)
    assert "expired" in error.message


def test_key_roles_narrow_the_users_roles(
    store: MemoryKeyStore, api_keys: ApiKeyAuthenticator
) -> None:
    narrowed = store.add(key_roles=frozenset({"viewer"}))
    assert api_keys.authenticate(narrowed).roles == {"viewer"}
    # A key never carries a role its user lacks (the user lost admin, or never had it).
    widening = store.add(key_roles=frozenset({"viewer", "admin"}))
    assert api_keys.authenticate(widening).roles == {"viewer"}
    unnarrowed = store.add(key_roles=None)
    assert api_keys.authenticate(unnarrowed).roles == {"analyst", "viewer"}
    empty = store.add(key_roles=frozenset())
    assert api_keys.authenticate(empty).roles == {"analyst", "viewer"}


def test_malformed_key_is_refused_without_asking_the_store(
    store: MemoryKeyStore, api_keys: ApiKeyAuthenticator
) -> None:
    key = store.add()
    for bad in (key[:-1], key + "x", "gnm_" + "!" * 40, key.upper(), ""):
        _refusal(api_keys.authenticate, bad)
    assert store.finds == 0


def test_a_store_answer_for_another_hash_is_refused(
    store: MemoryKeyStore, api_keys: ApiKeyAuthenticator
) -> None:
    key = store.add()
    other, _, _ = new_api_key()
    store.keys[hash_api_key(other)] = store.keys[hash_api_key(key)]
    _refusal(api_keys.authenticate, other)


# ---------------------------------------------------------------- keys and tokens


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(private_key: Any, kid: str) -> dict[str, Any]:
    algorithm = (
        pyjwt.algorithms.RSAAlgorithm
        if isinstance(private_key, rsa.RSAPrivateKey)
        else pyjwt.algorithms.ECAlgorithm
    )
    jwk = dict(algorithm.to_jwk(private_key.public_key(), as_dict=True))
    jwk.update({"kid": kid, "use": "sig"})
    return jwk


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "emea@acme",
        "tenant": "acme",
        "roles": ["analyst"],
        "region": "EMEA",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _token(key: Any, *, alg: str = "RS256", kid: str | None = "k1", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return pyjwt.encode(_claims(**overrides), key, algorithm=alg, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: Mapping[str, Any], claims: Mapping[str, Any], sign: Any = None) -> str:
    """A token built by hand, for what PyJWT refuses to make (alg=none, HMAC with a public key)."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = sign(signing_input.encode()) if sign is not None else b""
    return signing_input + "." + _b64(signature)


# ---------------------------------------------------------------- a JWKS server


class JwksServer:
    """Serves a mutable key set on 127.0.0.1 and counts the fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.body: bytes | None = None
        self.hits = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                body = server.body if server.body is not None else json.dumps(server.document)
                payload = body if isinstance(body, bytes) else body.encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/jwks.json"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def jwks_server(rsa_key: rsa.RSAPrivateKey, ec_key: Any) -> Iterator[JwksServer]:
    server = JwksServer({"keys": [_jwk(rsa_key, "k1"), _jwk(ec_key, "e1")]})
    yield server
    server.close()


def _oidc(url: str, **overrides: Any) -> IssuerConfig:
    config = IssuerConfig(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=url,
        attribute_claims=("region",),
        jwks_timeout_s=5.0,
    )
    return replace(config, **overrides)


@pytest.fixture
def verifier(jwks_server: JwksServer, clock: FixedClock) -> JwtVerifier:
    return JwtVerifier([_oidc(jwks_server.url)], clock)


# ---------------------------------------------------------------- JWT: accepted


def test_valid_rs256_token_gives_its_principal(
    verifier: JwtVerifier, rsa_key: Any, jwks_server: JwksServer
) -> None:
    principal = verifier.verify(_token(rsa_key))
    assert principal == Principal(
        tenant="acme", user="emea@acme", roles=frozenset({"analyst"}), attributes={"region": "EMEA"}
    )
    assert jwks_server.hits == 1
    verifier.verify(_token(rsa_key, sub="other@acme"))
    assert jwks_server.hits == 1  # cached


def test_valid_es256_token_is_accepted(verifier: JwtVerifier, ec_key: Any) -> None:
    assert verifier.verify(_token(ec_key, alg="ES256", kid="e1")).user == "emea@acme"


def test_audience_may_be_one_of_a_list(verifier: JwtVerifier, rsa_key: Any) -> None:
    token = _token(rsa_key, aud=["account", AUDIENCE])
    assert verifier.verify(token).tenant == "acme"


def test_claim_names_are_configurable_and_may_be_paths(
    jwks_server: JwksServer, clock: FixedClock, rsa_key: Any
) -> None:
    config = _oidc(
        jwks_server.url,
        tenant_claim="https://gnomon.example/tenant",
        user_claim="email",
        roles_claim="realm_access.roles",
        attribute_claims=("department", "region"),
    )
    token = _token(
        rsa_key,
        tenant=None,
        **{"https://gnomon.example/tenant": "globex"},
        email="admin@globex",
        roles=None,
        realm_access={"roles": ["admin", "viewer"]},
        department="sales",
    )
    principal = JwtVerifier([config], clock).verify(token)
    assert principal.tenant == "globex"
    assert principal.user == "admin@globex"
    assert principal.roles == {"admin", "viewer"}
    assert principal.attributes == {"department": "sales", "region": "EMEA"}


def test_roles_may_be_a_space_separated_string(verifier: JwtVerifier, rsa_key: Any) -> None:
    assert verifier.verify(_token(rsa_key, roles="analyst viewer")).roles == {"analyst", "viewer"}
    assert verifier.verify(_token(rsa_key, roles=None)).roles == frozenset()


def test_leeway_tolerates_small_clock_skew(
    verifier: JwtVerifier, rsa_key: Any, clock: FixedClock
) -> None:
    now = int(NOW.timestamp())
    assert verifier.verify(_token(rsa_key, exp=now - 10)).user == "emea@acme"
    assert verifier.verify(_token(rsa_key, nbf=now + 10, iat=now + 10)).user == "emea@acme"


# ---------------------------------------------------------------- JWT: refused


def test_expired_token_is_refused(verifier: JwtVerifier, rsa_key: Any, clock: FixedClock) -> None:
    token = _token(rsa_key)
    verifier.verify(token)
    clock.advance(timedelta(seconds=300 + 30))
    error = _refusal(verifier.verify, token)
    assert "expired" in error.message


def test_token_without_exp_is_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    error = _refusal(verifier.verify, _token(rsa_key, exp=None))
    assert "'exp'" in error.message


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_not_yet_valid_token_is_refused(verifier: JwtVerifier, rsa_key: Any, claim: str) -> None:
    later = int(NOW.timestamp()) + 120
    overrides: dict[str, Any] = {claim: later, "exp": later + 300}
    error = _refusal(verifier.verify, _token(rsa_key, **overrides))
    assert claim in error.message


@pytest.mark.parametrize("value", ["soon", True, [1], {"a": 1}, 1e400])
def test_time_claims_must_be_numbers(verifier: JwtVerifier, rsa_key: Any, value: Any) -> None:
    forge = isinstance(value, float)  # PyJWT will not write Infinity
    token = _forge_signed(rsa_key, exp=value) if forge else _token(rsa_key, exp=value)
    _refusal(verifier.verify, token)


def _forge_signed(key: Any, **overrides: Any) -> str:
    """An RS256 token whose claims JSON PyJWT would not write (e.g. Infinity)."""
    header = {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    return _forge(
        header,
        _claims(**overrides),
        sign=lambda data: pyjwt.algorithms.RSAAlgorithm(pyjwt.algorithms.RSAAlgorithm.SHA256).sign(
            data, key
        ),
    )


def test_wrong_audience_is_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    error = _refusal(verifier.verify, _token(rsa_key, aud="another-app"))
    assert "audience" in error.message
    _refusal(verifier.verify, _token(rsa_key, aud=None))


def test_wrong_issuer_is_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    error = _refusal(verifier.verify, _token(rsa_key, iss="https://evil.example.test"))
    assert "not trusted" in error.message
    _refusal(verifier.verify, _token(rsa_key, iss=None))


def test_signature_by_another_key_is_refused(
    verifier: JwtVerifier, other_rsa_key: Any, rsa_key: Any
) -> None:
    error = _refusal(verifier.verify, _token(other_rsa_key, kid="k1"))
    assert "signature" in error.message


def test_tampered_payload_is_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    header, _payload, signature = _token(rsa_key).split(".")
    tampered = _b64(json.dumps(_claims(tenant="globex", roles=["admin"])).encode())
    _refusal(verifier.verify, f"{header}.{tampered}.{signature}")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_alg_none_is_refused(verifier: JwtVerifier, alg: str) -> None:
    token = _forge({"alg": alg, "typ": "JWT", "kid": "k1"}, _claims())
    error = _refusal(verifier.verify, token)
    assert "algorithm" in error.message


def test_alg_none_is_refused_even_for_an_hmac_issuer(clock: FixedClock) -> None:
    dev = DevIssuer(DEV_SECRET, clock=clock)
    token = _forge({"alg": "none"}, _claims(iss="gnomon-dev", aud="gnomon"))
    _refusal(JwtVerifier([dev.issuer_config()], clock).verify, token)


def test_hs256_signed_with_the_public_key_is_refused(
    verifier: JwtVerifier, rsa_key: Any, jwks_server: JwksServer
) -> None:
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_jwk = json.dumps(jwks_server.document["keys"][0]).encode()
    for secret in (public_pem, public_jwk):
        token = _forge(
            {"alg": "HS256", "typ": "JWT", "kid": "k1"},
            _claims(),
            sign=lambda data, secret=secret: hmac.new(secret, data, hashlib.sha256).digest(),
        )
        error = _refusal(verifier.verify, token)
        assert "algorithm" in error.message


def test_algorithm_outside_the_allowed_list_is_refused(
    jwks_server: JwksServer, clock: FixedClock, ec_key: Any, rsa_key: Any
) -> None:
    only_rs256 = JwtVerifier([_oidc(jwks_server.url, algorithms=("RS256",))], clock)
    _refusal(only_rs256.verify, _token(ec_key, alg="ES256", kid="e1"))
    # The RSA key may not be used with an algorithm the issuer did not allow, either.
    _refusal(only_rs256.verify, _token(rsa_key, alg="PS256"))
    # Nor an allowed algorithm with a key of the wrong type (ES256 header, RSA key id).
    _refusal(only_rs256.verify, _token(ec_key, alg="ES256", kid="k1"))


def test_missing_tenant_claim_is_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    for tenant in (None, "", 7, ["acme"]):
        error = _refusal(verifier.verify, _token(rsa_key, tenant=tenant))
        assert "tenant" in error.message


def test_missing_user_is_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    _refusal(verifier.verify, _token(rsa_key, sub=None))


def test_roles_of_the_wrong_type_are_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    for roles in (3, {"admin": True}, ["admin", 1]):
        _refusal(verifier.verify, _token(rsa_key, roles=roles))


def test_issuer_limited_to_tenants_cannot_name_another(
    jwks_server: JwksServer, clock: FixedClock, rsa_key: Any
) -> None:
    config = _oidc(jwks_server.url, allowed_tenants=frozenset({"acme"}))
    limited = JwtVerifier([config], clock)
    assert limited.verify(_token(rsa_key)).tenant == "acme"
    _refusal(limited.verify, _token(rsa_key, tenant="globex"))


def test_oversized_and_deeply_nested_tokens_are_refused(verifier: JwtVerifier) -> None:
    _refusal(verifier.verify, "a" * 20_000)
    nested = _b64(b"[" * 5000) + "." + _b64(b"[" * 5000) + ".x"
    _refusal(verifier.verify, nested)


# ---------------------------------------------------------------- JWT: the key set


def test_unknown_kid_refetches_once_then_refuses(
    verifier: JwtVerifier, jwks_server: JwksServer, rsa_key: Any, clock: FixedClock
) -> None:
    verifier.verify(_token(rsa_key))
    assert jwks_server.hits == 1
    # Right after a fetch, an unknown kid does not fetch again.
    _refusal(verifier.verify, _token(rsa_key, kid="nope"))
    assert jwks_server.hits == 1
    clock.advance(timedelta(seconds=31))
    error = _refusal(verifier.verify, _token(rsa_key, kid="nope"))
    assert "'nope'" in error.message
    assert jwks_server.hits == 2
    _refusal(verifier.verify, _token(rsa_key, kid="nope"))
    assert jwks_server.hits == 2


def test_rotated_key_is_picked_up_by_the_refetch(
    verifier: JwtVerifier,
    jwks_server: JwksServer,
    rsa_key: Any,
    other_rsa_key: Any,
    clock: FixedClock,
) -> None:
    verifier.verify(_token(rsa_key))
    jwks_server.document = {"keys": [_jwk(other_rsa_key, "k2")]}
    clock.advance(timedelta(minutes=1))
    assert verifier.verify(_token(other_rsa_key, kid="k2", iat=None, nbf=None)).user
    assert jwks_server.hits == 2
    # The old key is gone from the set: its tokens no longer verify.
    clock.advance(timedelta(minutes=1))
    _refusal(verifier.verify, _token(rsa_key, kid="k1", iat=None, nbf=None))


def test_key_set_is_fetched_again_after_its_ttl(
    verifier: JwtVerifier, jwks_server: JwksServer, rsa_key: Any, clock: FixedClock
) -> None:
    token = _token(rsa_key, exp=int(NOW.timestamp()) + 3600)
    verifier.verify(token)
    clock.advance(timedelta(minutes=9))
    verifier.verify(token)
    assert jwks_server.hits == 1
    clock.advance(timedelta(minutes=1))
    verifier.verify(token)
    assert jwks_server.hits == 2


def test_token_without_kid_uses_a_single_key_set(
    jwks_server: JwksServer, clock: FixedClock, rsa_key: Any, ec_key: Any
) -> None:
    two_keys = JwtVerifier([_oidc(jwks_server.url)], clock)
    _refusal(two_keys.verify, _token(rsa_key, kid=None))
    jwks_server.document = {"keys": [_jwk(rsa_key, "k1")]}
    one_key = JwtVerifier([_oidc(jwks_server.url)], clock)
    assert one_key.verify(_token(rsa_key, kid=None)).user == "emea@acme"


def test_inline_key_set_needs_no_fetch(clock: FixedClock, rsa_key: Any) -> None:
    config = IssuerConfig(issuer=ISSUER, audience=AUDIENCE, jwks={"keys": [_jwk(rsa_key, "k1")]})
    assert JwtVerifier([config], clock).verify(_token(rsa_key)).tenant == "acme"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_unavailable(verifier: JwtVerifier, token: str) -> None:
    with pytest.raises(IdentityProviderUnavailable) as caught:
        verifier.verify(token)
    assert isinstance(caught.value, Unavailable)
    assert not isinstance(caught.value, AuthenticationError)
    assert caught.value.http_status == 503
    assert caught.value.retryable


def test_jwks_server_down_is_unavailable_not_401(clock: FixedClock, rsa_key: Any) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/jwks.json"
    _assert_unavailable(JwtVerifier([_oidc(url)], clock), _token(rsa_key))


def test_jwks_server_not_answering_times_out_as_unavailable(
    clock: FixedClock, rsa_key: Any
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/jwks.json"
        verifier = JwtVerifier([_oidc(url, jwks_timeout_s=0.2)], clock)
        _assert_unavailable(verifier, _token(rsa_key))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"{}"),
        (200, b"<html>maintenance</html>"),
        (200, b'{"keys": "none"}'),
        (200, b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'),
    ],
)
def test_jwks_server_answering_nonsense_is_unavailable(
    jwks_server: JwksServer, verifier: JwtVerifier, rsa_key: Any, status: int, body: bytes
) -> None:
    jwks_server.status = status
    jwks_server.body = body
    _assert_unavailable(verifier, _token(rsa_key))


def test_jwks_server_recovering_is_used_again(
    jwks_server: JwksServer, verifier: JwtVerifier, rsa_key: Any
) -> None:
    jwks_server.status = 503
    _assert_unavailable(verifier, _token(rsa_key))
    jwks_server.status = 200
    assert verifier.verify(_token(rsa_key)).tenant == "acme"


# ---------------------------------------------------------------- issuer configuration


@pytest.mark.parametrize(
    "overrides",
    [
        {"algorithms": ("none",)},
        {"algorithms": ("RS256", "none")},
        {"algorithms": ()},
        {"algorithms": ("HS256",)},  # HMAC with a public key set: the confusion attack
        {"algorithms": ("RS256", "HS256")},
        {"jwks": {"keys": []}},  # two key sources
        {"jwks_url": "file:///etc/passwd"},
        {"audience": ""},
    ],
)
def test_unsafe_issuer_configs_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        IssuerConfig(
            **{"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://idp.test/jwks"}
            | overrides
        )


def test_secret_issuers_allow_hmac_only_with_a_long_secret() -> None:
    with pytest.raises(ConfigError, match="HMAC"):
        IssuerConfig(issuer="dev", audience="a", secret=DEV_SECRET, algorithms=("RS256",))
    with pytest.raises(ConfigError, match="bytes"):
        IssuerConfig(issuer="dev", audience="a", secret=b"short", algorithms=("HS256",))
    with pytest.raises(ConfigError, match="exactly one"):
        IssuerConfig(issuer="dev", audience="a", algorithms=("HS256",))


def test_an_issuer_configured_twice_is_refused(clock: FixedClock) -> None:
    config = IssuerConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url="https://idp.test/jwks")
    with pytest.raises(ConfigError, match="twice"):
        JwtVerifier([config, config], clock)


# ---------------------------------------------------------------- development issuer


@pytest.fixture(params=["HS256", "RS256", "ES256"])
def dev_issuer(
    request: pytest.FixtureRequest, clock: FixedClock, rsa_key: Any, ec_key: Any
) -> DevIssuer:
    key = {"HS256": DEV_SECRET, "RS256": rsa_key, "ES256": ec_key}[request.param]
    issuer = DevIssuer(key, clock=clock, ttl=timedelta(hours=1))
    assert issuer.algorithm == request.param
    return issuer


def test_dev_issuer_round_trip(dev_issuer: DevIssuer, clock: FixedClock) -> None:
    token = dev_issuer.create_token(
        tenant="acme",
        user="emea@acme",
        roles=["analyst", "analyst", "viewer"],
        attributes={"region": "EMEA", "level": 3},
    )
    authenticator = Authenticator(tokens=JwtVerifier([dev_issuer.issuer_config()], clock))
    principal = authenticator.authenticate(f"Bearer {token}")
    assert principal == Principal(
        tenant="acme",
        user="emea@acme",
        roles=frozenset({"analyst", "viewer"}),
        attributes={"region": "EMEA", "level": 3},
    )
    clock.advance(timedelta(hours=1, seconds=31))
    _refusal(authenticator.authenticate, f"Bearer {token}")


def test_dev_tokens_are_refused_unless_the_dev_issuer_is_configured(
    dev_issuer: DevIssuer, verifier: JwtVerifier
) -> None:
    token = dev_issuer.create_token(tenant="acme", user="admin@acme", roles=["admin"])
    error = _refusal(verifier.verify, token)
    assert "not trusted" in error.message


def test_dev_tokens_of_another_project_are_refused(clock: FixedClock) -> None:
    ours = DevIssuer(DEV_SECRET, clock=clock)
    theirs = DevIssuer(b"another project's secret, 32+ bytes long", clock=clock)
    token = theirs.create_token(tenant="acme", user="admin@acme", roles=["admin"])
    _refusal(JwtVerifier([ours.issuer_config()], clock).verify, token)


def test_dev_issuer_refuses_weak_secrets_and_bad_requests(clock: FixedClock) -> None:
    with pytest.raises(ConfigError):
        DevIssuer("too short", clock=clock)
    with pytest.raises(ConfigError):
        DevIssuer(ec.generate_private_key(ec.SECP384R1()), clock=clock)
    dev = DevIssuer(DEV_SECRET, clock=clock)
    with pytest.raises(InvalidInput):
        dev.create_token(tenant="", user="u")
    with pytest.raises(InvalidInput):
        dev.create_token(tenant="acme", user="u", attributes={"since": NOW})


def test_dev_secret_file_is_created_private_once(tmp_path: Path) -> None:
    path = tmp_path / "project" / ".gnomon" / "dev-issuer.key"
    secret = load_or_create_secret(path)
    assert len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_secret(path) == secret
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    other = load_or_create_secret(tmp_path / "other" / "dev-issuer.key")
    assert other != secret


def test_dev_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dev-issuer.key"
    load_or_create_secret(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_secret(path)


def test_dev_secret_file_too_short_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dev-issuer.key"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="Delete the file"):
        load_or_create_secret(path)


# ---------------------------------------------------------------- the Authorization header


@pytest.fixture
def authenticator(
    api_keys: ApiKeyAuthenticator, verifier: JwtVerifier, clock: FixedClock
) -> Authenticator:
    return Authenticator(api_keys=api_keys, tokens=verifier)


def test_header_forms_reach_the_right_check(
    authenticator: Authenticator, store: MemoryKeyStore, rsa_key: Any
) -> None:
    key = store.add(user="key-user@acme")
    token = _token(rsa_key)
    assert authenticator.authenticate(f"Bearer {key}").user == "key-user@acme"
    assert authenticator.authenticate(f"ApiKey {key}").user == "key-user@acme"
    assert authenticator.authenticate(f"apikey {key}").user == "key-user@acme"
    assert authenticator.authenticate(f"  bearer\t{key} ").user == "key-user@acme"
    assert authenticator.authenticate(f"Bearer {token}").user == "emea@acme"
    assert authenticator.authenticate(f"BEARER {token}").user == "emea@acme"
    _refusal(authenticator.authenticate, f"ApiKey {token}")


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_says_how_to_authenticate(
    authenticator: Authenticator, header: str | None
) -> None:
    error = _refusal(authenticator.authenticate, header)
    assert error.hint is not None
    assert "Bearer" in error.hint
    assert "ApiKey" in error.hint
    assert error.challenge == 'Bearer realm="gnomon"'


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "gnm_abc", "Bearer tok\x00en"],
)
def test_malformed_header_is_refused_with_a_hint(authenticator: Authenticator, header: str) -> None:
    error = _refusal(authenticator.authenticate, header)
    assert error.hint is not None
    assert "Authorization: Bearer" in error.hint
    assert "invalid_token" in error.challenge


def test_unconfigured_methods_are_refused(
    api_keys: ApiKeyAuthenticator, store: MemoryKeyStore, verifier: JwtVerifier, rsa_key: Any
) -> None:
    key = store.add()
    error = _refusal(Authenticator(tokens=verifier).authenticate, f"Bearer {key}")
    assert "API keys" in error.message
    error = _refusal(Authenticator(api_keys=api_keys).authenticate, f"Bearer {_token(rsa_key)}")
    assert "no issuer" in error.message


# ---------------------------------------------------------------- properties

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def offline_authenticator(rsa_key: Any) -> Authenticator:
    """An authenticator with every method and no network: inline keys and a dev secret."""
    clock = FixedClock(NOW)
    store = MemoryKeyStore()
    store.add()
    inline = IssuerConfig(issuer=ISSUER, audience=AUDIENCE, jwks={"keys": [_jwk(rsa_key, "k1")]})
    dev = DevIssuer(DEV_SECRET, clock=clock).issuer_config()
    return Authenticator(
        api_keys=ApiKeyAuthenticator(store, clock), tokens=JwtVerifier([inline, dev], clock)
    )


def _only_401(authenticator: Authenticator, header: str) -> None:
    try:
        authenticator.authenticate(header)
    except AuthenticationError as error:
        assert error.http_status == 401
        assert error.message


@given(header=st.text(max_size=300))
def test_random_headers_raise_only_401(offline_authenticator: Authenticator, header: str) -> None:
    _only_401(offline_authenticator, header)


@given(
    scheme=st.sampled_from(["Bearer", "ApiKey", "bearer"]),
    credential=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=120)
    | st.builds("gnm_{}".format, st.text(max_size=44)),
)
def test_random_credentials_raise_only_401(
    offline_authenticator: Authenticator, scheme: str, credential: str
) -> None:
    _only_401(offline_authenticator, f"{scheme} {credential}")


@given(header=_json, claims=_json)
def test_random_unsigned_token_parts_raise_only_401(
    offline_authenticator: Authenticator, header: Any, claims: Any
) -> None:
    token = (
        _b64(json.dumps(header).encode())
        + "."
        + _b64(json.dumps(claims).encode())
        + "."
        + _b64(b"sig")
    )
    _only_401(offline_authenticator, f"Bearer {token}")


@given(
    extra=st.dictionaries(
        st.sampled_from(
            ["tenant", "sub", "roles", "attributes", "aud", "exp", "nbf", "iat", "kid", "jti"]
        ),
        _json,
        max_size=5,
    )
)
def test_signed_tokens_with_odd_claims_give_a_principal_or_401(
    offline_authenticator: Authenticator, extra: dict[str, Any]
) -> None:
    """Properly signed by a trusted issuer, but with claims of any JSON type."""
    claims = _claims(iss="gnomon-dev", aud="gnomon")
    claims.update(extra)
    token = pyjwt.encode(claims, DEV_SECRET, algorithm="HS256")
    try:
        principal = offline_authenticator.authenticate(f"Bearer {token}")
    except AuthenticationError as error:
        assert error.http_status == 401
    else:
        assert isinstance(principal.tenant, str)
        assert principal.tenant
        assert isinstance(principal.user, str)
        assert all(isinstance(role, str) for role in principal.roles)
