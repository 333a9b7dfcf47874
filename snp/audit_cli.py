"""``snp audit``: check the audit trail from the command line.

The checkpoint key is read from ``SNP_AUDIT_KEY``. It signs the chain heads, so
in production it must be a real secret kept out of the database (anyone who
holds it can forge checkpoints); the default is for development only.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from snp.audit import VerifyReport, verify
from snp.db import make_engine, make_session_factory, transaction
from snp.orm import CptsRow
from snp.settings import get_settings

AUDIT_KEY_ENV = "SNP_AUDIT_KEY"
DEV_AUDIT_KEY = "dev-only-audit-key"

audit_app = typer.Typer(help="Tamper-evident audit trail.")
console = Console()


@audit_app.callback()
def _audit() -> None:
    """Tamper-evident audit trail."""
    # A callback keeps ``audit`` a command group even while it has one command,
    # so ``snp audit verify`` stays ``verify`` and not a bare ``audit``.


def audit_key() -> bytes:
    return os.environ.get(AUDIT_KEY_ENV, DEV_AUDIT_KEY).encode("utf-8")


def _print(report: VerifyReport) -> None:
    table = Table(title="audit chains")
    for column in ("CPTS", "events", "head seq", "checkpoints", "status", "first broken link"):
        table.add_column(column)
    for chain in report.chains:
        link = chain.broken
        status = "[green]intact[/]" if link is None else f"[red]{link.problem}[/]"
        where = (
            ""
            if link is None
            else f"seq {link.seq}" + (f" (row {link.row_id})" if link.row_id is not None else "")
        )
        table.add_row(
            chain.cpts_code,
            str(chain.events),
            str(chain.head_seq),
            str(chain.checkpoints),
            status,
            where,
        )
    console.print(table)
    for chain in report.chains:
        if chain.broken is not None:
            link = chain.broken
            row = f" (row {link.row_id})" if link.row_id is not None else ""
            # One unwrapped line per broken chain, for people and for grep.
            console.print(
                f"BROKEN {chain.cpts_code}: first broken link at seq {link.seq}{row}: "
                f"{link.problem}: {link.detail}",
                soft_wrap=True,
                markup=False,
            )
    for chain in report.chains:
        if chain.published_checkpoint_seq is not None:
            # Printed so an operator can keep a copy of the head outside the database.
            console.print(
                f"checkpoint {chain.cpts_code} seq {chain.published_checkpoint_seq} "
                f"head {chain.head_hash}",
                soft_wrap=True,
            )


@audit_app.command("verify")
def verify_command(
    cpts: Annotated[str | None, typer.Option(help="CPTS code; default every CPTS")] = None,
    database: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default $SNP_DATABASE_URL or var/snp.db")
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="Sign a checkpoint of each intact chain whose head moved")
    ] = True,
) -> None:
    """Walk each CPTS chain, name the first broken link; exit 1 when any is broken.

    Checkpoints are signed and checked with the key in $SNP_AUDIT_KEY.
    """
    if AUDIT_KEY_ENV not in os.environ:
        console.print(f"[yellow]using the development audit key; set {AUDIT_KEY_ENV}[/]")
    engine = make_engine(database or get_settings().database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            cpts_id: int | None = None
            if cpts is not None:
                cpts_id = session.scalars(select(CptsRow.id).where(CptsRow.code == cpts)).first()
                if cpts_id is None:
                    console.print(f"[red]unknown CPTS code {cpts!r}[/]")
                    raise typer.Exit(2)
            report = verify(
                session, cpts_id, checkpoint_key=audit_key(), publish=publish, at=datetime.now(UTC)
            )
    finally:
        engine.dispose()
    _print(report)
    if not report.ok:
        raise typer.Exit(1)
