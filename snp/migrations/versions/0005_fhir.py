"""FHIR SAS interface: appointment identifiers, regulator accounts, CPTS FINESS

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fhir_appointment",
        sa.Column("id", ID, primary_key=True),
        sa.Column("cpts_id", ID, sa.ForeignKey("cpts.id"), nullable=False, index=True),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column(
            "orientation_id", ID, sa.ForeignKey("orientation.id"), nullable=False, unique=True
        ),
        sa.Column("operator_system", sa.String(200), nullable=False),
        sa.Column("operator_value", sa.String(200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.UniqueConstraint("system", "value", name="fhir_appointment_identifier"),
    )
    op.create_table(
        "fhir_regulator",
        sa.Column("id", ID, primary_key=True),
        sa.Column("cpts_id", ID, sa.ForeignKey("cpts.id"), nullable=False, index=True),
        sa.Column("user_id", ID, sa.ForeignKey("app_user.id"), nullable=False, unique=True),
        sa.Column("family", sa.String(120), nullable=False),
        sa.Column("given", sa.String(120), nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "fhir_regulator_identifier",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "regulator_id",
            ID,
            sa.ForeignKey("fhir_regulator.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.UniqueConstraint("system", "value", name="fhir_regulator_identifier_unique"),
    )
    op.create_table(
        "fhir_cpts_finess",
        sa.Column("cpts_id", ID, sa.ForeignKey("cpts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("finess", sa.String(9), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fhir_cpts_finess")
    op.drop_table("fhir_regulator_identifier")
    op.drop_table("fhir_regulator")
    op.drop_table("fhir_appointment")
