"""What every route gets injected: the app context, one transaction, the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from snp.tokens import TokenSettings, TokenVerifier

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppContext:
    """Process-wide state, built once by :func:`api.app.create_app`."""

    session_factory: sessionmaker[Session]
    verifier: TokenVerifier
    token_settings: TokenSettings
    clock: Clock
    audit_key: bytes


def context(request: Request) -> AppContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx


def _session(request: Request) -> Iterator[Session]:
    """One transaction per HTTP request: committed when the route returns, rolled
    back when it raises.

    Used with ``scope="function"`` so the commit happens *before* the response
    is sent: a client never sees 201 for work that then fails to commit.
    """
    session = context(request).session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _now(request: Request) -> datetime:
    # One instant per request, from the app's clock: tests move it to expire holds.
    return context(request).clock()


DbSession = Annotated[Session, Depends(_session, scope="function")]
Now = Annotated[datetime, Depends(_now)]
Ctx = Annotated[AppContext, Depends(context)]
