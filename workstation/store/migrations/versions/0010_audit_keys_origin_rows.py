"""audit events: hash algorithm (plain sha256 before keys, HMAC after), OS user, interface and row digests

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alg", sa.String(length=16), server_default="sha256", nullable=False))
        batch_op.add_column(sa.Column("os_user", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("interface", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("rows", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("rows")
        batch_op.drop_column("interface")
        batch_op.drop_column("os_user")
        batch_op.drop_column("alg")
