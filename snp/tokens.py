"""Bearer tokens: issue local JWTs for the demo, verify them (and OIDC ones) for the API.

Two ways in, never mixed up:

* **local** tokens are HS256, signed with ``SNP_JWT_SECRET`` (``snp users create``);
* **production** tokens come from an identity provider and are verified against
  its JWKS (``SNP_OIDC_JWKS_URL``) with asymmetric algorithms only.

The algorithm a token declares selects the key, and each key accepts only its
own algorithms, so a token cannot be signed with the public JWKS key used as an
HMAC secret (the classic algorithm-confusion attack).

Claims: ``sub`` (the local user id, as a string), ``role``, ``cpts`` (the CPTS
code; absent for platform admins) and ``exp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import jwt
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from snp.actors import Role

LOCAL_ALGORITHM = "HS256"
OIDC_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
DEV_SECRET = "dev-only-jwt-secret-change-me-in-production"  # ≥ 32 bytes: PyJWT's HMAC floor


class TokenSettings(BaseSettings):
    """How tokens are issued and checked (environment prefix ``SNP_``)."""

    model_config = SettingsConfigDict(env_prefix="SNP_", extra="ignore")

    jwt_secret: SecretStr = SecretStr(DEV_SECRET)
    jwt_ttl_hours: int = 12
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_issuer: str | None = None

    @property
    def uses_dev_secret(self) -> bool:
        return self.jwt_secret.get_secret_value() == DEV_SECRET


class InvalidTokenError(ValueError):
    """The token is missing a claim, expired, badly signed or otherwise unusable."""


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: int
    role: Role
    cpts_code: str | None


class SigningKeySource(Protocol):
    """What we need of ``jwt.PyJWKClient``; tests pass an offline stand-in."""

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK: ...


def issue_token(
    user_id: int,
    role: Role,
    cpts_code: str | None,
    *,
    secret: str,
    now: datetime,
    ttl: timedelta,
) -> str:
    """A local HS256 token for one user (demo, tests, system accounts)."""
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "role": str(role),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if cpts_code is not None:
        payload["cpts"] = cpts_code
    return jwt.encode(payload, secret, algorithm=LOCAL_ALGORITHM)


class TokenVerifier:
    def __init__(self, settings: TokenSettings, jwks: SigningKeySource | None = None) -> None:
        self._secret = settings.jwt_secret.get_secret_value()
        self._audience = settings.oidc_audience
        self._issuer = settings.oidc_issuer
        if jwks is None and settings.oidc_jwks_url:
            # PyJWKClient fetches lazily and caches keys, so building it costs nothing.
            jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True)
        self._jwks = jwks

    def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidTokenError(f"not a JWT: {error}") from None
        algorithm = header.get("alg")
        try:
            if algorithm == LOCAL_ALGORITHM:
                payload = jwt.decode(
                    token,
                    self._secret,
                    algorithms=[LOCAL_ALGORITHM],
                    options={"require": ["exp", "sub", "role"]},
                )
            elif algorithm in OIDC_ALGORITHMS and self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token)
                payload = jwt.decode(
                    token,
                    key.key,
                    algorithms=list(OIDC_ALGORITHMS),
                    audience=self._audience,
                    issuer=self._issuer,
                    options={
                        "require": ["exp", "sub", "role"],
                        "verify_aud": self._audience is not None,
                        "verify_iss": self._issuer is not None,
                    },
                )
            else:
                raise InvalidTokenError(f"unsupported signing algorithm {algorithm!r}")
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the token has expired") from None
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from None
        return _claims(payload)


def _claims(payload: dict[str, Any]) -> Claims:
    try:
        user_id = int(payload["sub"])
        role = Role(payload["role"])
    except (KeyError, TypeError, ValueError):
        raise InvalidTokenError("sub must be a user id and role a known role") from None
    cpts = payload.get("cpts")
    if cpts is not None and not isinstance(cpts, str):
        raise InvalidTokenError("cpts must be a CPTS code")
    if (role is Role.ADMIN) != (cpts is None):
        raise InvalidTokenError("admins have no cpts claim; every other role has one")
    return Claims(user_id=user_id, role=role, cpts_code=cpts)
