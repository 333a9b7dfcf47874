"""The application factory: ``create_app(settings)`` for uvicorn and for tests."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api import fhir, problems
from api.console import router as console_router
from api.deps import AppContext, Clock, system_clock
from api.middleware import GuardMiddleware
from api.routers import admin, availability, orienting, professionals, reports
from snp import idempotency
from snp import orienting as orienting_service
from snp.audit_cli import audit_key
from snp.db import make_engine, make_session_factory, transaction
from snp.settings import Settings, get_settings
from snp.tokens import SigningKeySource, TokenSettings, TokenVerifier

log = logging.getLogger("api")
MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """Orient *soins non programmés* requests to professionals' slots within 48 h.

Authenticate with `Authorization: Bearer <JWT>`. Every object belongs to one CPTS:
another CPTS's objects answer 404, a role that may not act answers 403. Every error
is `application/problem+json` (RFC 9457) naming the wrong fields and how to fix them.
"""


def sweep_expired(ctx: AppContext) -> int:
    """Expire lapsed holds (their places go back, or to the waiting list) and
    forget idempotency keys older than 72 h. Safe to run from every worker: each
    change is a conditional update."""
    with transaction(ctx.session_factory) as session:
        now = ctx.clock()
        released = orienting_service.release_expired(session, now)
        idempotency.forget_expired(session, now)
    return released


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    token_settings: TokenSettings | None = None,
    clock: Clock = system_clock,
    jwks: SigningKeySource | None = None,
    sweep_seconds: float = 15.0,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the app over ``engine`` (default: ``settings.database_url``).

    Tests pass their own engine, a movable clock and ``sweep_seconds=0`` (they
    call :func:`sweep_expired` themselves).
    """
    settings = settings or get_settings()
    token_settings = token_settings or TokenSettings()
    engine = engine or make_engine(settings.database_url)
    ctx = AppContext(
        session_factory=make_session_factory(engine),
        verifier=TokenVerifier(token_settings, jwks),
        token_settings=token_settings,
        clock=clock,
        audit_key=audit_key(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if token_settings.uses_dev_secret:
            log.warning("SNP_JWT_SECRET is the development default: set a real secret")
        # The commune directory (seconds of CPU) is loaded now rather than by the
        # first requests, and frozen with the rest below.
        await run_in_threadpool(orienting_service.preload)
        # Everything imported so far (FHIR models, OR-Tools, the app) lives as long as
        # the process: moving it out of the collector's reach removes the 100 ms+
        # full collections a request would otherwise sometimes pay for.
        gc.freeze()
        task = asyncio.create_task(_sweeper(ctx, sweep_seconds)) if sweep_seconds > 0 else None
        yield
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="snp",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={500: {"description": "Unexpected error (problem+json with a reference)"}},
    )
    app.state.ctx = ctx
    problems.install(app)
    app.add_middleware(GuardMiddleware, max_body_bytes=max_body_bytes)
    for router in (
        admin.router,
        professionals.router,
        availability.router,
        orienting.router,
        reports.router,
        fhir.router,
        console_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """Liveness and database reachability (no authentication)."""
        with ctx.session_factory() as session:
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    return app


async def _sweeper(ctx: AppContext, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(sweep_expired, ctx)
        except Exception as error:  # keep sweeping: a failed round is retried next time
            log.warning("hold sweep failed: %s", type(error).__name__)


def app_from_env() -> FastAPI:
    """The uvicorn factory (``api.app:app_from_env``): settings from SNP_* variables."""
    api_log = logging.getLogger("api")
    if not api_log.handlers:
        # uvicorn configures only its own loggers; ours (access lines, errors) need one.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        api_log.addHandler(handler)
        api_log.setLevel(logging.INFO)
        api_log.propagate = False
    return create_app(Settings())
