"""one city, one flow: 补正 baselines and answers, the same reviewer first, mirrored clocks, station units

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workstation.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=32), nullable=True))
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_reviewer_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("preferred_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("clock_mirror", sa.JSON(), nullable=True))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("baseline", sa.JSON(), nullable=True))
    op.create_table(
        "supplement_answers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=100), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_supplement_answers_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplement_answers")),
        sa.UniqueConstraint("decision_id", "item", name=op.f("uq_supplement_answers_decision_id")),
    )
    with op.batch_alter_table("supplement_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplement_answers_dossier_id"), ["dossier_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("supplement_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplement_answers_dossier_id"))
    op.drop_table("supplement_answers")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("baseline")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_column("clock_mirror")
        batch_op.drop_column("preferred_until")
        batch_op.drop_column("preferred_reviewer_id")
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_column("unit")
