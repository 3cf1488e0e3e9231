"""What a scenario describes: the host personas and hardware tables hvsim knows (reference
§7, §11.3) and the validated, frozen specs of a cluster, its hosts and its VMs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Host OS → (build, supported VM configuration versions, default version); reference §11.3.
OPERATING_SYSTEMS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "Windows Server 2012 R2": ("6.3.9600", ("5.0",), "5.0"),
    "Windows Server 2016": ("10.0.14393", ("5.0", "6.2", "7.0", "7.1", "8.0"), "8.0"),
    "Windows Server 2019": (
        "10.0.17763",
        ("5.0", "6.2", "7.0", "7.1", "8.0", "8.1", "8.2", "8.3", "9.0"),
        "9.0",
    ),
    "Windows Server 2022": (
        "10.0.20348",
        ("8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0"),
        "10.0",
    ),
    "Windows Server 2025": (
        "10.0.26100",
        ("8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0", "11.0", "12.0"),
        "12.0",
    ),
}

# Processor features, by bit of the simulated ProcessorFeatures compatibility vector (§7).
PROCESSOR_FEATURES: tuple[str, ...] = (
    "sse3", "ssse3", "sse4_1", "sse4_2", "popcnt", "aes", "pclmulqdq", "avx", "f16c",
    "rdrand", "fma", "avx2", "bmi1", "bmi2", "movbe", "adx", "rdseed", "sha", "clflushopt",
    "clwb", "xsaveopt", "xsavec", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl",
    "avx512vnni", "avx512_bf16", "vaes", "vpclmulqdq", "gfni", "amx_tile", "sse4a", "xop",
    "fma4", "tbm",
)
# The baseline that processor compatibility mode (LimitProcessorFeatures) still exposes.
COMPATIBILITY_BASELINE: tuple[str, ...] = ("sse3", "ssse3", "sse4_1", "sse4_2", "popcnt")
XSAVE_FEATURES: tuple[str, ...] = ("x87", "sse", "avx", "bndregs", "bndcsr", "opmask",
                                   "zmm_hi256", "hi16_zmm", "pkru", "amx")
VENDORS = ("GenuineIntel", "AuthenticAMD")

VM_STATES: dict[str, int] = {"running": 2, "off": 3, "saved": 6, "paused": 9}
AUTHENTICATION_TYPES = {"credssp": 0, "kerberos": 1}
PERFORMANCE_OPTIONS = {"tcpip": (False, False), "compression": (True, False), "smb": (False, True)}
ANY_NETWORK_TAG = "Microsoft:UserManagedAllNetworks"
USER_NETWORK_TAG = "Microsoft:UserManaged"


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the offending entry."""


@dataclass(frozen=True)
class NetworkSpec:
    subnet: str
    prefix_length: int
    metric: int
    tags: tuple[str, ...]
    instance_id: str | None = None  # "Microsoft:<GUID>"; None: drawn from the seed


@dataclass(frozen=True)
class HostSpec:
    name: str
    os_name: str
    os_build: str
    supported_versions: tuple[str, ...]
    default_version: str
    memory_mb: int
    logical_processors: int
    numa_nodes: int
    processor_vendor: str
    processor_model: str
    processor_features: int
    processor_xsave: int
    cache_line_flush_size: int
    ip_addresses: tuple[str, ...]
    virtual_switches: tuple[str, ...]
    default_vhd_path: str
    default_external_data_root: str
    reachable: bool
    migration_enabled: bool
    max_active_vm_migrations: int
    max_active_storage_migrations: int
    migration_auth_type: int
    migration_compression: bool
    migration_smb: bool
    migration_bandwidth_mbps: int
    storage_bandwidth_mbps: int
    networks: tuple[NetworkSpec, ...]
    # What a state export adds (None: seeding's defaults): a stopped migration service, and
    # when the host was installed.
    migration_service_started: bool = True
    installed_at: datetime | None = None


@dataclass(frozen=True)
class DiskSpec:
    path: str
    size_gb: int
    controller: str = "scsi"
    # Where the drive sits: controller number and location on it (the next free slot unless
    # the file says), and the controller's GUID (None: the VM's first controller of its kind).
    controller_number: int = 0
    location: int = 0
    controller_guid: str | None = None


@dataclass(frozen=True)
class AdapterSpec:
    switch: str
    name: str = "Network Adapter"
    guid: str | None = None  # None: drawn from the seed, like the MAC address
    mac_address: str | None = None


@dataclass(frozen=True)
class CompatibilitySpec:
    """The processor features a VM captured from the host it last started on (§7)."""

    vendor: str
    features: int
    xsave: int
    cache_line_flush_size: int


@dataclass(frozen=True)
class VMRuntimeSpec:
    """What a VM's life changed and a state export writes down; each None: what a new VM of
    its settings has (the host's compatibility vectors, data roots and install time)."""

    memory_min_mb: int | None = None
    memory_max_mb: int | None = None
    processor_limit: int = 100000
    processor_reservation: int = 0
    processor_weight: int = 100
    automatic_startup_action: int = 3
    automatic_shutdown_action: int = 3
    serial_connections: tuple[str, str] = ("", "")
    # The SCSI controllers added at run time (their GUIDs); None: those its disks name.
    scsi_controllers: tuple[str, ...] | None = None
    config_root: str | None = None
    snapshot_root: str | None = None
    swap_root: str | None = None
    compatibility: CompatibilitySpec | None = None
    created_at: datetime | None = None
    state_changed_at: datetime | None = None
    uptime_ms: int = 0
    running_since: datetime | None = None


@dataclass(frozen=True)
class VMSpec:
    name: str
    guid: str
    host: str
    state: int
    generation: int
    version: str
    memory_mb: int
    processors: int
    dynamic_memory: bool
    limit_processor_features: bool
    dirty_rate_mbps: int
    notes: tuple[str, ...]
    disks: tuple[DiskSpec, ...]
    adapters: tuple[AdapterSpec, ...]
    planned: bool = False
    shutdown_service: bool = True
    runtime: VMRuntimeSpec = field(default_factory=VMRuntimeSpec)


@dataclass(frozen=True)
class Scenario:
    cluster_name: str
    domain: str
    seed: int
    hosts: tuple[HostSpec, ...]
    vms: tuple[VMSpec, ...] = field(default_factory=tuple)
    # [[faults]] tables as written; the core checks them (emulator.core.fault_spec) before
    # anything is seeded. Not part of the world's identity: a database seeded from the same
    # cluster with other rules is the same world.
    faults: tuple[dict[str, Any], ...] = field(default_factory=tuple, repr=False,
                                               compare=False)


def feature_mask(names: list[str] | tuple[str, ...], table: tuple[str, ...], where: str) -> int:
    mask = 0
    for name in names:
        key = str(name).lower()
        if key not in table:
            raise ScenarioError(f"{where}: unknown processor feature {name!r}")
        mask |= 1 << table.index(key)
    return mask
