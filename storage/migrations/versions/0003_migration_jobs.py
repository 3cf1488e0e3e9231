"""migration jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("classname", sa.String(length=64), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("destination_host_id", sa.Integer(), nullable=True),
        sa.Column("destination_name", sa.String(length=255), nullable=True),
        sa.Column("vm_id", sa.Integer(), nullable=True),
        sa.Column("vm_guid", sa.String(length=36), nullable=True),
        sa.Column("vm_name", sa.String(length=100), nullable=True),
        sa.Column("job_type", sa.Integer(), nullable=False),
        sa.Column("migration_type", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("counts_vm", sa.Boolean(), nullable=False),
        sa.Column("counts_storage", sa.Boolean(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_state", sa.Integer(), nullable=True),
        sa.Column("percent_final", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=False),
        sa.Column("error_summary", sa.String(length=255), nullable=True),
        sa.Column("error_description", sa.String(length=2000), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("delete_on_completion", sa.Boolean(), nullable=False),
        sa.Column("removal_seconds", sa.Integer(), nullable=False),
        sa.Column("remove_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_host_id"],
            ["hosts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_active", "jobs", ["job_state", "due_at"], unique=False)
    op.create_index(op.f("ix_jobs_remove_at"), "jobs", ["remove_at"], unique=False)
    op.create_index(op.f("ix_jobs_host_id"), "jobs", ["host_id"], unique=False)
    op.create_index(op.f("ix_jobs_vm_id"), "jobs", ["vm_id"], unique=False)


def downgrade() -> None:

    op.drop_index(op.f("ix_jobs_vm_id"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_host_id"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_remove_at"), table_name="jobs")
    op.drop_index("ix_jobs_active", table_name="jobs")
    op.drop_table("jobs")
