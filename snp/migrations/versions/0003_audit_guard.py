"""audit guard: signed checkpoints and append-only triggers

The audit chain and its checkpoints must never be updated or deleted by any
code path; the database itself refuses it, so a bug or a careless manual query
cannot rewrite history. (A superuser can still bypass triggers: that is what
the hash chain and the signed checkpoints are there to reveal.)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARDED_TABLES = ("audit_event", "audit_checkpoint")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION snp_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'snp: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING HINT = 'Audit rows are never changed; append a new event instead.';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["cpts_id"], ["cpts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_audit_checkpoint_chain", "audit_checkpoint", ["cpts_id", "seq"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in GUARDED_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION snp_audit_append_only()"
            )
            # Row triggers do not fire on TRUNCATE, which would empty the chain.
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION snp_audit_append_only()"
            )
    else:
        for table in GUARDED_TABLES:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} "
                    f"BEFORE {operation} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'snp: {table} is append-only: {operation} refused'); "
                    "END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in GUARDED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS snp_audit_append_only()")
    else:
        for table in GUARDED_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
    op.drop_index("ix_audit_checkpoint_chain", table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
