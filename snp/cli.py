"""The ``snp`` command line (typer). Long steps show rich progress bars."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from snp.audit_cli import audit_app
from snp.db import make_engine, make_session_factory, transaction
from snp.geo import CommuneDirectory
from snp.importers import ImportRejectedError, ImportReport, import_plages, import_professionals
from snp.ledger_cli import diagnose_command, indicators_command, ledger_app
from snp.migrate import upgrade
from snp.publishing import publish_slots
from snp.settings import get_settings
from snp.users_cli import serve, users_app

app = typer.Typer(help="snp: orient soins non programmés requests to the right professional.")
db_app = typer.Typer(help="Database schema.")
import_app = typer.Typer(help="Import professionals and plages from CSV files.")
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.command("serve")(serve)
app.add_typer(ledger_app, name="ledger")
app.command("indicators")(indicators_command)
app.command("diagnose")(diagnose_command)
console = Console()

DatabaseOption = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL; default $SNP_DATABASE_URL or var/snp.db")
]


def _url(database: str | None) -> str:
    return database or get_settings().database_url


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or migrate the schema to the latest version."""
    engine = make_engine(_url(database))
    upgrade(engine)
    console.print(f"schema up to date on [bold]{engine.url.render_as_string()}[/]")


def _print_report(report: ImportReport, what: str) -> None:
    console.print(f"[green]{report.written} {what} written[/]")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/] {warning}")
    if report.skipped_lines:
        console.print(f"[yellow]skipped invalid lines:[/] {report.skipped_lines}")
        for error in report.errors:
            console.print(f"  {error}")


@import_app.command("professionals")
def import_professionals_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    skip_invalid: Annotated[bool, typer.Option(help="Write the valid rows, list the rest")] = False,
    database: DatabaseOption = None,
) -> None:
    """Import professionals (and their main site) from a CSV file."""
    engine = make_engine(_url(database))
    upgrade(engine)
    directory = CommuneDirectory.france()
    try:
        with transaction(make_session_factory(engine)) as session:
            report = import_professionals(session, file, directory, skip_invalid=skip_invalid)
    except ImportRejectedError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    _print_report(report, "professionals")


@import_app.command("plages")
def import_plages_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    skip_invalid: Annotated[bool, typer.Option(help="Write the valid rows, list the rest")] = False,
    database: DatabaseOption = None,
) -> None:
    """Import weekly SNP plages from a CSV file."""
    engine = make_engine(_url(database))
    upgrade(engine)
    try:
        with transaction(make_session_factory(engine)) as session:
            report = import_plages(session, file, today=date.today(), skip_invalid=skip_invalid)
            published = publish_slots(session, datetime.now(UTC))
    except ImportRejectedError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    _print_report(report, "plages")
    console.print(f"{published} slots published for the next 48 h")


@app.command()
def scenario(
    size: Annotated[str, typer.Option(help="S, M, L or XL")] = "M",
    out: Annotated[Path, typer.Option(help="Output folder for the CSV files")] = Path("scenario"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same scenario)")] = 0,
) -> None:
    """Write a deterministic scenario (professionals, slots, requests) as CSV files."""
    from snp.scenario import generate, write_csv

    with console.status(f"generating scenario {size} (seed {seed})"):
        generated = generate(size, seed, now=datetime.now(UTC))
        paths = write_csv(generated, out)
    for path in paths.values():
        console.print(f"wrote {path}")


@app.command()
def demo(
    size: Annotated[str, typer.Option(help="Scenario size: S or M (Yvelines)")] = "M",
    seed: Annotated[int, typer.Option(help="Random seed of the request stream")] = 0,
    reset: Annotated[bool, typer.Option(help="Drop the demo data and start afresh")] = False,
    database: DatabaseOption = None,
) -> None:
    """Load the Yvelines territory, publish 48 h of slots, orient a stream of requests."""
    from snp.demo import print_summary, run_demo

    summary = run_demo(_url(database), size=size, seed=seed, reset=reset, console=console)
    print_summary(summary, console)
