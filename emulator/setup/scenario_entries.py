"""One entry of a scenario file at a time: typed key lookups that name the offending key, and
the checks of a host, a VM and a migration network entry."""

from __future__ import annotations

import ipaddress
import random
import uuid
from typing import Any

from emulator.setup.scenario_spec import (
    ANY_NETWORK_TAG,
    AUTHENTICATION_TYPES,
    OPERATING_SYSTEMS,
    PERFORMANCE_OPTIONS,
    PROCESSOR_FEATURES,
    USER_NETWORK_TAG,
    VENDORS,
    VM_STATES,
    XSAVE_FEATURES,
    AdapterSpec,
    DiskSpec,
    HostSpec,
    NetworkSpec,
    ScenarioError,
    VMSpec,
    feature_mask,
)


def require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ScenarioError(f"{where}: missing required key {key!r}")
    value = table[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ScenarioError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def optional(table: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    if key not in table:
        return default
    return require(table, key, kind, where)


def reject_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}")


def parse_network(entry: Any, where: str) -> NetworkSpec:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    reject_unknown(entry, {"subnet", "metric", "tags"}, where)
    text = require(entry, "subnet", str, where)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as error:
        raise ScenarioError(f"{where}.subnet: {error}") from None
    metric = optional(entry, "metric", int, 0, where)
    tags = tuple(optional(entry, "tags", list, [USER_NETWORK_TAG], where))
    return NetworkSpec(str(network.network_address), network.prefixlen, metric, tags)


def parse_host(entry: Any, index: int) -> HostSpec:
    where = f"hosts[{index}]"
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    reject_unknown(entry, {
        "name", "os", "os_build", "memory_mb", "logical_processors", "numa_nodes", "processor",
        "ip_addresses", "virtual_switches", "default_vhd_path", "default_external_data_root",
        "reachable", "migration", "supported_versions",
    }, where)
    name = require(entry, "name", str, where)
    if not name or len(name) > 15 or not all(c.isalnum() or c == "-" for c in name):
        raise ScenarioError(f"{where}.name: {name!r} is not a NetBIOS host name (1-15 of A-Z0-9-)")
    os_name = optional(entry, "os", str, "Windows Server 2022", where)
    if os_name not in OPERATING_SYSTEMS:
        raise ScenarioError(
            f"{where}.os: {os_name!r} is not one of {', '.join(OPERATING_SYSTEMS)}"
        )
    build, versions, default_version = OPERATING_SYSTEMS[os_name]
    versions = tuple(optional(entry, "supported_versions", list, list(versions), where))
    processor = optional(entry, "processor", dict, {}, where)
    reject_unknown(processor, {"vendor", "model", "features", "xsave", "cache_line_flush_size"},
                   f"{where}.processor")
    vendor = optional(processor, "vendor", str, "GenuineIntel", f"{where}.processor")
    if vendor not in VENDORS:
        raise ScenarioError(f"{where}.processor.vendor: {vendor!r} is not one of {VENDORS}")
    default_features = list(PROCESSOR_FEATURES[:22]) if vendor == "GenuineIntel" else [
        *PROCESSOR_FEATURES[:21], "sse4a"]
    features = optional(processor, "features", list, default_features, f"{where}.processor")
    xsave = optional(processor, "xsave", list, list(XSAVE_FEATURES[:3]), f"{where}.processor")
    migration = optional(entry, "migration", dict, {}, where)
    reject_unknown(migration, {
        "enabled", "max_active_virtual_system", "max_active_storage", "authentication",
        "performance", "use_any_network", "networks", "bandwidth_mbps", "storage_bandwidth_mbps",
    }, f"{where}.migration")
    mwhere = f"{where}.migration"
    auth = optional(migration, "authentication", str, "CredSSP", mwhere).lower()
    if auth not in AUTHENTICATION_TYPES:
        raise ScenarioError(f"{mwhere}.authentication: {auth!r} is not CredSSP or Kerberos")
    performance = optional(migration, "performance", str, "Compression", mwhere).lower()
    if performance not in PERFORMANCE_OPTIONS:
        raise ScenarioError(f"{mwhere}.performance: {performance!r} is not TCPIP, "
                            "Compression or SMB")
    networks = [parse_network(n, f"{mwhere}.networks[{i}]")
                for i, n in enumerate(optional(migration, "networks", list, [], mwhere))]
    if optional(migration, "use_any_network", bool, not networks, mwhere):
        networks += [NetworkSpec("0.0.0.0", 0, 0, (ANY_NETWORK_TAG,)),
                     NetworkSpec("::0", 0, 0, (ANY_NETWORK_TAG,))]
    addresses = tuple(optional(entry, "ip_addresses", list, [], where))
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ScenarioError(f"{where}.ip_addresses: {address!r} is not an IP address") \
                from None
    compression, smb = PERFORMANCE_OPTIONS[performance]
    return HostSpec(
        name=name.upper(), os_name=os_name,
        os_build=optional(entry, "os_build", str, build, where),
        supported_versions=versions, default_version=default_version,
        memory_mb=optional(entry, "memory_mb", int, 262144, where),
        logical_processors=optional(entry, "logical_processors", int, 32, where),
        numa_nodes=optional(entry, "numa_nodes", int, 2, where),
        processor_vendor=vendor,
        processor_model=optional(processor, "model", str, "Intel(R) Xeon(R) Gold 6338 CPU @ "
                                 "2.00GHz" if vendor == "GenuineIntel" else "AMD EPYC 7543 "
                                 "32-Core Processor", f"{where}.processor"),
        processor_features=feature_mask(features, PROCESSOR_FEATURES, f"{where}.processor"),
        processor_xsave=feature_mask(xsave, XSAVE_FEATURES, f"{where}.processor.xsave"),
        cache_line_flush_size=optional(processor, "cache_line_flush_size", int, 64,
                                       f"{where}.processor"),
        ip_addresses=addresses, virtual_switches=tuple(
            optional(entry, "virtual_switches", list, ["External"], where)),
        default_vhd_path=optional(entry, "default_vhd_path", str,
                                  "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks",
                                  where),
        default_external_data_root=optional(entry, "default_external_data_root", str,
                                            "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
                                            where),
        reachable=optional(entry, "reachable", bool, True, where),
        migration_enabled=optional(migration, "enabled", bool, True, mwhere),
        max_active_vm_migrations=optional(migration, "max_active_virtual_system", int, 2, mwhere),
        max_active_storage_migrations=optional(migration, "max_active_storage", int, 2, mwhere),
        migration_auth_type=AUTHENTICATION_TYPES[auth],
        migration_compression=compression, migration_smb=smb,
        migration_bandwidth_mbps=optional(migration, "bandwidth_mbps", int, 1250, mwhere),
        storage_bandwidth_mbps=optional(migration, "storage_bandwidth_mbps", int, 500, mwhere),
        networks=tuple(networks),
    )


def parse_vm(entry: Any, index: int, hosts: dict[str, HostSpec], rng: random.Random) -> VMSpec:
    where = f"vms[{index}]"
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    reject_unknown(entry, {
        "name", "guid", "host", "state", "generation", "version", "memory_mb", "processors",
        "dynamic_memory", "limit_processor_features", "dirty_rate_mbps", "notes", "disks",
        "network_adapters", "planned", "shutdown_service",
    }, where)
    name = require(entry, "name", str, where)
    if not 1 <= len(name) <= 100:
        raise ScenarioError(f"{where}.name: must be 1-100 characters")
    host_name = require(entry, "host", str, where).upper()
    if host_name not in hosts:
        raise ScenarioError(f"{where}.host: no host named {host_name!r}")
    host = hosts[host_name]
    guid_text = optional(entry, "guid", str, None, where)
    try:
        guid = str(uuid.UUID(guid_text)) if guid_text else str(
            uuid.UUID(int=rng.getrandbits(128), version=4))
    except ValueError:
        raise ScenarioError(f"{where}.guid: {guid_text!r} is not a GUID") from None
    state_name = optional(entry, "state", str, "off", where).lower()
    if state_name not in VM_STATES:
        raise ScenarioError(f"{where}.state: {state_name!r} is not one of {', '.join(VM_STATES)}")
    generation = optional(entry, "generation", int, 2, where)
    if generation not in (1, 2):
        raise ScenarioError(f"{where}.generation: must be 1 or 2")
    version = optional(entry, "version", str, host.default_version, where)
    planned = optional(entry, "planned", bool, False, where)
    if planned and state_name not in ("off", "saved"):
        raise ScenarioError(f"{where}.state: a planned VM is off or saved")
    disks = []
    for i, disk in enumerate(optional(entry, "disks", list, [], where)):
        dwhere = f"{where}.disks[{i}]"
        if not isinstance(disk, dict):
            raise ScenarioError(f"{dwhere}: expected a table")
        reject_unknown(disk, {"path", "size_gb", "controller"}, dwhere)
        controller = optional(disk, "controller", str, "ide" if generation == 1 else "scsi",
                              dwhere)
        if controller not in ("ide", "scsi") or (controller == "ide" and generation == 2):
            raise ScenarioError(f"{dwhere}.controller: {controller!r} not valid for generation "
                                f"{generation}")
        disks.append(DiskSpec(require(disk, "path", str, dwhere),
                              optional(disk, "size_gb", int, 40, dwhere), controller))
    adapters = []
    for i, nic in enumerate(optional(entry, "network_adapters", list, [], where)):
        nwhere = f"{where}.network_adapters[{i}]"
        if not isinstance(nic, dict):
            raise ScenarioError(f"{nwhere}: expected a table")
        reject_unknown(nic, {"switch", "name"}, nwhere)
        adapters.append(AdapterSpec(require(nic, "switch", str, nwhere),
                                    optional(nic, "name", str, "Network Adapter", nwhere)))
    memory_mb = optional(entry, "memory_mb", int, 4096, where)
    if memory_mb <= 0:
        raise ScenarioError(f"{where}.memory_mb: must be positive")
    return VMSpec(
        name=name, guid=guid.upper(), host=host_name, state=VM_STATES[state_name],
        generation=generation, version=version, memory_mb=memory_mb,
        processors=optional(entry, "processors", int, 2, where),
        dynamic_memory=optional(entry, "dynamic_memory", bool, False, where),
        limit_processor_features=optional(entry, "limit_processor_features", bool, False, where),
        dirty_rate_mbps=optional(entry, "dirty_rate_mbps", int, 30, where),
        notes=tuple(optional(entry, "notes", list, [], where)),
        disks=tuple(disks), adapters=tuple(adapters), planned=planned,
        shutdown_service=optional(entry, "shutdown_service", bool, True, where),
    )
