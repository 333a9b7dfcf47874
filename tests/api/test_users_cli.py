"""``snp users create`` prints a token the API accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from snp.db import make_engine, make_session_factory, transaction
from snp.migrate import upgrade
from snp.tokens import TokenSettings, TokenVerifier
from snp.users_cli import users_app
from tests import factories
from tests.api.conftest import SECRET


def test_users_create_issues_a_verifiable_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNP_JWT_SECRET", SECRET)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        factories.cpts(session, "c1")
    app = typer.Typer()
    app.add_typer(users_app, name="users")
    runner = CliRunner()
    result = runner.invoke(
        app, ["users", "create", "--role", "operator", "--cpts", "c1", "--database", url]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    claims = TokenVerifier(TokenSettings()).verify(token)
    assert claims.role == "operator" and claims.cpts_code == "c1"
    refused = runner.invoke(app, ["users", "create", "--role", "operator", "--database", url])
    assert refused.exit_code == 1 and "cpts" in refused.output
