"""Declarative description of an emulated Hyper-V cluster (TOML), the demo cluster and generator.

A scenario is validated completely before anything is written to the store, so a bad file is
reported with the offending key and nothing half-seeded is left behind.
"""

from __future__ import annotations

import ipaddress
import random
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass(frozen=True)
class DiskSpec:
    path: str
    size_gb: int
    controller: str = "scsi"


@dataclass(frozen=True)
class AdapterSpec:
    switch: str
    name: str = "Network Adapter"


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


@dataclass(frozen=True)
class Scenario:
    cluster_name: str
    domain: str
    seed: int
    hosts: tuple[HostSpec, ...]
    vms: tuple[VMSpec, ...] = field(default_factory=tuple)


def feature_mask(names: list[str] | tuple[str, ...], table: tuple[str, ...], where: str) -> int:
    mask = 0
    for name in names:
        key = str(name).lower()
        if key not in table:
            raise ScenarioError(f"{where}: unknown processor feature {name!r}")
        mask |= 1 << table.index(key)
    return mask


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ScenarioError(f"{where}: missing required key {key!r}")
    value = table[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ScenarioError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _optional(table: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    if key not in table:
        return default
    return _require(table, key, kind, where)


def _reject_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _parse_network(entry: Any, where: str) -> NetworkSpec:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    _reject_unknown(entry, {"subnet", "metric", "tags"}, where)
    text = _require(entry, "subnet", str, where)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as error:
        raise ScenarioError(f"{where}.subnet: {error}") from None
    metric = _optional(entry, "metric", int, 0, where)
    tags = tuple(_optional(entry, "tags", list, [USER_NETWORK_TAG], where))
    return NetworkSpec(str(network.network_address), network.prefixlen, metric, tags)


def _parse_host(entry: Any, index: int) -> HostSpec:
    where = f"hosts[{index}]"
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    _reject_unknown(entry, {
        "name", "os", "os_build", "memory_mb", "logical_processors", "numa_nodes", "processor",
        "ip_addresses", "virtual_switches", "default_vhd_path", "default_external_data_root",
        "reachable", "migration", "supported_versions",
    }, where)
    name = _require(entry, "name", str, where)
    if not name or len(name) > 15 or not all(c.isalnum() or c == "-" for c in name):
        raise ScenarioError(f"{where}.name: {name!r} is not a NetBIOS host name (1-15 of A-Z0-9-)")
    os_name = _optional(entry, "os", str, "Windows Server 2022", where)
    if os_name not in OPERATING_SYSTEMS:
        raise ScenarioError(
            f"{where}.os: {os_name!r} is not one of {', '.join(OPERATING_SYSTEMS)}"
        )
    build, versions, default_version = OPERATING_SYSTEMS[os_name]
    versions = tuple(_optional(entry, "supported_versions", list, list(versions), where))
    processor = _optional(entry, "processor", dict, {}, where)
    _reject_unknown(processor, {"vendor", "model", "features", "xsave", "cache_line_flush_size"},
                    f"{where}.processor")
    vendor = _optional(processor, "vendor", str, "GenuineIntel", f"{where}.processor")
    if vendor not in VENDORS:
        raise ScenarioError(f"{where}.processor.vendor: {vendor!r} is not one of {VENDORS}")
    default_features = list(PROCESSOR_FEATURES[:22]) if vendor == "GenuineIntel" else [
        *PROCESSOR_FEATURES[:21], "sse4a"]
    features = _optional(processor, "features", list, default_features, f"{where}.processor")
    xsave = _optional(processor, "xsave", list, list(XSAVE_FEATURES[:3]), f"{where}.processor")
    migration = _optional(entry, "migration", dict, {}, where)
    _reject_unknown(migration, {
        "enabled", "max_active_virtual_system", "max_active_storage", "authentication",
        "performance", "use_any_network", "networks", "bandwidth_mbps", "storage_bandwidth_mbps",
    }, f"{where}.migration")
    mwhere = f"{where}.migration"
    auth = _optional(migration, "authentication", str, "CredSSP", mwhere).lower()
    if auth not in AUTHENTICATION_TYPES:
        raise ScenarioError(f"{mwhere}.authentication: {auth!r} is not CredSSP or Kerberos")
    performance = _optional(migration, "performance", str, "Compression", mwhere).lower()
    if performance not in PERFORMANCE_OPTIONS:
        raise ScenarioError(f"{mwhere}.performance: {performance!r} is not TCPIP, "
                            "Compression or SMB")
    networks = [_parse_network(n, f"{mwhere}.networks[{i}]")
                for i, n in enumerate(_optional(migration, "networks", list, [], mwhere))]
    if _optional(migration, "use_any_network", bool, not networks, mwhere):
        networks += [NetworkSpec("0.0.0.0", 0, 0, (ANY_NETWORK_TAG,)),
                     NetworkSpec("::0", 0, 0, (ANY_NETWORK_TAG,))]
    addresses = tuple(_optional(entry, "ip_addresses", list, [], where))
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ScenarioError(f"{where}.ip_addresses: {address!r} is not an IP address") \
                from None
    compression, smb = PERFORMANCE_OPTIONS[performance]
    return HostSpec(
        name=name.upper(), os_name=os_name,
        os_build=_optional(entry, "os_build", str, build, where),
        supported_versions=versions, default_version=default_version,
        memory_mb=_optional(entry, "memory_mb", int, 262144, where),
        logical_processors=_optional(entry, "logical_processors", int, 32, where),
        numa_nodes=_optional(entry, "numa_nodes", int, 2, where),
        processor_vendor=vendor,
        processor_model=_optional(processor, "model", str, "Intel(R) Xeon(R) Gold 6338 CPU @ "
                                  "2.00GHz" if vendor == "GenuineIntel" else "AMD EPYC 7543 "
                                  "32-Core Processor", f"{where}.processor"),
        processor_features=feature_mask(features, PROCESSOR_FEATURES, f"{where}.processor"),
        processor_xsave=feature_mask(xsave, XSAVE_FEATURES, f"{where}.processor.xsave"),
        cache_line_flush_size=_optional(processor, "cache_line_flush_size", int, 64,
                                        f"{where}.processor"),
        ip_addresses=addresses, virtual_switches=tuple(
            _optional(entry, "virtual_switches", list, ["External"], where)),
        default_vhd_path=_optional(entry, "default_vhd_path", str,
                                   "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks",
                                   where),
        default_external_data_root=_optional(entry, "default_external_data_root", str,
                                             "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
                                             where),
        reachable=_optional(entry, "reachable", bool, True, where),
        migration_enabled=_optional(migration, "enabled", bool, True, mwhere),
        max_active_vm_migrations=_optional(migration, "max_active_virtual_system", int, 2, mwhere),
        max_active_storage_migrations=_optional(migration, "max_active_storage", int, 2, mwhere),
        migration_auth_type=AUTHENTICATION_TYPES[auth],
        migration_compression=compression, migration_smb=smb,
        migration_bandwidth_mbps=_optional(migration, "bandwidth_mbps", int, 1250, mwhere),
        storage_bandwidth_mbps=_optional(migration, "storage_bandwidth_mbps", int, 500, mwhere),
        networks=tuple(networks),
    )


def _parse_vm(entry: Any, index: int, hosts: dict[str, HostSpec], rng: random.Random) -> VMSpec:
    where = f"vms[{index}]"
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    _reject_unknown(entry, {
        "name", "guid", "host", "state", "generation", "version", "memory_mb", "processors",
        "dynamic_memory", "limit_processor_features", "dirty_rate_mbps", "notes", "disks",
        "network_adapters", "planned", "shutdown_service",
    }, where)
    name = _require(entry, "name", str, where)
    if not 1 <= len(name) <= 100:
        raise ScenarioError(f"{where}.name: must be 1-100 characters")
    host_name = _require(entry, "host", str, where).upper()
    if host_name not in hosts:
        raise ScenarioError(f"{where}.host: no host named {host_name!r}")
    host = hosts[host_name]
    guid_text = _optional(entry, "guid", str, None, where)
    try:
        guid = str(uuid.UUID(guid_text)) if guid_text else str(
            uuid.UUID(int=rng.getrandbits(128), version=4))
    except ValueError:
        raise ScenarioError(f"{where}.guid: {guid_text!r} is not a GUID") from None
    state_name = _optional(entry, "state", str, "off", where).lower()
    if state_name not in VM_STATES:
        raise ScenarioError(f"{where}.state: {state_name!r} is not one of {', '.join(VM_STATES)}")
    generation = _optional(entry, "generation", int, 2, where)
    if generation not in (1, 2):
        raise ScenarioError(f"{where}.generation: must be 1 or 2")
    version = _optional(entry, "version", str, host.default_version, where)
    planned = _optional(entry, "planned", bool, False, where)
    if planned and state_name not in ("off", "saved"):
        raise ScenarioError(f"{where}.state: a planned VM is off or saved")
    disks = []
    for i, disk in enumerate(_optional(entry, "disks", list, [], where)):
        dwhere = f"{where}.disks[{i}]"
        if not isinstance(disk, dict):
            raise ScenarioError(f"{dwhere}: expected a table")
        _reject_unknown(disk, {"path", "size_gb", "controller"}, dwhere)
        controller = _optional(disk, "controller", str, "ide" if generation == 1 else "scsi",
                               dwhere)
        if controller not in ("ide", "scsi") or (controller == "ide" and generation == 2):
            raise ScenarioError(f"{dwhere}.controller: {controller!r} not valid for generation "
                                f"{generation}")
        disks.append(DiskSpec(_require(disk, "path", str, dwhere),
                              _optional(disk, "size_gb", int, 40, dwhere), controller))
    adapters = []
    for i, nic in enumerate(_optional(entry, "network_adapters", list, [], where)):
        nwhere = f"{where}.network_adapters[{i}]"
        if not isinstance(nic, dict):
            raise ScenarioError(f"{nwhere}: expected a table")
        _reject_unknown(nic, {"switch", "name"}, nwhere)
        adapters.append(AdapterSpec(_require(nic, "switch", str, nwhere),
                                    _optional(nic, "name", str, "Network Adapter", nwhere)))
    memory_mb = _optional(entry, "memory_mb", int, 4096, where)
    if memory_mb <= 0:
        raise ScenarioError(f"{where}.memory_mb: must be positive")
    return VMSpec(
        name=name, guid=guid.upper(), host=host_name, state=VM_STATES[state_name],
        generation=generation, version=version, memory_mb=memory_mb,
        processors=_optional(entry, "processors", int, 2, where),
        dynamic_memory=_optional(entry, "dynamic_memory", bool, False, where),
        limit_processor_features=_optional(entry, "limit_processor_features", bool, False, where),
        dirty_rate_mbps=_optional(entry, "dirty_rate_mbps", int, 30, where),
        notes=tuple(_optional(entry, "notes", list, [], where)),
        disks=tuple(disks), adapters=tuple(adapters), planned=planned,
        shutdown_service=_optional(entry, "shutdown_service", bool, True, where),
    )


def parse_scenario(data: dict[str, Any]) -> Scenario:
    _reject_unknown(data, {"cluster", "hosts", "vms"}, "scenario")
    cluster = _optional(data, "cluster", dict, {}, "scenario")
    _reject_unknown(cluster, {"name", "domain", "seed"}, "cluster")
    seed = _optional(cluster, "seed", int, 1, "cluster")
    host_entries = _require(data, "hosts", list, "scenario")
    if not host_entries:
        raise ScenarioError("scenario: at least one host is required")
    hosts = [_parse_host(entry, i) for i, entry in enumerate(host_entries)]
    by_name: dict[str, HostSpec] = {}
    for host in hosts:
        if host.name in by_name:
            raise ScenarioError(f"hosts: duplicate host name {host.name!r}")
        by_name[host.name] = host
    rng = random.Random(seed)
    vms = [_parse_vm(entry, i, by_name, rng)
           for i, entry in enumerate(_optional(data, "vms", list, [], "scenario"))]
    seen: set[tuple[str, str]] = set()
    for vm in vms:
        if (vm.host, vm.guid) in seen:
            raise ScenarioError(f"vms: GUID {vm.guid} appears twice on host {vm.host}")
        seen.add((vm.host, vm.guid))
    return Scenario(
        cluster_name=_optional(cluster, "name", str, "HVCLUSTER", "cluster").upper(),
        domain=_optional(cluster, "domain", str, "hvsim.test", "cluster"),
        seed=seed, hosts=tuple(hosts), vms=tuple(vms),
    )


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: {error}") from None
    return parse_scenario(data)


DEMO_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "demo.toml"


def demo_scenario() -> Scenario:
    return load_scenario(DEMO_SCENARIO)


def generated_scenario(hosts: int, vms_per_host: int, seed: int) -> Scenario:
    """A deterministic cluster of `hosts` hosts with `vms_per_host` VMs each (vcsim-style names)."""
    if not 1 <= hosts <= 999:
        raise ScenarioError("--hosts must be between 1 and 999")
    if not 0 <= vms_per_host <= 100_000:
        raise ScenarioError("--vms-per-host must be between 0 and 100000")
    rng = random.Random(seed)
    states = list(VM_STATES)
    host_tables: list[dict[str, Any]] = []
    vm_tables: list[dict[str, Any]] = []
    for h in range(1, hosts + 1):
        name = f"HV-{h:02d}" if hosts < 100 else f"HV-{h:03d}"
        host_tables.append({
            "name": name,
            "ip_addresses": [f"10.0.{h // 250}.{h % 250 + 1}", f"fe80::{h:x}:1"],
            "virtual_switches": ["External"],
            "migration": {"networks": [{"subnet": "10.0.0.0/16", "metric": 1}]},
        })
        for v in range(1, vms_per_host + 1):
            vm_name = f"{name}-VM{v:04d}"
            vm_tables.append({
                "name": vm_name, "host": name,
                "guid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "state": states[rng.randrange(len(states))],
                "memory_mb": rng.choice((1024, 2048, 4096, 8192)),
                "processors": rng.choice((1, 2, 4)),
                "dirty_rate_mbps": rng.randrange(5, 200),
                "disks": [{"path": f"C:\\ClusterStorage\\Volume1\\{vm_name}\\{vm_name}.vhdx",
                           "size_gb": rng.choice((40, 60, 127))}],
                "network_adapters": [{"switch": "External"}],
            })
    return parse_scenario({"cluster": {"name": "HVSIMGEN", "seed": seed},
                           "hosts": host_tables, "vms": vm_tables})
