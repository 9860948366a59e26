"""no global serialisation at the registry: an audit chain per station, and change-feed positions by transaction;
an index of the dossiers offered first to the reviewer who returned them

Audit events name their chain and their place in it (`link`); the events written so far are the chain "main",
in the order of their number. On PostgreSQL the events' numbers come from a sequence (a global order, not a lock:
each chain is linked by its own head row). The change feed's positions become 64-bit: at the registry on
PostgreSQL a position is the writing transaction's id, shifted, plus the change's place in it, so a reader can
tell which positions can no longer be filled by a transaction still running.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


_PREFERRED = "preferred_reviewer_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("dossiers") as batch:
        # The dossiers offered first to the reviewer who returned them: every claim looks for its own.
        batch.create_index(
            "ix_dossiers_preferred",
            ["preferred_reviewer_id"],
            sqlite_where=sa.text(_PREFERRED),
            postgresql_where=sa.text(_PREFERRED),
        )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("chain", sa.String(length=32), server_default="main", nullable=False))
        batch.add_column(sa.Column("link", sa.Integer(), nullable=True))
    op.execute("UPDATE audit_events SET link = seq")
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("link", existing_type=sa.Integer(), nullable=False)
        batch.create_index("uq_audit_events_chain_link", ["chain", "link"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS audit_events_seq AS integer")
        op.execute("SELECT setval('audit_events_seq', GREATEST((SELECT max(seq) FROM audit_events), 0) + 1, false)")
        op.execute("ALTER TABLE change_feed ALTER COLUMN seq TYPE bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE change_feed ALTER COLUMN seq TYPE integer")
        op.execute("DROP SEQUENCE IF EXISTS audit_events_seq")
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_index(
            "ix_dossiers_preferred", sqlite_where=sa.text(_PREFERRED), postgresql_where=sa.text(_PREFERRED)
        )
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("uq_audit_events_chain_link")
        batch.drop_column("link")
        batch.drop_column("chain")
