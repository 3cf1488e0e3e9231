"""world version counter

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:15:54.193142
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    table = op.create_table(
        "world_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The single row every writer bumps; it exists from the start so bumps are plain UPDATEs.
    op.bulk_insert(table, [{"id": 1, "counter": 1}])


def downgrade() -> None:

    op.drop_table("world_version")
