"""named snapshots of the world (POST /_hvsim/snapshots); VM ids never reused on SQLite

0004 rebuilt virtual_machines on SQLite without AUTOINCREMENT, so after a wipe (a reset, a
state load) new VMs took the ids of the old ones, and caches keyed by (id, version) served the
old world's instances. The table is rebuilt with it (upgrade_schema turns foreign keys off
around migrations, so the rebuild does not cascade to disks and adapters).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "world_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hosts", sa.Integer(), nullable=False),
        sa.Column("vms", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("virtual_machines", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    op.drop_table("world_snapshots")
