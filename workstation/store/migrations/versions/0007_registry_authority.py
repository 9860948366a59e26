"""registry authority: people and their sessions, unique numbers, typed outbox ops, per-station change feed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workstation.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_person_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_person_sessions")),
    )
    with op.batch_alter_table("person_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_sessions_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("username", existing_type=sa.String(length=64), type_=sa.String(length=100))
        batch_op.add_column(sa.Column("unit", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=16), server_default="desk", nullable=False))
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.create_index("ix_dossiers_number", ["number"], unique=True)
    with op.batch_alter_table("outbox_ops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("intent", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("server_errors", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("change_feed", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("audience2", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_change_feed_audience_seq", ["audience", "seq"], unique=False)
        batch_op.create_index("ix_change_feed_audience2_seq", ["audience2", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("change_feed", schema=None) as batch_op:
        batch_op.drop_index("ix_change_feed_audience2_seq")
        batch_op.drop_index("ix_change_feed_audience_seq")
        batch_op.drop_column("audience2")
        batch_op.drop_column("audience")
    with op.batch_alter_table("outbox_ops", schema=None) as batch_op:
        batch_op.drop_column("server_errors")
        batch_op.drop_column("intent")
        batch_op.drop_column("actor")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_index("ix_dossiers_number")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("origin")
        batch_op.drop_column("unit")
        batch_op.alter_column("username", existing_type=sa.String(length=100), type_=sa.String(length=64))
    with op.batch_alter_table("person_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_sessions_user_id"))
    op.drop_table("person_sessions")
