"""partner platforms, their online applications and the outcomes told to them (网上申请, 网上预审)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workstation.store.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_partners",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("callback_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_partners")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_registry_partners_token_sha256")),
    )
    op.create_table(
        "partner_applications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("declared", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("notice_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_partner_applications_dossier_id_dossiers")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["registry_partners.id"], name=op.f("fk_partner_applications_partner_id_registry_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_applications")),
        sa.UniqueConstraint("dossier_id", name=op.f("uq_partner_applications_dossier_id")),
        sa.UniqueConstraint("partner_id", "reference", name=op.f("uq_partner_applications_partner_id")),
    )
    with op.batch_alter_table("partner_applications", schema=None) as batch_op:
        batch_op.create_index("ix_partner_applications_status_due", ["status", "due_at"], unique=False)
    op.create_table(
        "partner_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivery", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["partner_applications.id"],
            name=op.f("fk_partner_events_application_id_partner_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_events")),
        sa.UniqueConstraint("application_id", "outcome", name=op.f("uq_partner_events_application_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_partner_events_seq")),
    )
    with op.batch_alter_table("partner_events", schema=None) as batch_op:
        batch_op.create_index("ix_partner_events_partner_seq", ["partner_id", "seq"], unique=False)
        batch_op.create_index("ix_partner_events_delivery_next", ["delivery", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("partner_events", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_events_delivery_next")
        batch_op.drop_index("ix_partner_events_partner_seq")
    op.drop_table("partner_events")
    with op.batch_alter_table("partner_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_applications_status_due")
    op.drop_table("partner_applications")
    op.drop_table("registry_partners")
