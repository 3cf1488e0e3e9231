"""keyboard input record

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "keyboard_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=512), nullable=False),
        sa.Column("typed", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(["vm_id"], ["virtual_machines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_keyboard_inputs_vm_id"), "keyboard_inputs", ["vm_id"],
                    unique=False)
    op.create_table(
        "keyboard_keys_down",
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.Column("key_code", sa.Integer(), nullable=False),
        sa.Column("pressed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["vm_id"], ["virtual_machines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vm_id", "key_code"),
    )


def downgrade() -> None:

    op.drop_table("keyboard_keys_down")
    op.drop_index(op.f("ix_keyboard_inputs_vm_id"), table_name="keyboard_inputs")
    op.drop_table("keyboard_inputs")
