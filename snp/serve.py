"""Run the web API under uvicorn.

Workers are separate processes, so uvicorn is given the app by import string and
a factory (``api.app:app_from_env``): each worker builds its own engine and pool
from the same ``SNP_*`` environment. They share one database safely because
every slot change is a conditional update (see :mod:`snp.booking`). This module
names the API only as a string: ``snp`` never imports ``api``.
"""

from __future__ import annotations

import os

import uvicorn

from snp.db import make_engine
from snp.migrate import upgrade
from snp.settings import get_settings

APP_FACTORY = "api.app:app_from_env"


def run(
    host: str = "127.0.0.1", port: int = 8000, workers: int = 1, database: str | None = None
) -> None:
    """Migrate the schema once, then start ``workers`` processes serving the API."""
    if database is not None:
        # Workers read their settings from the environment they inherit.
        os.environ["SNP_DATABASE_URL"] = database
        get_settings.cache_clear()
    url = get_settings().database_url
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"snp API on http://{shown}:{port}  (docs: http://{shown}:{port}/docs)", flush=True)
    print(f"database: {make_engine(url).url.render_as_string()}  workers: {workers}", flush=True)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Our access log (api.access) omits query strings; uvicorn's would not.
        access_log=False,
    )
