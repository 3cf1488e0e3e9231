"""The simulated world as tables: hosts, their migration settings and networks, VMs and devices.

CIM instances are not stored; providers derive them from these rows, so a VM that changes host
changes in exactly one row and every view of it (VSSD, RASDs, associations) follows.
Every row carries a version counter: optimistic concurrency between hvsim processes sharing one
PostgreSQL database, and (with ids that are never reused, even by SQLite after a reset) a cache
key for serialised instances.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[int]: JSON,
                           datetime: UTCDateTime}


class Cluster(Base):
    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(String(255))
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    # Which scenario seeded the store, so a restart with a different one is noticed.
    scenario_digest: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = {"sqlite_autoincrement": True}
    __mapper_args__ = {"version_id_col": version_id}


class Host(Base):
    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    ordinal: Mapped[int] = mapped_column(Integer, unique=True)
    fqdn: Mapped[str] = mapped_column(String(255))
    os_name: Mapped[str] = mapped_column(String(64))
    os_build: Mapped[str] = mapped_column(String(32))
    processor_vendor: Mapped[str] = mapped_column(String(32))
    processor_model: Mapped[str] = mapped_column(String(128))
    processor_features: Mapped[int] = mapped_column(BigInteger)
    processor_xsave: Mapped[int] = mapped_column(BigInteger)
    cache_line_flush_size: Mapped[int] = mapped_column(Integer)
    logical_processors: Mapped[int] = mapped_column(Integer)
    numa_nodes: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(BigInteger)
    supported_versions: Mapped[list[str]]
    default_version: Mapped[str] = mapped_column(String(16))
    ip_addresses: Mapped[list[str]]
    virtual_switches: Mapped[list[str]]
    default_vhd_path: Mapped[str] = mapped_column(String(260))
    default_external_data_root: Mapped[str] = mapped_column(String(260))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    # Migration service settings (Msvm_VirtualSystemMigrationServiceSettingData).
    migration_enabled: Mapped[bool] = mapped_column(Boolean)
    max_active_vm_migrations: Mapped[int] = mapped_column(Integer)
    max_active_storage_migrations: Mapped[int] = mapped_column(Integer)
    migration_auth_type: Mapped[int] = mapped_column(Integer)
    migration_compression: Mapped[bool] = mapped_column(Boolean)
    migration_smb: Mapped[bool] = mapped_column(Boolean)
    migration_service_started: Mapped[bool] = mapped_column(Boolean, default=True)
    migration_bandwidth_mbps: Mapped[int] = mapped_column(Integer)
    storage_bandwidth_mbps: Mapped[int] = mapped_column(Integer)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    networks: Mapped[list[MigrationNetwork]] = relationship(
        back_populates="host", cascade="all, delete-orphan", order_by="MigrationNetwork.id"
    )

    __table_args__ = {"sqlite_autoincrement": True}
    __mapper_args__ = {"version_id_col": version_id}


class MigrationNetwork(Base):
    __tablename__ = "migration_networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(128), unique=True)
    subnet: Mapped[str] = mapped_column(String(64))
    prefix_length: Mapped[int] = mapped_column(Integer)
    metric: Mapped[int] = mapped_column(Integer)
    tags: Mapped[list[str]]
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    host: Mapped[Host] = relationship(back_populates="networks")

    __table_args__ = {"sqlite_autoincrement": True}
    __mapper_args__ = {"version_id_col": version_id}


class VirtualMachine(Base):
    """A realized VM (Msvm_ComputerSystem) or a planned one (Msvm_PlannedComputerSystem)."""

    __tablename__ = "virtual_machines"

    id: Mapped[int] = mapped_column(primary_key=True)
    guid: Mapped[str] = mapped_column(String(36))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    planned: Mapped[bool] = mapped_column(Boolean, default=False)
    element_name: Mapped[str] = mapped_column(String(100))
    enabled_state: Mapped[int] = mapped_column(Integer)
    health_state: Mapped[int] = mapped_column(Integer, default=5)
    operational_status: Mapped[list[int]]
    operating_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    generation: Mapped[int] = mapped_column(Integer)
    config_version: Mapped[str] = mapped_column(String(16))
    memory_mb: Mapped[int] = mapped_column(BigInteger)
    dynamic_memory: Mapped[bool] = mapped_column(Boolean, default=False)
    memory_min_mb: Mapped[int] = mapped_column(BigInteger)
    memory_max_mb: Mapped[int] = mapped_column(BigInteger)
    processors: Mapped[int] = mapped_column(Integer)
    # Msvm_ProcessorSettingData Limit and Reservation (1/1000 percent) and Weight (§12.5).
    processor_limit: Mapped[int] = mapped_column(Integer, default=100000)
    processor_reservation: Mapped[int] = mapped_column(Integer, default=0)
    processor_weight: Mapped[int] = mapped_column(Integer, default=100)
    limit_processor_features: Mapped[bool] = mapped_column(Boolean, default=False)
    # Processor compatibility vectors captured from the host the VM last started on (§7).
    processor_vendor: Mapped[str] = mapped_column(String(32))
    processor_features: Mapped[int] = mapped_column(BigInteger)
    processor_xsave: Mapped[int] = mapped_column(BigInteger)
    cache_line_flush_size: Mapped[int] = mapped_column(Integer)
    dirty_rate_mbps: Mapped[int] = mapped_column(Integer)
    notes: Mapped[list[str]]
    # VSSD AutomaticStartupAction (2 none, 3 restart if previously active, 4 always start) and
    # AutomaticShutdownAction (2 turn off, 3 save state, 4 shut down), §11.2.
    automatic_startup_action: Mapped[int] = mapped_column(Integer, default=3)
    automatic_shutdown_action: Mapped[int] = mapped_column(Integer, default=3)
    # The named pipe of COM 1 and COM 2 ("" while none is connected).
    serial_connections: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["", ""])
    # The GUIDs of the VM's SCSI controllers in the order they were added; NULL for a VM no
    # resource method has changed yet, whose controllers follow from its drives
    # (providers.vm_setting_ids.scsi_controller_guids).
    scsi_controllers: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)
    config_root: Mapped[str] = mapped_column(String(260))
    snapshot_root: Mapped[str] = mapped_column(String(260))
    swap_root: Mapped[str] = mapped_column(String(260))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Uptime (OnTimeInMilliseconds, §10.2) excludes paused time: what earlier running stretches
    # added up to, and when the current one began (NULL while the VM is not running).
    uptime_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # RequestedState while a state change runs; 12 (Not Applicable) otherwise.
    requested_state: Mapped[int] = mapped_column(Integer, default=12)
    # Whether the guest's shutdown integration service is enabled (Msvm_ShutdownComponent).
    shutdown_service: Mapped[bool] = mapped_column(Boolean, default=True)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    disks: Mapped[list[VirtualDisk]] = relationship(
        back_populates="vm", cascade="all, delete-orphan", order_by="VirtualDisk.id"
    )
    network_adapters: Mapped[list[NetworkAdapter]] = relationship(
        back_populates="vm", cascade="all, delete-orphan", order_by="NetworkAdapter.id"
    )

    __table_args__ = (
        # A planned VM and a realized VM with the same GUID cannot coexist on one host (§10.6).
        UniqueConstraint("host_id", "guid", name="uq_vm_host_guid"),
        Index("ix_vm_host_planned", "host_id", "planned"),
        Index("ix_vm_guid", "guid"),
        {"sqlite_autoincrement": True},
    )
    __mapper_args__ = {"version_id_col": version_id}


class VirtualDisk(Base):
    __tablename__ = "virtual_disks"

    id: Mapped[int] = mapped_column(primary_key=True)
    vm_id: Mapped[int] = mapped_column(
        ForeignKey("virtual_machines.id", ondelete="CASCADE"), index=True
    )
    controller_kind: Mapped[str] = mapped_column(String(8))  # "ide" or "scsi"
    controller_number: Mapped[int] = mapped_column(Integer)
    controller_guid: Mapped[str] = mapped_column(String(36))
    location: Mapped[int] = mapped_column(Integer)
    # The virtual hard disk in the drive; "" for a drive without one.
    path: Mapped[str] = mapped_column(String(260))
    size_gb: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    vm: Mapped[VirtualMachine] = relationship(back_populates="disks")

    __table_args__ = {"sqlite_autoincrement": True}
    __mapper_args__ = {"version_id_col": version_id}


class NetworkAdapter(Base):
    __tablename__ = "network_adapters"

    id: Mapped[int] = mapped_column(primary_key=True)
    vm_id: Mapped[int] = mapped_column(
        ForeignKey("virtual_machines.id", ondelete="CASCADE"), index=True
    )
    adapter_guid: Mapped[str] = mapped_column(String(36))
    element_name: Mapped[str] = mapped_column(String(100))
    switch_name: Mapped[str] = mapped_column(String(100))
    mac_address: Mapped[str] = mapped_column(String(12))
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    vm: Mapped[VirtualMachine] = relationship(back_populates="network_adapters")

    __table_args__ = {"sqlite_autoincrement": True}
    __mapper_args__ = {"version_id_col": version_id}


class KeyboardInput(Base):
    """One call of a VM keyboard's input methods, kept so every process can show it (a bounded
    record per VM: storage.keyboards trims the oldest)."""

    __tablename__ = "keyboard_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    vm_id: Mapped[int] = mapped_column(
        ForeignKey("virtual_machines.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(32))  # e.g. "TypeText"
    # What was sent, as the method's log line shows it (text, key names, scan codes), shortened.
    detail: Mapped[str] = mapped_column(String(512))
    # The text the input would put on a console line ("" for keys that type nothing).
    typed: Mapped[str] = mapped_column(String(512), default="")

    __table_args__ = {"sqlite_autoincrement": True}


class KeyboardKeyDown(Base):
    """A key a VM's keyboard holds down (PressKey without ReleaseKey yet); a key pressed before
    the VM last changed state is up again (storage.keyboards.keys_down takes that moment)."""

    __tablename__ = "keyboard_keys_down"

    vm_id: Mapped[int] = mapped_column(
        ForeignKey("virtual_machines.id", ondelete="CASCADE"), primary_key=True
    )
    key_code: Mapped[int] = mapped_column(Integer, primary_key=True)
    pressed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EnumerationContext(Base):
    """An open pull enumeration; lives in the store so any hvsim process can continue it."""

    __tablename__ = "enumeration_contexts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(128))
    endpoint_host: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict[str, Any]]
    position: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version_id}


class EnumerationItem(Base):
    """The paths an open enumeration still has to deliver, in order."""

    __tablename__ = "enumeration_items"

    context_id: Mapped[str] = mapped_column(
        ForeignKey("enumeration_contexts.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    classname: Mapped[str] = mapped_column(String(128))
    keys: Mapped[dict[str, Any]]



class Job(Base):
    """A job (Msvm_MigrationJob, or an Msvm_ConcreteJob of a VM's state change) and its
    simulated timeline.

    Progress is never stored: it is derived from the timeline (`plan`, wall-clock seconds per
    phase, computed once when the job is created) and the clock, so every hvsim process sharing
    the database reports the same JobState and PercentComplete. Only events that change the
    world are written: the job starting (a free slot), ending (the VM moves) or being cancelled.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(36), unique=True)
    classname: Mapped[str] = mapped_column(String(64))
    # The host whose migration service accepted the request (the source).
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), index=True)
    destination_host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"),
                                                            nullable=True)
    destination_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    vm_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    vm_guid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    vm_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    job_type: Mapped[int] = mapped_column(Integer)
    migration_type: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # "move" changes the world when it completes; "check" only reports; "state" ends a VM's
    # state change (request["target"]).
    kind: Mapped[str] = mapped_column(String(16))
    counts_vm: Mapped[bool] = mapped_column(Boolean, default=False)
    counts_storage: Mapped[bool] = mapped_column(Boolean, default=False)
    # What to do on success (new disk paths, data roots, planned VM to consume, ...).
    request: Mapped[dict[str, Any]]
    # Phases: [[wall seconds, percent at start, percent at end, status text], ...].
    plan: Mapped[list[Any]] = mapped_column(JSON)
    # None: the job succeeds at the end of its plan; else the failure it ends with.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # started_at + the plan's length while the job runs; the next moment it changes the world.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # NULL while the job is queued or running; the terminal JobState once it has ended.
    job_state: Mapped[int | None] = mapped_column(Integer, nullable=True)
    percent_final: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[int] = mapped_column(Integer, default=0)
    error_summary: Mapped[str | None] = mapped_column(String(255), nullable=True)
    error_description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    delete_on_completion: Mapped[bool] = mapped_column(Boolean, default=True)
    removal_seconds: Mapped[int] = mapped_column(Integer, default=300)
    # When a finished job disappears (finished_at + removal_seconds, if DeleteOnCompletion).
    remove_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # How the job moves along its plan: "clock" (with simulated time), "immediate" (it ends
    # the moment it starts) or "polls" (one phase each time a client reads it, `polls` so far).
    progression: Mapped[str] = mapped_column(String(16), default="clock")
    polls: Mapped[int] = mapped_column(Integer, default=0)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        Index("ix_jobs_active", "job_state", "due_at"),
        {"sqlite_autoincrement": True},
    )
    __mapper_args__ = {"version_id_col": version_id}


class WorldVersion(Base):
    """A counter bumped in every transaction that changes the world.

    Any process can tell in one indexed read whether what it rendered earlier may be stale.
    """

    __tablename__ = "world_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger)
