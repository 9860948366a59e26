"""the registry's history of each desk's audit chain head, witnessed at every sync

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workstation.store.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witnessed_heads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witnessed_heads")),
    )
    with op.batch_alter_table("witnessed_heads", schema=None) as batch_op:
        batch_op.create_index("ix_witnessed_heads_station_status_seq", ["station_id", "status", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("witnessed_heads", schema=None) as batch_op:
        batch_op.drop_index("ix_witnessed_heads_station_status_seq")
    op.drop_table("witnessed_heads")
