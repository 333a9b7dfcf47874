"""``snp users create`` (a user and a local token) and ``snp serve`` (the web API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from snp.actors import Role
from snp.db import make_engine, make_session_factory, transaction
from snp.errors import DomainError
from snp.migrate import upgrade
from snp.settings import get_settings
from snp.tokens import TokenSettings, issue_token
from snp.users import NewUser, create_user

users_app = typer.Typer(help="API users and their bearer tokens.")
console = Console()

DatabaseOption = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL; default $SNP_DATABASE_URL or var/snp.db")
]


@users_app.command("create")
def create(
    role: Annotated[
        Role, typer.Option(help="operator, regulator, professional, coordinator, admin")
    ],
    cpts: Annotated[str | None, typer.Option(help="CPTS code (not for admins)")] = None,
    name: Annotated[str | None, typer.Option(help="display name; default: the role")] = None,
    rpps: Annotated[
        str | None, typer.Option(help="the professional's RPPS (professional role)")
    ] = None,
    ttl_hours: Annotated[
        int | None, typer.Option(help="token lifetime; default $SNP_JWT_TTL_HOURS")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Create a user and print a local bearer token for it (demo, system accounts)."""
    engine = make_engine(database or get_settings().database_url)
    upgrade(engine)
    token_settings = TokenSettings()
    now = datetime.now(UTC)
    try:
        with transaction(make_session_factory(engine)) as session:
            user = create_user(session, NewUser(name or str(role), role, cpts, rpps), now)
            user_id = user.id
    except DomainError as error:
        console.print(f"[red]{error.field}: {error.problem}.[/] {error.fix}")
        raise typer.Exit(1) from None
    ttl = timedelta(hours=ttl_hours or token_settings.jwt_ttl_hours)
    token = issue_token(
        user_id, role, cpts, secret=token_settings.jwt_secret.get_secret_value(), now=now, ttl=ttl
    )
    if token_settings.uses_dev_secret:
        console.print("[yellow]signed with the development secret: set SNP_JWT_SECRET[/]")
    console.print(f"user {user_id} ({role}{', ' + cpts if cpts else ''}), token valid {ttl}:")
    # Plain print: the token must be copyable without rich's wrapping.
    print(token)


def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (PostgreSQL recommended > 1)")] = 1,
    database: DatabaseOption = None,
) -> None:
    """Start the web API (uvicorn) on the SQLite default or $SNP_DATABASE_URL."""
    from snp.serve import run

    run(host=host, port=port, workers=workers, database=database)
