"""What every route gets injected: the app context, one transaction, the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

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


def _context(request: Request) -> AppContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx


async def context(request: Request) -> AppContext:
    # async: a plain attribute read, no need for a worker thread (a sync
    # dependency costs a hop through the thread pool on every request).
    return _context(request)


async def _session(request: Request) -> AsyncIterator[Session]:
    """One transaction per HTTP request: committed when the route returns, rolled
    back when it raises.

    Used with ``scope="function"`` so the commit happens *before* the response
    is sent: a client never sees 201 for work that then fails to commit. Opening
    a session does no I/O; the end (commit or rollback, then returning the
    connection to the pool) is one trip through the thread pool.
    """
    session = _context(request).session_factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    await run_in_threadpool(_end, session, commit=True)


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            try:
                session.commit()
            except BaseException:
                session.rollback()
                raise
        else:
            session.rollback()
    finally:
        session.close()


async def _now(request: Request) -> datetime:
    # One instant per request, from the app's clock: tests move it to expire holds.
    return _context(request).clock()


DbSession = Annotated[Session, Depends(_session, scope="function")]
Now = Annotated[datetime, Depends(_now)]
Ctx = Annotated[AppContext, Depends(context)]
