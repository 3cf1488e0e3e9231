"""Turn a validated scenario into a world plan and have the store seed it.

Every GUID, MAC address and derived value is chosen here, from the scenario's seed, so the
same scenario always yields the same world; storage/seeding.py only writes the plan.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from emulator.setup.scenario import (
    COMPATIBILITY_BASELINE,
    PROCESSOR_FEATURES,
    HostSpec,
    Scenario,
    VMSpec,
    feature_mask,
)
from storage.db import Store
from storage.seeding import AdapterPlan, DiskPlan, HostPlan, NetworkPlan, VMPlan, WorldPlan

BASELINE_MASK = feature_mask(COMPATIBILITY_BASELINE, PROCESSOR_FEATURES, "baseline")
# The XSAVE state every x64 guest may use (x87, SSE) — what compatibility mode leaves.
BASELINE_XSAVE = 0b11
IDE_CONTROLLER_GUID = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


class ScenarioMismatch(RuntimeError):
    """The store holds a world seeded from another scenario."""


def scenario_digest(scenario: Scenario) -> str:
    return hashlib.sha256(repr(scenario).encode()).hexdigest()


def prepare_store(store: Store, scenario: Scenario, now: datetime, *, reset: bool,
                  rng: random.Random | None = None) -> bool:
    """Upgrade the schema and seed the scenario unless the store already holds a world.

    `rng` draws the identities seeding makes (GUIDs, MAC addresses); by default it follows
    the scenario's seed.

    Returns True when this call seeded. Several processes may call this at once on one
    PostgreSQL database; the setup lock makes exactly one of them seed.
    """
    with store.setup_turn():
        store.upgrade_schema()
        with store.unit_of_work() as uow:
            uow.lift_timeouts()
            if reset:
                uow.seeding.wipe()
            else:
                stored = uow.seeding.seeded_world()
                if stored is not None:
                    if stored.scenario_digest != scenario_digest(scenario):
                        raise ScenarioMismatch(
                            f"the database already holds cluster {stored.cluster_name} seeded "
                            "from another scenario; start with --reset to replace it, or use "
                            "another --database")
                    return False
            uow.seeding.seed(world_plan(scenario, now, rng))
            uow.commit()
            return True


def seeding_rng(scenario: Scenario) -> random.Random:
    """What seeding draws identities from by default. A stream of its own: drawn from the
    scenario's seed as such, it would repeat the GUIDs the generated scenario gave its VMs (a
    network setting's InstanceID named a VM's GUID)."""
    return random.Random(f"hvsim-seeding:{scenario.seed}")


def world_plan(scenario: Scenario, now: datetime,
               rng: random.Random | None = None) -> WorldPlan:
    rng = rng or seeding_rng(scenario)
    # Drawn in this order (hosts' networks, then each VM's devices) so that a scenario's GUIDs
    # stay what they were before plans existed.
    hosts = tuple(_host_plan(scenario, spec, ordinal, now, rng)
                  for ordinal, spec in enumerate(scenario.hosts, start=1))
    hosts_by_name = {h.name: h for h in scenario.hosts}
    vms = tuple(_vm_plan(vm, hosts_by_name[vm.host], now, rng) for vm in scenario.vms)
    return WorldPlan(cluster_name=scenario.cluster_name, domain=scenario.domain,
                     seed=scenario.seed, scenario_digest=scenario_digest(scenario),
                     hosts=hosts, vms=vms)


def _host_plan(scenario: Scenario, spec: HostSpec, ordinal: int, now: datetime,
               rng: random.Random) -> HostPlan:
    columns = dict(
        name=spec.name, ordinal=ordinal, fqdn=f"{spec.name.lower()}.{scenario.domain}",
        os_name=spec.os_name, os_build=spec.os_build,
        processor_vendor=spec.processor_vendor, processor_model=spec.processor_model,
        processor_features=spec.processor_features, processor_xsave=spec.processor_xsave,
        cache_line_flush_size=spec.cache_line_flush_size,
        logical_processors=spec.logical_processors, numa_nodes=spec.numa_nodes,
        memory_mb=spec.memory_mb, supported_versions=list(spec.supported_versions),
        default_version=spec.default_version, ip_addresses=list(spec.ip_addresses),
        virtual_switches=list(spec.virtual_switches), default_vhd_path=spec.default_vhd_path,
        default_external_data_root=spec.default_external_data_root,
        reachable=spec.reachable, migration_enabled=spec.migration_enabled,
        max_active_vm_migrations=spec.max_active_vm_migrations,
        max_active_storage_migrations=spec.max_active_storage_migrations,
        migration_auth_type=spec.migration_auth_type,
        migration_compression=spec.migration_compression, migration_smb=spec.migration_smb,
        migration_service_started=spec.migration_service_started,
        migration_bandwidth_mbps=spec.migration_bandwidth_mbps,
        storage_bandwidth_mbps=spec.storage_bandwidth_mbps,
        installed_at=spec.installed_at or now,
    )
    # Identities are drawn even where the scenario gives them, so that giving one leaves the
    # others as they were.
    networks = tuple(NetworkPlan(instance_id=_given(network.instance_id, f"Microsoft:{_guid(rng)}"),
                                 subnet=network.subnet, prefix_length=network.prefix_length,
                                 metric=network.metric, tags=list(network.tags))
                     for network in spec.networks)
    return HostPlan(columns, networks)


def _given(value: str | None, drawn: str) -> str:
    return drawn if value is None else value


def _vm_plan(vm: VMSpec, host_spec: HostSpec, now: datetime, rng: random.Random) -> VMPlan:
    vendor, features, xsave, flush_size = host_compatibility(
        vars(host_spec), vm.limit_processor_features)
    life = vm.runtime
    if life.compatibility is not None:
        compatibility = life.compatibility
        vendor, features, xsave = compatibility.vendor, compatibility.features, compatibility.xsave
        flush_size = compatibility.cache_line_flush_size
    config_root = f"{host_spec.default_external_data_root}"
    running = vm.state == 2 and not vm.planned
    columns = {
        "guid": vm.guid, "planned": vm.planned,
        "element_name": vm.name, "enabled_state": vm.state, "health_state": 5,
        "operational_status": [2], "operating_status": None, "generation": vm.generation,
        "config_version": vm.version, "memory_mb": vm.memory_mb,
        "dynamic_memory": vm.dynamic_memory,
        "memory_min_mb": _given_int(life.memory_min_mb,
                                    512 if vm.dynamic_memory else vm.memory_mb),
        "memory_max_mb": _given_int(life.memory_max_mb,
                                    1048576 if vm.dynamic_memory else vm.memory_mb),
        "processors": vm.processors, "limit_processor_features": vm.limit_processor_features,
        "processor_limit": life.processor_limit,
        "processor_reservation": life.processor_reservation,
        "processor_weight": life.processor_weight,
        "automatic_startup_action": life.automatic_startup_action,
        "automatic_shutdown_action": life.automatic_shutdown_action,
        "serial_connections": list(life.serial_connections),
        "scsi_controllers": None if life.scsi_controllers is None
        else list(life.scsi_controllers),
        "processor_vendor": vendor, "processor_features": features,
        "processor_xsave": xsave, "cache_line_flush_size": flush_size,
        "dirty_rate_mbps": vm.dirty_rate_mbps, "notes": list(vm.notes),
        "config_root": _given(life.config_root, config_root),
        "snapshot_root": _given(life.snapshot_root, config_root),
        "swap_root": _given(life.swap_root, config_root),
        "created_at": life.created_at or now, "state_changed_at": life.state_changed_at or now,
        "uptime_ms": life.uptime_ms if vm.state in (2, 9) else 0,
        "running_since": (life.running_since or now) if running else None,
        "requested_state": 12, "shutdown_service": vm.shutdown_service,
    }
    scsi_guid = _guid(rng)
    disks = [DiskPlan(controller_kind=disk.controller, controller_number=disk.controller_number,
                      controller_guid=IDE_CONTROLLER_GUID if disk.controller == "ide"
                      else _given(disk.controller_guid, scsi_guid),
                      location=disk.location, path=disk.path, size_gb=disk.size_gb)
             for disk in vm.disks]
    adapters = tuple(AdapterPlan(adapter_guid=_given(adapter.guid, _guid(rng)),
                                 element_name=adapter.name, switch_name=adapter.switch,
                                 mac_address=_given(adapter.mac_address,
                                                    "00155D" + f"{rng.getrandbits(24):06X}"))
                     for adapter in vm.adapters)
    return VMPlan(vm.host, columns, tuple(disks), adapters)


def _given_int(value: int | None, default: int) -> int:
    return default if value is None else value


def host_compatibility(host: Mapping[str, Any], limited: bool) -> tuple[str, int, int, int]:
    """(vendor, features, XSAVE features, cache line flush size) a VM captures when it starts
    on the host (`host` holds HostSpec's or the Host row's processor fields); `limited`:
    processor compatibility mode, which leaves only the baseline."""
    features, xsave = int(host["processor_features"]), int(host["processor_xsave"])
    if limited:
        features &= BASELINE_MASK
        xsave &= BASELINE_XSAVE
    return (str(host["processor_vendor"]), features, xsave,
            int(host["cache_line_flush_size"]))
