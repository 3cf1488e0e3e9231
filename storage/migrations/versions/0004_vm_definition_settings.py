"""settings a VM's definition can change: processor limits, automatic actions, serial ports

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Existing VMs get what a host gives a new VM (§11.2, §12.5).
_INTEGERS = {"processor_limit": "100000", "processor_reservation": "0",
             "processor_weight": "100", "automatic_startup_action": "3",
             "automatic_shutdown_action": "3"}


def upgrade() -> None:
    with op.batch_alter_table("virtual_machines") as batch:
        for name, default in _INTEGERS.items():
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False,
                                       server_default=default))
        batch.add_column(sa.Column("serial_connections", sa.JSON(), nullable=False,
                                   server_default='["", ""]'))


def downgrade() -> None:
    with op.batch_alter_table("virtual_machines") as batch:
        batch.drop_column("serial_connections")
        for name in reversed(_INTEGERS):
            batch.drop_column(name)
