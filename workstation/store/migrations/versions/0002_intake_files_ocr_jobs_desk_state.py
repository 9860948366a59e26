"""intake files, OCR jobs, desk state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:25:52.424810
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workstation.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_state",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_desk_state")),
    )
    op.create_table(
        "intake_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", workstation.store.types.UTCDateTime(), nullable=False),
        sa.Column("moved_at", workstation.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_intake_files_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_files")),
        sa.UniqueConstraint("dossier_id", "sha256", name=op.f("uq_intake_files_dossier_id")),
    )
    with op.batch_alter_table("intake_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_files_dossier_id"), ["dossier_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intake_files_sha256"), ["sha256"], unique=False)

    op.create_table(
        "ocr_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("page_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", workstation.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", workstation.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name=op.f("fk_ocr_jobs_page_id_pages"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocr_jobs")),
        sa.UniqueConstraint("page_id", name=op.f("uq_ocr_jobs_page_id")),
    )
    with op.batch_alter_table("ocr_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocr_jobs_state"), ["state"], unique=False)

    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("file_page", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("ocr_lines", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("ocr_engine", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("ocr_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("material_basis", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("slot_by_clerk", sa.Boolean(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_pages_file_id"), ["file_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_pages_file_id_intake_files"), "intake_files", ["file_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_pages_file_id_intake_files"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_pages_file_id"))
        batch_op.drop_column("slot_by_clerk")
        batch_op.drop_column("material_basis")
        batch_op.drop_column("ocr_seconds")
        batch_op.drop_column("ocr_engine")
        batch_op.drop_column("ocr_lines")
        batch_op.drop_column("file_page")
        batch_op.drop_column("file_id")

    with op.batch_alter_table("ocr_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocr_jobs_state"))

    op.drop_table("ocr_jobs")
    with op.batch_alter_table("intake_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_files_sha256"))
        batch_op.drop_index(batch_op.f("ix_intake_files_dossier_id"))

    op.drop_table("intake_files")
    op.drop_table("desk_state")
