"""Bearer tokens: 401 with a challenge when missing or bad, 403 for a wrong role,
revocation by deactivating the user, and OIDC tokens checked against a JWKS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from api.app import create_app
from snp.actors import Role
from snp.tokens import InvalidTokenError, TokenSettings, TokenVerifier, issue_token
from tests.api.conftest import SECRET, MovableClock, World, bearer, mint, request_body


def _is_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


def test_missing_token_is_401_with_challenge(world: World) -> None:
    response = world.client.get("/requests")
    body = _is_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["errors"][0]["field"] == "Authorization"  # type: ignore[index]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        issue_token(
            1,
            Role.ADMIN,
            None,
            secret="another-secret-of-thirty-two-bytes!!",
            now=datetime.now(UTC),
            ttl=timedelta(hours=1),
        ),
        issue_token(
            1,
            Role.ADMIN,
            None,
            secret=SECRET,
            now=datetime.now(UTC) - timedelta(hours=2),
            ttl=timedelta(hours=1),
        ),
    ],
    ids=["garbage", "wrong-key", "expired"],
)
def test_bad_tokens_are_401(world: World, token: str) -> None:
    response = world.client.get("/cpts", headers=bearer(token))
    _is_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_token_cannot_claim_another_role_than_its_user(world: World, engine: Engine) -> None:
    operator_token = world.tokens["a.operator"]["Authorization"].split()[1]
    user_id = int(jwt.decode(operator_token, options={"verify_signature": False})["sub"])
    forged = issue_token(
        user_id, Role.COORDINATOR, "a", secret=SECRET, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    _is_problem(world.client.get("/cpts", headers=bearer(forged)), 401)


def test_wrong_role_is_403(world: World) -> None:
    body = _is_problem(
        world.post("a.operator", "/cpts", {"code": "x", "name": "x", "departement_code": "78"}), 403
    )
    assert "operator" in str(body["detail"])
    _is_problem(world.post("a.professional", "/requests", request_body()), 403)
    _is_problem(world.post("a.operator", "/plages", {}), 403)
    _is_problem(
        world.post("a.operator", "/sas/requests", request_body(), headers={"Idempotency-Key": "k"}),
        403,
    )
    _is_problem(world.get("a.coordinator", "/users"), 403)


def test_deactivating_a_user_revokes_their_token(world: World) -> None:
    users = world.get("admin", "/users").json()
    operator = next(u for u in users if u["role"] == "operator" and u["cpts_id"] == world.ids["a"])
    assert world.get("a.operator", "/requests").status_code == 200
    r = world.client.patch(
        f"/users/{operator['id']}", json={"active": False}, headers=world.as_("admin")
    )
    assert r.status_code == 200 and r.json()["active"] is False
    _is_problem(world.get("a.operator", "/requests"), 401)


class _OfflineJwks:
    """Stands in for PyJWKClient: the tests have no network."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.public = jwt.PyJWK.from_dict(
            {
                **jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True),
                "alg": "RS256",
                "kid": "k1",
            }
        )

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        return self.public


def test_oidc_tokens_are_verified_against_the_jwks(engine: Engine, clock: MovableClock) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = TokenSettings(oidc_audience="snp", oidc_issuer="https://idp.example")
    verifier = TokenVerifier(settings, _OfflineJwks(key))
    now = datetime.now(UTC)
    claims = {
        "sub": "7",
        "role": "admin",
        "aud": "snp",
        "iss": "https://idp.example",
        "exp": now + timedelta(minutes=5),
    }
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(good).user_id == 7
    with pytest.raises(InvalidTokenError):
        verifier.verify(jwt.encode(claims | {"aud": "other"}, key, algorithm="RS256"))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidTokenError):
        verifier.verify(jwt.encode(claims, other_key, algorithm="RS256"))
    # Without a JWKS configured, asymmetric tokens are refused outright.
    with pytest.raises(InvalidTokenError, match="unsupported"):
        TokenVerifier(TokenSettings()).verify(good)
    # Through the app: an OIDC token of an existing admin user is accepted.
    app = create_app(
        engine=engine, token_settings=settings, clock=clock, jwks=_OfflineJwks(key), sweep_seconds=0
    )
    mint(engine, Role.ADMIN, None)  # user 1
    token = jwt.encode(claims | {"sub": "1"}, key, algorithm="RS256")
    with TestClient(app) as client:
        assert client.get("/cpts", headers=bearer(token)).status_code == 200


def test_claims_must_fit_the_role() -> None:
    now = datetime.now(UTC)
    verifier = TokenVerifier(TokenSettings(jwt_secret=SecretStr(SECRET)))
    with pytest.raises(InvalidTokenError):
        verifier.verify(
            issue_token(1, Role.OPERATOR, None, secret=SECRET, now=now, ttl=timedelta(hours=1))
        )
    with pytest.raises(InvalidTokenError):
        verifier.verify(
            issue_token(1, Role.ADMIN, "a", secret=SECRET, now=now, ttl=timedelta(hours=1))
        )
