"""VM lifecycle: uptime without paused time, the requested state, the shutdown service

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("virtual_machines") as batch:
        batch.add_column(sa.Column("uptime_ms", sa.BigInteger(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("running_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("requested_state", sa.Integer(), nullable=False,
                                   server_default="12"))
        batch.add_column(sa.Column("shutdown_service", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    # A VM that was running before the upgrade has been running since its last state change.
    op.execute("UPDATE virtual_machines SET running_since = state_changed_at "
               "WHERE enabled_state = 2 AND planned = false")


def downgrade() -> None:
    with op.batch_alter_table("virtual_machines") as batch:
        batch.drop_column("shutdown_service")
        batch.drop_column("requested_state")
        batch.drop_column("running_since")
        batch.drop_column("uptime_ms")
