"""Slots by professional and start: the FHIR slot search's access path

The SAS slot search selects 1-25 professionals' free slots over a window, in the
CPTS of the caller's département (a sub-select). With only ``ix_slot_professional_id``
and ``ix_slot_window`` (cpts, profession, start), PostgreSQL's generic plan for that
prepared statement (psycopg prepares from a statement's 5th execution on a
connection) scanned every slot of the département: 35,127 rows on the L scenario's
Paris, 80 ms instead of 4-5 ms. With this index the generic plan is a range scan per
professional (5.3 ms), and the search no longer reads a professional's past slots.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_slot_professional_start", "slot", ["professional_id", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_slot_professional_start", table_name="slot")
