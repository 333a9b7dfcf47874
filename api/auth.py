"""Bearer authentication and role checks.

The token says who the caller is; the database says whether that user is still
active and what they are allowed (a token cannot raise its own role or move to
another CPTS: its claims must match the user row). Tenancy itself is enforced by
the services: they answer 404 for objects of another CPTS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import Ctx, DbSession
from api.problems import ProblemError, forbidden
from snp.actors import Actor, Role
from snp.errors import NotFoundError
from snp.tokens import InvalidTokenError
from snp.users import actor_for

bearer = HTTPBearer(auto_error=False, description="JWT: local (HS256) or from the OIDC provider")


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = 'Bearer realm="snp"' + (f', error="{error}"' if error else "")
    return ProblemError(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        [
            {
                "field": "Authorization",
                "problem": detail,
                "fix": "Send 'Authorization: Bearer <token>' with a valid, unexpired token.",
            }
        ],
        headers={"WWW-Authenticate": challenge},
    )


def current_actor(
    ctx: Ctx,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("no bearer token")
    try:
        claims = ctx.verifier.verify(credentials.credentials)
    except InvalidTokenError as error:
        raise _unauthorized(f"invalid token: {error}", "invalid_token") from None
    try:
        actor, cpts_code = actor_for(session, claims.user_id)
    except NotFoundError:
        raise _unauthorized("unknown or deactivated user", "invalid_token") from None
    if actor.role is not claims.role or cpts_code != claims.cpts_code:
        raise _unauthorized("the token's role or CPTS no longer match the user", "invalid_token")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[[Actor], Awaitable[Actor]]:
    allowed = frozenset(roles)
    names = ", ".join(sorted(str(r) for r in allowed))

    async def check(actor: CurrentActor) -> Actor:  # async: no thread pool hop
        if actor.role not in allowed:
            raise forbidden(f"the {actor.role} role cannot do this; allowed: {names}")
        return actor

    return check


def roles(*allowed: Role) -> object:
    """``actor: Annotated[Actor, roles(Role.OPERATOR)]`` in a route signature."""
    return Depends(require_roles(*allowed))
