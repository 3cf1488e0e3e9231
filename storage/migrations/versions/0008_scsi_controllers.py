"""SCSI controllers a VM has, added and removed by the resource methods

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: the controllers follow from the VM's drives (and a generation 2 VM's first one),
    # as they did before controllers could be added or removed.
    with op.batch_alter_table("virtual_machines") as batch:
        batch.add_column(sa.Column("scsi_controllers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("virtual_machines") as batch:
        batch.drop_column("scsi_controllers")
