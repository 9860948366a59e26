"""the register (登记簿), charges and payments, deliveries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workstation.store.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_entries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("unit_number", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=True),
        sa.Column("business_code", sa.String(length=40), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("cert_kind", sa.String(length=12), nullable=True),
        sa.Column("cert_number", sa.String(length=80), nullable=True),
        sa.Column("amends_id", sa.String(length=36), nullable=True),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entries")),
    )
    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.create_index("ix_register_entries_unit_state", ["unit_number", "state"], unique=False)
        batch_op.create_index("ix_register_entries_cert_number", ["cert_number"], unique=True)
        batch_op.create_index(batch_op.f("ix_register_entries_dossier_id"), ["dossier_id"], unique=False)
    op.create_table(
        "charges",
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("exemptions", sa.JSON(), nullable=False),
        sa.Column("assessment", sa.JSON(), nullable=False),
        sa.Column("due_fen", sa.Integer(), nullable=False),
        sa.Column("paid_fen", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("receipt_number", sa.String(length=40), nullable=True),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", name=op.f("pk_charges")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_charges_receipt_number")),
    )
    op.create_table(
        "deliveries",
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", name=op.f("pk_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("charges")
    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_register_entries_dossier_id"))
        batch_op.drop_index("ix_register_entries_cert_number")
        batch_op.drop_index("ix_register_entries_unit_state")
    op.drop_table("register_entries")
