"""initial world schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 07:43:49.455371
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("scenario_digest", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "enumeration_contexts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=128), nullable=False),
        sa.Column("endpoint_host", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("fqdn", sa.String(length=255), nullable=False),
        sa.Column("os_name", sa.String(length=64), nullable=False),
        sa.Column("os_build", sa.String(length=32), nullable=False),
        sa.Column("processor_vendor", sa.String(length=32), nullable=False),
        sa.Column("processor_model", sa.String(length=128), nullable=False),
        sa.Column("processor_features", sa.BigInteger(), nullable=False),
        sa.Column("processor_xsave", sa.BigInteger(), nullable=False),
        sa.Column("cache_line_flush_size", sa.Integer(), nullable=False),
        sa.Column("logical_processors", sa.Integer(), nullable=False),
        sa.Column("numa_nodes", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.BigInteger(), nullable=False),
        sa.Column("supported_versions", sa.JSON(), nullable=False),
        sa.Column("default_version", sa.String(length=16), nullable=False),
        sa.Column("ip_addresses", sa.JSON(), nullable=False),
        sa.Column("virtual_switches", sa.JSON(), nullable=False),
        sa.Column("default_vhd_path", sa.String(length=260), nullable=False),
        sa.Column("default_external_data_root", sa.String(length=260), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("migration_enabled", sa.Boolean(), nullable=False),
        sa.Column("max_active_vm_migrations", sa.Integer(), nullable=False),
        sa.Column("max_active_storage_migrations", sa.Integer(), nullable=False),
        sa.Column("migration_auth_type", sa.Integer(), nullable=False),
        sa.Column("migration_compression", sa.Boolean(), nullable=False),
        sa.Column("migration_smb", sa.Boolean(), nullable=False),
        sa.Column("migration_service_started", sa.Boolean(), nullable=False),
        sa.Column("migration_bandwidth_mbps", sa.Integer(), nullable=False),
        sa.Column("storage_bandwidth_mbps", sa.Integer(), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("ordinal"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "enumeration_items",
        sa.Column("context_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("classname", sa.String(length=128), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["context_id"], ["enumeration_contexts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("context_id", "seq"),
    )
    op.create_table(
        "migration_networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=128), nullable=False),
        sa.Column("subnet", sa.String(length=64), nullable=False),
        sa.Column("prefix_length", sa.Integer(), nullable=False),
        sa.Column("metric", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_migration_networks_host_id"), "migration_networks", ["host_id"], unique=False
    )
    op.create_table(
        "virtual_machines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("element_name", sa.String(length=100), nullable=False),
        sa.Column("enabled_state", sa.Integer(), nullable=False),
        sa.Column("health_state", sa.Integer(), nullable=False),
        sa.Column("operational_status", sa.JSON(), nullable=False),
        sa.Column("operating_status", sa.Integer(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("config_version", sa.String(length=16), nullable=False),
        sa.Column("memory_mb", sa.BigInteger(), nullable=False),
        sa.Column("dynamic_memory", sa.Boolean(), nullable=False),
        sa.Column("memory_min_mb", sa.BigInteger(), nullable=False),
        sa.Column("memory_max_mb", sa.BigInteger(), nullable=False),
        sa.Column("processors", sa.Integer(), nullable=False),
        sa.Column("limit_processor_features", sa.Boolean(), nullable=False),
        sa.Column("processor_vendor", sa.String(length=32), nullable=False),
        sa.Column("processor_features", sa.BigInteger(), nullable=False),
        sa.Column("processor_xsave", sa.BigInteger(), nullable=False),
        sa.Column("cache_line_flush_size", sa.Integer(), nullable=False),
        sa.Column("dirty_rate_mbps", sa.Integer(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("config_root", sa.String(length=260), nullable=False),
        sa.Column("snapshot_root", sa.String(length=260), nullable=False),
        sa.Column("swap_root", sa.String(length=260), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("host_id", "guid", name="uq_vm_host_guid"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_vm_guid", "virtual_machines", ["guid"], unique=False)
    op.create_index("ix_vm_host_planned", "virtual_machines", ["host_id", "planned"], unique=False)
    op.create_table(
        "network_adapters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.Column("adapter_guid", sa.String(length=36), nullable=False),
        sa.Column("element_name", sa.String(length=100), nullable=False),
        sa.Column("switch_name", sa.String(length=100), nullable=False),
        sa.Column("mac_address", sa.String(length=12), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["vm_id"], ["virtual_machines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_network_adapters_vm_id"), "network_adapters", ["vm_id"], unique=False)
    op.create_table(
        "virtual_disks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.Column("controller_kind", sa.String(length=8), nullable=False),
        sa.Column("controller_number", sa.Integer(), nullable=False),
        sa.Column("controller_guid", sa.String(length=36), nullable=False),
        sa.Column("location", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=260), nullable=False),
        sa.Column("size_gb", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["vm_id"], ["virtual_machines.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_virtual_disks_vm_id"), "virtual_disks", ["vm_id"], unique=False)


def downgrade() -> None:

    op.drop_index(op.f("ix_virtual_disks_vm_id"), table_name="virtual_disks")
    op.drop_table("virtual_disks")
    op.drop_index(op.f("ix_network_adapters_vm_id"), table_name="network_adapters")
    op.drop_table("network_adapters")
    op.drop_index("ix_vm_host_planned", table_name="virtual_machines")
    op.drop_index("ix_vm_guid", table_name="virtual_machines")
    op.drop_table("virtual_machines")
    op.drop_index(op.f("ix_migration_networks_host_id"), table_name="migration_networks")
    op.drop_table("migration_networks")
    op.drop_table("enumeration_items")
    op.drop_table("hosts")
    op.drop_table("enumeration_contexts")
    op.drop_table("clusters")
