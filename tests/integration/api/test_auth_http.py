"""Authentication over real HTTP: a refused credential is a 401 of the one shape, with a challenge.

The app is served by uvicorn on a loopback port for the module and called with httpx, so headers
travel as they do in production. It trusts two issuers: an OIDC provider whose key set (JWKS) a
second local server publishes, limited to the default tenant by ``allowed_tenants``, and the
built-in development issuer. A movable clock lets keys and tokens expire without waiting.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gnomon.api.app import create_app
from gnomon.app import Gnomon
from gnomon.context import RequestContext
from gnomon.governance.auth import DEV_AUDIENCE, DEV_ISSUER, DevIssuer
from tests.integration.api.helpers import assert_error
from tests.projects import write_project

pytestmark = [pytest.mark.integration]

ISSUER = "https://idp.example.test"
AUDIENCE = "gnomon-api"
KID = "key-1"
TENANT = "default"
OTHER_TENANT = "initech"
CHALLENGE = 'Bearer realm="gnomon", error="invalid_token"'


class MovableClock:
    """A clock tests move; starts at the wall clock's now."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


@dataclass
class Served:
    """The served app, its clock, the OIDC key and credentials of the default tenant."""

    url: str
    app: Gnomon
    clock: MovableClock
    key: rsa.RSAPrivateKey
    admin_key: str
    admin_user_id: str

    def get(self, authorization: str | None) -> httpx.Response:
        headers = {} if authorization is None else {"Authorization": authorization}
        return httpx.get(f"{self.url}/api/v1/runs", headers=headers, timeout=30)

    def bearer(self, token: str) -> httpx.Response:
        return self.get(f"Bearer {token}")

    def token(
        self,
        *,
        key: Any = None,
        alg: str = "RS256",
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token of the OIDC issuer, valid unless ``claims`` say otherwise."""
        now = int(self.clock.now().timestamp())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "tenant": TENANT,
            "roles": ["admin"],
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(
            body, key or self.key, algorithm=alg, headers={"kid": KID, **(headers or {})}
        )


class _Jwks(BaseHTTPRequestHandler):
    document: bytes = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture(scope="module")
def jwks() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """A local JWKS endpoint publishing one RSA key; its URL and the private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}
    handler = type("Jwks", (_Jwks,), {"document": json.dumps(document).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks", key
    finally:
        server.shutdown()
        server.server_close()


def _auth(jwks_url: str, *, dev: bool) -> dict[str, Any]:
    return {
        "dev_issuer": {"enabled": dev},
        "issuers": [
            {
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "jwks_url": jwks_url,
                "allowed_tenants": [TENANT],
            }
        ],
    }


@dataclass
class _Server:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _serve(app: Gnomon) -> _Server:
    config = uvicorn.Config(
        create_app(app), host="127.0.0.1", port=0, log_level="warning", ws="none", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return _Server(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("auth"))


@pytest.fixture(scope="module")
def served(project: Path, jwks: tuple[str, rsa.RSAPrivateKey]) -> Iterator[Served]:
    url, key = jwks
    clock = MovableClock()
    with Gnomon.open(project, clock=clock, auth=_auth(url, dev=True)) as app:
        ctx = RequestContext.system(TENANT)
        admin = app.identities.create_user(ctx=ctx, name="admin", roles=["admin"])
        made = app.identities.create_key(admin.id, ctx=ctx, name="ok")
        server = _serve(app)
        try:
            yield Served(server.url, app, clock, key, made.key, admin.id)
        finally:
            server.stop()


def _refused(response: httpx.Response, *, challenge: str = CHALLENGE) -> dict[str, Any]:
    body = assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == challenge
    assert "items" not in response.text
    return body


# ---------------------------------------------------------------- the good ones, for contrast


def test_a_valid_key_and_a_valid_token_are_accepted(served: Served) -> None:
    assert served.get(f"Bearer {served.admin_key}").status_code == 200
    assert served.get(f"ApiKey {served.admin_key}").status_code == 200
    assert served.bearer(served.token()).status_code == 200


def test_no_credential_is_a_401_with_a_bare_challenge(served: Served) -> None:
    body = _refused(served.get(None), challenge='Bearer realm="gnomon"')
    assert "Authorization" in body["details"]["hint"]
    _refused(served.get("Basic dXNlcjpwYXNz"))
    _refused(served.get("Bearer"))


# ---------------------------------------------------------------- tokens


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}."


def test_an_expired_token_is_refused(served: Served) -> None:
    now = int(served.clock.now().timestamp())
    body = _refused(served.bearer(served.token(iat=now - 7200, exp=now - 3600)))
    assert "expired" in body["message"]


def test_a_token_for_another_audience_is_refused(served: Served) -> None:
    body = _refused(served.bearer(served.token(aud="someone-else")))
    assert "audience" in body["message"]


def test_a_token_signed_with_another_key_is_refused(served: Served) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = _refused(served.bearer(served.token(key=stranger)))
    assert "signature" in body["message"]


def test_a_token_whose_claims_were_changed_after_signing_is_refused(served: Served) -> None:
    header, _, signature = served.token().split(".")
    claims = jwt.decode(served.token(), options={"verify_signature": False})
    forged = _unsigned({**claims, "roles": ["admin"], "sub": "mallory"}, {}).split(".")[1]
    _refused(served.bearer(f"{header}.{forged}.{signature}"))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_an_unsigned_alg_none_token_is_refused(served: Served, alg: str) -> None:
    now = int(served.clock.now().timestamp())
    for issuer, audience in ((ISSUER, AUDIENCE), (DEV_ISSUER, DEV_AUDIENCE)):
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": "mallory",
            "tenant": TENANT,
            "roles": ["admin"],
            "iat": now,
            "exp": now + 600,
        }
        token = _unsigned(claims, {"alg": alg, "typ": "JWT", "kid": KID})
        body = _refused(served.bearer(token))
        assert "algorithm" in body["message"], body


def test_an_hmac_token_keyed_with_the_public_key_is_refused(served: Served) -> None:
    # The classic confusion: HS256 "signed" with the issuer's public key as the shared secret.
    public = served.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(served.clock.now().timestamp())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "m", "tenant": TENANT, "exp": now + 600}
    header = _unsigned({}, {"alg": "HS256", "kid": KID}).split(".")[0]
    payload = _unsigned(claims, {}).split(".")[1]
    mac = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    body = _refused(served.bearer(f"{header}.{payload}.{signature}"))
    assert "HS256" in body["message"]


@pytest.mark.parametrize(
    ("claims", "needle"),
    [
        ({"iss": "https://evil.example.test"}, "not trusted"),
        ({"iss": None}, "iss"),
        ({"exp": None}, "exp"),
        ({"tenant": None}, "tenant"),
        ({"sub": None}, "user"),
        ({"nbf": 4_102_444_800}, "not valid yet"),
        ({"iat": 4_102_444_800}, "future"),
    ],
)
def test_tokens_missing_or_breaking_a_claim_are_refused(
    served: Served, claims: dict[str, Any], needle: str
) -> None:
    body = _refused(served.bearer(served.token(**claims)))
    assert needle in body["message"], body


def test_a_token_with_an_unknown_key_id_is_refused(served: Served) -> None:
    body = _refused(served.bearer(served.token(headers={"kid": "made-up"})))
    assert "made-up" in body["message"]


def test_an_issuer_cannot_name_a_tenant_it_may_not_speak_for(served: Served) -> None:
    # The issuer is limited to the default tenant: a token of it naming another tenant is
    # refused, even though it is signed, fresh and for this audience.
    body = _refused(served.bearer(served.token(tenant=OTHER_TENANT)))
    assert OTHER_TENANT in body["message"]
    assert served.bearer(served.token(tenant=TENANT)).status_code == 200


def test_garbage_tokens_are_refused(served: Served) -> None:
    for token in ("x", "a.b.c", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9." + "A" * 20_000):
        _refused(served.bearer(token))


# ---------------------------------------------------------------- API keys


def test_a_revoked_key_is_refused(served: Served) -> None:
    ctx = RequestContext.system(TENANT)
    made = served.app.identities.create_key(served.admin_user_id, ctx=ctx, name="revoked")
    assert served.get(f"Bearer {made.key}").status_code == 200
    served.app.identities.revoke_key(made.record.id, ctx=ctx)
    body = _refused(served.get(f"Bearer {made.key}"))
    assert "revoked" in body["message"]


def test_an_expired_key_is_refused(served: Served) -> None:
    ctx = RequestContext.system(TENANT)
    expires = served.clock.now() + timedelta(hours=1)
    made = served.app.identities.create_key(
        served.admin_user_id, ctx=ctx, name="short", expires_at=expires
    )
    assert served.get(f"Bearer {made.key}").status_code == 200
    start = served.clock.at
    served.clock.at = start + timedelta(hours=2)
    try:
        body = _refused(served.get(f"Bearer {made.key}"))
        assert "expired" in body["message"]
    finally:
        served.clock.at = start


def test_a_disabled_users_key_is_refused(served: Served) -> None:
    ctx = RequestContext.system(TENANT)
    user = served.app.identities.create_user(ctx=ctx, name="soon_disabled", roles=["viewer"])
    made = served.app.identities.create_key(user.id, ctx=ctx, name="k")
    assert served.get(f"Bearer {made.key}").status_code == 200
    served.app.identities.update_user(user.id, ctx=ctx, disabled=True)
    _refused(served.get(f"Bearer {made.key}"))


def test_unknown_and_malformed_keys_are_refused(served: Served) -> None:
    unknown = "gnm_" + "A" * 40
    _refused(served.get(f"Bearer {unknown}"))
    _refused(served.get(f"ApiKey {unknown}"))
    _refused(served.get("ApiKey gnm_short"))
    _refused(served.get(f"Bearer {served.admin_key[:-1]}x"))


# ---------------------------------------------------------------- the development issuer


def test_dev_tokens_are_accepted_only_while_the_dev_issuer_is_enabled(
    served: Served, project: Path, jwks: tuple[str, rsa.RSAPrivateKey]
) -> None:
    token = served.app.dev_issuer.create_token(tenant=TENANT, user="dev", roles=["admin"])
    assert served.bearer(token).status_code == 200
    # The same project, the same secret file, the dev issuer off: its tokens are strangers.
    with Gnomon.open(project, auth=_auth(jwks[0], dev=False)) as off:
        server = _serve(off)
        try:
            response = httpx.get(
                f"{server.url}/api/v1/runs", headers={"Authorization": f"Bearer {token}"}
            )
            body = _refused(response)
            assert DEV_ISSUER in body["message"]
            assert "not trusted" in body["message"]
        finally:
            server.stop()


def test_an_expired_dev_token_is_refused(served: Served) -> None:
    token = served.app.dev_issuer.create_token(tenant=TENANT, user="dev", roles=["admin"])
    start = served.clock.at
    ttl = timedelta(seconds=served.app.settings.auth.dev_issuer.ttl_s)
    served.clock.at = start + ttl + timedelta(minutes=5)
    try:
        body = _refused(served.bearer(token))
        assert "expired" in body["message"]
    finally:
        served.clock.at = start


def test_a_dev_token_signed_with_another_secret_is_refused(served: Served) -> None:
    forger = DevIssuer(b"s" * 48, clock=served.clock)
    token = forger.create_token(tenant=TENANT, user="mallory", roles=["admin"])
    body = _refused(served.bearer(token))
    assert "signature" in body["message"]
