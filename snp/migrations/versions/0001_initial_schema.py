"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "cpts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("departement_code", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "agreement",
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(["cpts_id"], ["cpts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["partner_id"], ["cpts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("cpts_id", "partner_id"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpts_id"],
            ["cpts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cpts_id", "seq", name="audit_event_chain_position"),
    )
    op.create_table(
        "cpts_commune",
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(["cpts_id"], ["cpts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("cpts_id", "insee_code"),
    )
    op.create_table(
        "patient_contact",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cpts_id"],
            ["cpts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_patient_contact_cpts_id"), "patient_contact", ["cpts_id"], unique=False
    )
    op.create_table(
        "site",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpts_id"],
            ["cpts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_site_cpts_id"), "site", ["cpts_id"], unique=False)
    op.create_table(
        "professional",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("last_name", sa.String(length=120), nullable=False),
        sa.Column("first_name", sa.String(length=120), nullable=False),
        sa.Column("profession", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=10), nullable=True),
        sa.Column("accepts_surnumeraire", sa.Boolean(), nullable=False),
        sa.Column(
            "main_site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["cpts_id"],
            ["cpts.id"],
        ),
        sa.ForeignKeyConstraint(["main_site_id"], ["site.id"], name="fk_professional_main_site"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rpps"),
    )
    op.create_index(op.f("ix_professional_cpts_id"), "professional", ["cpts_id"], unique=False)
    op.create_table(
        "care_request",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("profession", sa.Integer(), nullable=False),
        sa.Column("modalities", sa.String(length=60), nullable=False),
        sa.Column("priority", sa.String(length=30), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("earliest", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_km", sa.Float(), nullable=False),
        sa.Column(
            "medecin_traitant_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "patient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("unserved_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["cpts_id"],
            ["cpts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["medecin_traitant_id"],
            ["professional.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient_contact.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_request_status", "care_request", ["cpts_id", "status", "deadline"], unique=False
    )
    op.create_table(
        "plage",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "professional_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_local", sa.Time(), nullable=False),
        sa.Column("end_local", sa.Time(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("modality", sa.String(length=20), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("surnumeraire", sa.Integer(), nullable=False),
        sa.Column("sas_reserved", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_plage_professional_id"), "plage", ["professional_id"], unique=False)
    op.create_table(
        "slot",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "professional_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("plage_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("profession", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modality", sa.String(length=20), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("surnumeraire", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("sas_reserved", sa.Boolean(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.CheckConstraint("end_at > start_at", name="slot_ends_after_start"),
        sa.CheckConstraint("taken <= capacity + surnumeraire", name="slot_within_capacity"),
        sa.CheckConstraint("taken >= 0", name="slot_taken_nonnegative"),
        sa.ForeignKeyConstraint(
            ["cpts_id"],
            ["cpts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["plage_id"],
            ["plage.id"],
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_slot_professional_id"), "slot", ["professional_id"], unique=False)
    op.create_index("ix_slot_window", "slot", ["cpts_id", "profession", "start_at"], unique=False)
    op.create_table(
        "orientation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cpts_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("slot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("surnumeraire", sa.Boolean(), nullable=False),
        sa.Column("surnumeraire_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column(
            "rescheduled_from_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["cpts_id"],
            ["cpts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["care_request.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rescheduled_from_id"],
            ["orientation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["slot.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_orientation_cpts_id"), "orientation", ["cpts_id"], unique=False)
    op.create_index(op.f("ix_orientation_request_id"), "orientation", ["request_id"], unique=False)
    op.create_index(
        "ix_orientation_slot_status", "orientation", ["slot_id", "status"], unique=False
    )


def downgrade() -> None:

    op.drop_index("ix_orientation_slot_status", table_name="orientation")
    op.drop_index(op.f("ix_orientation_request_id"), table_name="orientation")
    op.drop_index(op.f("ix_orientation_cpts_id"), table_name="orientation")
    op.drop_table("orientation")
    op.drop_index("ix_slot_window", table_name="slot")
    op.drop_index(op.f("ix_slot_professional_id"), table_name="slot")
    op.drop_table("slot")
    op.drop_index(op.f("ix_plage_professional_id"), table_name="plage")
    op.drop_table("plage")
    op.drop_index("ix_request_status", table_name="care_request")
    op.drop_table("care_request")
    op.drop_index(op.f("ix_professional_cpts_id"), table_name="professional")
    op.drop_table("professional")
    op.drop_index(op.f("ix_site_cpts_id"), table_name="site")
    op.drop_table("site")
    op.drop_index(op.f("ix_patient_contact_cpts_id"), table_name="patient_contact")
    op.drop_table("patient_contact")
    op.drop_table("cpts_commune")
    op.drop_table("audit_event")
    op.drop_table("agreement")
    op.drop_table("cpts")
