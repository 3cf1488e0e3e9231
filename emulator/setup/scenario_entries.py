"""One entry of a scenario file at a time: typed key lookups that name the offending key, and
the checks of a host, a VM and a migration network entry."""

from __future__ import annotations

import ipaddress
import random
import re
import uuid
from datetime import datetime
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
    CompatibilitySpec,
    DiskSpec,
    HostSpec,
    NetworkSpec,
    ScenarioError,
    VMRuntimeSpec,
    VMSpec,
    feature_mask,
)

# Drive slots per controller kind: (controllers, locations on each).
CONTROLLER_SLOTS = {"ide": (2, 2), "scsi": (4, 64)}
_MAC_ADDRESS = re.compile(r"[0-9A-Fa-f]{12}")


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


def optional_in(table: dict[str, Any], key: str, low: int, high: int, default: int | None,
                where: str) -> Any:
    """An optional integer between low and high."""
    value = optional(table, key, int, default, where)
    if value is not None and not low <= value <= high:
        raise ScenarioError(f"{where}.{key}: {value} is not between {low} and {high}")
    return value


def optional_guid(table: dict[str, Any], key: str, where: str) -> str | None:
    text = optional(table, key, str, None, where)
    return None if text is None else guid_text(text, f"{where}.{key}")


def guid_text(text: str, where: str) -> str:
    """A GUID as the store keeps it (upper case); `where` names the entry a mistake is in."""
    try:
        return str(uuid.UUID(text)).upper()
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not a GUID") from None


def optional_moment(table: dict[str, Any], key: str, where: str) -> datetime | None:
    """An optional TOML date-time with its UTC offset (e.g. 2026-01-05T10:00:00Z)."""
    value = optional(table, key, datetime, None, where)
    if value is not None and value.tzinfo is None:
        raise ScenarioError(f"{where}.{key}: {value.isoformat()} has no UTC offset "
                            "(write e.g. 2026-01-05T10:00:00Z)")
    return value


def string_list(table: dict[str, Any], key: str, default: list[str], where: str) -> list[str]:
    values = optional(table, key, list, default, where)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ScenarioError(f"{where}.{key}[{index}]: expected str, got {value!r}")
    return list(values)


def parse_network(entry: Any, where: str) -> NetworkSpec:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    reject_unknown(entry, {"subnet", "prefix_length", "metric", "tags", "instance_id"}, where)
    text = require(entry, "subnet", str, where)
    if "prefix_length" in entry:
        # The address exactly as written (a state export keeps what a client stored).
        prefix = require(entry, "prefix_length", int, where)
        try:
            ipaddress.ip_network(f"{text}/{prefix}", strict=False)
        except ValueError as error:
            raise ScenarioError(f"{where}: {text}/{prefix} is not a subnet: {error}") from None
        subnet = text
    else:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as error:
            raise ScenarioError(f"{where}.subnet: {error}") from None
        subnet, prefix = str(network.network_address), network.prefixlen
    metric = optional(entry, "metric", int, 0, where)
    tags = tuple(string_list(entry, "tags", [USER_NETWORK_TAG], where))
    instance_id = optional(entry, "instance_id", str, None, where)
    if instance_id is not None and not instance_id:
        raise ScenarioError(f"{where}.instance_id: must not be empty")
    return NetworkSpec(subnet, prefix, metric, tags, instance_id)


def parse_host(entry: Any, index: int) -> HostSpec:
    where = f"hosts[{index}]"
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    reject_unknown(entry, {
        "name", "os", "os_build", "memory_mb", "logical_processors", "numa_nodes", "processor",
        "ip_addresses", "virtual_switches", "default_vhd_path", "default_external_data_root",
        "reachable", "migration", "supported_versions", "installed_at",
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
        "service_started", "compression", "smb_transport",
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
        migration_compression=optional(migration, "compression", bool, compression, mwhere),
        migration_smb=optional(migration, "smb_transport", bool, smb, mwhere),
        migration_bandwidth_mbps=optional(migration, "bandwidth_mbps", int, 1250, mwhere),
        storage_bandwidth_mbps=optional(migration, "storage_bandwidth_mbps", int, 500, mwhere),
        networks=tuple(networks),
        migration_service_started=optional(migration, "service_started", bool, True, mwhere),
        installed_at=optional_moment(entry, "installed_at", where),
    )


def parse_vm(entry: Any, index: int, hosts: dict[str, HostSpec], rng: random.Random) -> VMSpec:
    where = f"vms[{index}]"
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    reject_unknown(entry, {
        "name", "guid", "host", "state", "generation", "version", "memory_mb", "processors",
        "dynamic_memory", "limit_processor_features", "dirty_rate_mbps", "notes", "disks",
        "network_adapters", "planned", "shutdown_service", *RUNTIME_KEYS,
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
        notes=tuple(string_list(entry, "notes", [], where)),
        disks=parse_disks(entry, generation, where),
        adapters=tuple(parse_adapter(nic, f"{where}.network_adapters[{i}]") for i, nic in
                       enumerate(optional(entry, "network_adapters", list, [], where))),
        planned=planned,
        shutdown_service=optional(entry, "shutdown_service", bool, True, where),
        runtime=parse_runtime(entry, where),
    )


def parse_disks(entry: dict[str, Any], generation: int, where: str) -> tuple[DiskSpec, ...]:
    """The VM's drives, each at its controller and location: where the file puts it, else
    the next free slot of its controller kind (IDE 0:0, 0:1, 1:0, 1:1; SCSI 0:0, 0:1, ...)."""
    tables = optional(entry, "disks", list, [], where)
    parsed: list[tuple[str, dict[str, Any], str]] = []
    taken: set[tuple[str, str | None, int, int]] = set()
    for i, disk in enumerate(tables):
        dwhere = f"{where}.disks[{i}]"
        if not isinstance(disk, dict):
            raise ScenarioError(f"{dwhere}: expected a table")
        reject_unknown(disk, {"path", "size_gb", "controller", "controller_number", "location",
                              "controller_guid"}, dwhere)
        controller = optional(disk, "controller", str, "ide" if generation == 1 else "scsi",
                              dwhere)
        if controller not in ("ide", "scsi") or (controller == "ide" and generation == 2):
            raise ScenarioError(f"{dwhere}.controller: {controller!r} not valid for generation "
                                f"{generation}")
        if ("controller_number" in disk) != ("location" in disk):
            raise ScenarioError(f"{dwhere}: give controller_number and location together")
        parsed.append((dwhere, disk, controller))
        if "location" in disk:
            controllers, locations = CONTROLLER_SLOTS[controller]
            # IDE controllers are the same two on every VM, whatever GUID the file gives.
            guid = None if controller == "ide" else optional_guid(disk, "controller_guid",
                                                                  dwhere)
            slot = (controller, guid,
                    optional_in(disk, "controller_number", 0, controllers - 1, 0, dwhere),
                    optional_in(disk, "location", 0, locations - 1, 0, dwhere))
            if slot in taken:
                raise ScenarioError(f"{dwhere}: another drive is already at {controller} "
                                    f"{slot[2]}:{slot[3]}")
            taken.add(slot)
    disks = []
    for dwhere, disk, controller in parsed:
        guid = optional_guid(disk, "controller_guid", dwhere)
        if "location" in disk:
            number, location = disk["controller_number"], disk["location"]
        else:
            slot_guid = None if controller == "ide" else guid
            number, location = _free_slot(controller, slot_guid, taken, dwhere)
            taken.add((controller, slot_guid, number, location))
        disks.append(DiskSpec(require(disk, "path", str, dwhere),
                              optional(disk, "size_gb", int, 40, dwhere), controller,
                              number, location, guid))
    return tuple(disks)


def _free_slot(controller: str, guid: str | None, taken: set[tuple[str, str | None, int, int]],
               where: str) -> tuple[int, int]:
    controllers, locations = CONTROLLER_SLOTS[controller]
    # SCSI drives without a location share the VM's first controller, as Hyper-V adds them.
    for number in range(controllers if controller == "ide" else 1):
        for location in range(locations):
            if (controller, guid, number, location) not in taken:
                return number, location
    raise ScenarioError(f"{where}: no free {controller} slot left on the VM")


def parse_adapter(nic: Any, where: str) -> AdapterSpec:
    if not isinstance(nic, dict):
        raise ScenarioError(f"{where}: expected a table")
    reject_unknown(nic, {"switch", "name", "guid", "mac_address"}, where)
    mac = optional(nic, "mac_address", str, None, where)
    if mac is not None and not _MAC_ADDRESS.fullmatch(mac):
        raise ScenarioError(f"{where}.mac_address: {mac!r} is not 12 hexadecimal digits")
    return AdapterSpec(require(nic, "switch", str, where),
                       optional(nic, "name", str, "Network Adapter", where),
                       optional_guid(nic, "guid", where), mac.upper() if mac else None)


# What a state export writes beside a VM's settings: what its life changed (see VMRuntimeSpec).
RUNTIME_KEYS = ("memory_min_mb", "memory_max_mb", "processor_limit", "processor_reservation",
                "processor_weight", "automatic_startup_action", "automatic_shutdown_action",
                "serial_connections", "scsi_controllers", "config_root", "snapshot_root",
                "swap_root",
                "compatibility", "created_at", "state_changed_at", "uptime_ms", "running_since")


def _scsi_controllers(entry: dict[str, Any], where: str) -> tuple[str, ...] | None:
    if "scsi_controllers" not in entry:
        return None
    texts = string_list(entry, "scsi_controllers", [], where)
    return tuple(guid_text(text, f"{where}.scsi_controllers[{index}]")
                 for index, text in enumerate(texts))


def parse_runtime(entry: dict[str, Any], where: str) -> VMRuntimeSpec:
    serial = string_list(entry, "serial_connections", ["", ""], where)
    if len(serial) != 2:
        raise ScenarioError(f"{where}.serial_connections: expected 2 pipe names (COM 1 and "
                            f"COM 2, \"\" when none), got {len(serial)}")
    return VMRuntimeSpec(
        memory_min_mb=optional_in(entry, "memory_min_mb", 1, 2**40, None, where),
        memory_max_mb=optional_in(entry, "memory_max_mb", 1, 2**40, None, where),
        processor_limit=optional_in(entry, "processor_limit", 0, 100000, 100000, where),
        processor_reservation=optional_in(entry, "processor_reservation", 0, 100000, 0, where),
        processor_weight=optional_in(entry, "processor_weight", 1, 10000, 100, where),
        automatic_startup_action=optional_in(entry, "automatic_startup_action", 2, 4, 3, where),
        automatic_shutdown_action=optional_in(entry, "automatic_shutdown_action", 2, 4, 3,
                                              where),
        serial_connections=(serial[0], serial[1]),
        scsi_controllers=_scsi_controllers(entry, where),
        config_root=optional(entry, "config_root", str, None, where),
        snapshot_root=optional(entry, "snapshot_root", str, None, where),
        swap_root=optional(entry, "swap_root", str, None, where),
        compatibility=_compatibility(entry, where),
        created_at=optional_moment(entry, "created_at", where),
        state_changed_at=optional_moment(entry, "state_changed_at", where),
        uptime_ms=optional_in(entry, "uptime_ms", 0, 2**62, 0, where),
        running_since=optional_moment(entry, "running_since", where),
    )


def _compatibility(entry: dict[str, Any], where: str) -> CompatibilitySpec | None:
    table = optional(entry, "compatibility", dict, None, where)
    if table is None:
        return None
    cwhere = f"{where}.compatibility"
    reject_unknown(table, {"vendor", "features", "xsave", "cache_line_flush_size"}, cwhere)
    vendor = require(table, "vendor", str, cwhere)
    if vendor not in VENDORS:
        raise ScenarioError(f"{cwhere}.vendor: {vendor!r} is not one of {VENDORS}")
    return CompatibilitySpec(
        vendor,
        feature_mask(string_list(table, "features", [], cwhere), PROCESSOR_FEATURES, cwhere),
        feature_mask(string_list(table, "xsave", [], cwhere), XSAVE_FEATURES,
                     f"{cwhere}.xsave"),
        optional_in(table, "cache_line_flush_size", 0, 4096, 64, cwhere))
