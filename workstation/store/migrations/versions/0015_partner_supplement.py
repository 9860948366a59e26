"""补正 of online applications: a partner's supplements, and outcome events unique per pre-review round

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workstation.store.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every event so far decided the first round: a supplement opens the next one, which is decided again.
    with op.batch_alter_table("partner_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round", sa.Integer(), server_default="1", nullable=False))
        batch_op.drop_constraint("uq_partner_events_application_id", type_="unique")
        batch_op.create_unique_constraint("uq_partner_events_application_round", ["application_id", "round"])
    op.create_table(
        "partner_supplements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("return_note", sa.Text(), nullable=False),
        sa.Column("returned_by", sa.String(length=100), nullable=True),
        sa.Column("returned_at", UTCDateTime(), nullable=True),
        sa.Column("notice_sha256", sa.String(length=64), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["partner_applications.id"],
            name=op.f("fk_partner_supplements_application_id_partner_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_supplements")),
        sa.UniqueConstraint("application_id", "body_sha256", name=op.f("uq_partner_supplements_application_id")),
        sa.UniqueConstraint("application_id", "round", name="uq_partner_supplements_application_round"),
    )


def downgrade() -> None:
    op.drop_table("partner_supplements")
    # A second round's events cannot be kept under one event per application and outcome: only the first round's.
    op.execute(sa.text("DELETE FROM partner_events WHERE round > 1"))
    with op.batch_alter_table("partner_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_partner_events_application_round", type_="unique")
        batch_op.create_unique_constraint("uq_partner_events_application_id", ["application_id", "outcome"])
        batch_op.drop_column("round")
