"""The world clock (mode, scale, simulated time) and how each job progresses

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "world_clock",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("base_us", sa.BigInteger(), nullable=False),
        sa.Column("anchor_us", sa.BigInteger(), nullable=False),
        sa.Column("progression", sa.JSON(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("progression", sa.String(16), nullable=False,
                                   server_default="clock"))
        batch.add_column(sa.Column("polls", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("polls")
        batch.drop_column("progression")
    op.drop_table("world_clock")
