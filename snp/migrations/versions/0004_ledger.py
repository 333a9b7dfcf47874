"""compensation ledger: rule versions, duty shifts, append-only entries

Ledger entries are never updated or deleted: a correction is a new reversing
entry. The database refuses UPDATE and DELETE on ``ledger_entry`` so that a
bug or a manual query cannot rewrite what was paid.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION snp_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'snp: ledger_entry is append-only: % refused', TG_OP
        USING HINT = 'Post a reversing entry instead.';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "compensation_rule_version",
        sa.Column("id", ID, nullable=False),
        sa.Column("cpts_id", ID, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("replaces_id", ID, nullable=True),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cpts_id"], ["cpts.id"]),
        sa.ForeignKeyConstraint(["replaces_id"], ["compensation_rule_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("replaces_id"),
    )
    op.create_index(
        "ix_comp_rule_version_cpts", "compensation_rule_version", ["cpts_id", "valid_from"]
    )
    op.create_table(
        "duty_shift",
        sa.Column("id", ID, nullable=False),
        sa.Column("cpts_id", ID, nullable=False),
        sa.Column("professional_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.CheckConstraint("end_at > start_at", name="duty_shift_ends_after_start"),
        sa.ForeignKeyConstraint(["cpts_id"], ["cpts.id"]),
        sa.ForeignKeyConstraint(["professional_id"], ["professional.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_duty_shift_cpts_id"), "duty_shift", ["cpts_id"])
    op.create_index(op.f("ix_duty_shift_professional_id"), "duty_shift", ["professional_id"])
    op.create_table(
        "ledger_entry",
        sa.Column("id", ID, nullable=False),
        sa.Column("cpts_id", ID, nullable=False),
        sa.Column("professional_id", ID, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_ref", sa.String(length=60), nullable=False),
        sa.Column("rule_version_id", ID, nullable=False),
        sa.Column("rule_index", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("reverses_id", ID, nullable=True),
        sa.Column("caused_by", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cpts_id"], ["cpts.id"]),
        sa.ForeignKeyConstraint(["professional_id"], ["professional.id"]),
        sa.ForeignKeyConstraint(["rule_version_id"], ["compensation_rule_version.id"]),
        sa.ForeignKeyConstraint(["reverses_id"], ["ledger_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key"),
        sa.UniqueConstraint("reverses_id"),
    )
    op.create_index(
        "ix_ledger_entry_period", "ledger_entry", ["cpts_id", "period", "professional_id"]
    )
    op.create_index("ix_ledger_entry_source", "ledger_entry", ["source_kind", "source_ref"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry "
            "FOR EACH ROW EXECUTE FUNCTION snp_ledger_append_only()"
        )
        op.execute(
            "CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON ledger_entry "
            "FOR EACH STATEMENT EXECUTE FUNCTION snp_ledger_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entry_no_{operation.lower()} "
                f"BEFORE {operation} ON ledger_entry BEGIN "
                f"SELECT RAISE(ABORT, 'snp: ledger_entry is append-only: {operation} refused'); "
                "END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_truncate ON ledger_entry")
        op.execute("DROP FUNCTION IF EXISTS snp_ledger_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_delete")
    op.drop_index("ix_ledger_entry_source", table_name="ledger_entry")
    op.drop_index("ix_ledger_entry_period", table_name="ledger_entry")
    op.drop_table("ledger_entry")
    op.drop_index(op.f("ix_duty_shift_professional_id"), table_name="duty_shift")
    op.drop_index(op.f("ix_duty_shift_cpts_id"), table_name="duty_shift")
    op.drop_table("duty_shift")
    op.drop_index("ix_comp_rule_version_cpts", table_name="compensation_rule_version")
    op.drop_table("compensation_rule_version")
