"""``snp audit verify`` through typer's runner, on both backends."""

from __future__ import annotations

import typer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from snp.audit_cli import audit_app
from tests.audit.helpers import KEY, add_events, attacker, new_cpts, row_id

ENV = {"SNP_AUDIT_KEY": KEY.decode()}
# Registered the way snp/cli.py mounts it: ``snp audit verify``.
app = typer.Typer()
app.add_typer(audit_app, name="audit")


def _url(engine: Engine) -> str:
    """A URL the command can open itself, pointing at the test's schema."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        url = url.set(query={"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _run(engine: Engine, *args: str, env: dict[str, str] = ENV) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["audit", "verify", "--database", _url(engine), *args], env=env
    )
    return result.exit_code, result.output


def test_intact_chains_exit_zero_and_publish_a_checkpoint(engine: Engine) -> None:
    add_events(engine, new_cpts(engine, "c1"), 3)
    add_events(engine, new_cpts(engine, "c2"), 1)
    code, output = _run(engine)
    assert code == 0, output
    assert output.count("intact") == 2
    assert "checkpoint c1 seq 3" in output and "checkpoint c2 seq 1" in output
    code, output = _run(engine, "--cpts", "c2")
    assert code == 0 and "c1" not in output and "checkpoint c2" not in output  # head unchanged


def test_tampering_exits_one_naming_the_first_broken_link(engine: Engine) -> None:
    cpts_id = new_cpts(engine, "c1")
    add_events(engine, cpts_id, 5)
    assert _run(engine)[0] == 0
    with attacker(engine) as conn:
        target = row_id(conn, cpts_id, 2)
        conn.execute(
            text("UPDATE audit_event SET actor = 'user:evil' WHERE id = :i"), {"i": target}
        )
        conn.execute(text("DELETE FROM audit_event WHERE cpts_id = :c AND seq = 5"), {"c": cpts_id})
    code, output = _run(engine)
    assert code == 1
    assert f"BROKEN c1: first broken link at seq 2 (row {target}): hash_mismatch" in output


def test_truncation_is_reported(engine: Engine) -> None:
    cpts_id = new_cpts(engine, "c1")
    add_events(engine, cpts_id, 4)
    assert _run(engine)[0] == 0
    with attacker(engine) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE cpts_id = :c AND seq = 4"), {"c": cpts_id})
    code, output = _run(engine)
    assert code == 1 and "first broken link at seq 4: truncated" in output


def test_checkpoints_signed_with_another_key_are_refused(engine: Engine) -> None:
    add_events(engine, new_cpts(engine, "c1"), 2)
    assert _run(engine)[0] == 0
    code, output = _run(engine, env={"SNP_AUDIT_KEY": "another-key"})
    assert code == 1 and "bad_checkpoint_signature" in output


def test_unknown_cpts_code_exits_two(engine: Engine) -> None:
    code, output = _run(engine, "--cpts", "nope")
    assert code == 2 and "unknown CPTS code" in output
