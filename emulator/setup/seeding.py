"""Write a validated scenario into an empty store."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime

from sqlalchemy import delete, func, insert, select

from emulator.setup.scenario import (
    COMPATIBILITY_BASELINE,
    PROCESSOR_FEATURES,
    Scenario,
    feature_mask,
)
from storage import models
from storage.db import (
    Store,
    UnitOfWork,
    bump_world_version,
    setup_lock,
    upgrade_schema,
    without_timeouts,
)

BASELINE_MASK = feature_mask(COMPATIBILITY_BASELINE, PROCESSOR_FEATURES, "baseline")
# The XSAVE state every x64 guest may use (x87, SSE) — what compatibility mode leaves.
BASELINE_XSAVE = 0b11


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


class ScenarioMismatch(RuntimeError):
    """The store holds a world seeded from another scenario."""


def scenario_digest(scenario: Scenario) -> str:
    return hashlib.sha256(repr(scenario).encode()).hexdigest()


def is_seeded(uow: UnitOfWork) -> bool:
    return uow.session.execute(select(func.count()).select_from(models.Cluster)).scalar_one() > 0


def prepare_store(store: Store, scenario: Scenario, now: datetime, *, reset: bool,
                  rng: random.Random | None = None) -> bool:
    """Upgrade the schema and seed the scenario unless the store already holds a world.

    `rng` draws the GUIDs seeding makes; by default it follows the scenario's seed.

    Returns True when this call seeded. Several processes may call this at once on one
    PostgreSQL database; the setup lock makes exactly one of them seed.
    """
    with setup_lock(store.engine):
        upgrade_schema(store.engine)
        with store.unit_of_work() as uow:
            without_timeouts(uow.session)
            if reset:
                wipe(uow)
            elif is_seeded(uow):
                stored = uow.session.scalars(select(models.Cluster)).one()
                if stored.scenario_digest != scenario_digest(scenario):
                    raise ScenarioMismatch(
                        f"the database already holds cluster {stored.name} seeded from another "
                        "scenario; start with --reset to replace it, or use another --database")
                return False
            seed(uow, scenario, now, rng)
            uow.commit()
            return True


def wipe(uow: UnitOfWork) -> None:
    for table in reversed(models.Base.metadata.sorted_tables):
        if table is not models.WorldVersion.__table__:
            uow.session.execute(delete(table))


def seed(uow: UnitOfWork, scenario: Scenario, now: datetime,
         rng: random.Random | None = None) -> None:
    rng = rng or random.Random(scenario.seed)
    session = uow.session
    # Bulk inserts below bypass the ORM flush hook, so the version is bumped explicitly.
    bump_world_version(session)
    session.add(models.Cluster(name=scenario.cluster_name, domain=scenario.domain,
                               seed=scenario.seed, scenario_digest=scenario_digest(scenario)))
    host_ids: dict[str, int] = {}
    hosts_by_name = {h.name: h for h in scenario.hosts}
    for ordinal, spec in enumerate(scenario.hosts, start=1):
        host = models.Host(
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
            migration_service_started=True,
            migration_bandwidth_mbps=spec.migration_bandwidth_mbps,
            storage_bandwidth_mbps=spec.storage_bandwidth_mbps, installed_at=now,
        )
        for network in spec.networks:
            host.networks.append(models.MigrationNetwork(
                instance_id=f"Microsoft:{_guid(rng)}", subnet=network.subnet,
                prefix_length=network.prefix_length, metric=network.metric,
                tags=list(network.tags)))
        session.add(host)
        session.flush()
        host_ids[spec.name] = host.id

    # Bulk inserts: a generated cluster may hold tens of thousands of VMs.
    vm_rows = []
    for vm in scenario.vms:
        host_spec = hosts_by_name[vm.host]
        features, xsave = host_spec.processor_features, host_spec.processor_xsave
        if vm.limit_processor_features:
            features &= BASELINE_MASK
            xsave &= BASELINE_XSAVE
        config_root = f"{host_spec.default_external_data_root}"
        vm_rows.append({
            "guid": vm.guid, "host_id": host_ids[vm.host], "planned": vm.planned,
            "element_name": vm.name, "enabled_state": vm.state, "health_state": 5,
            "operational_status": [2], "operating_status": None, "generation": vm.generation,
            "config_version": vm.version, "memory_mb": vm.memory_mb,
            "dynamic_memory": vm.dynamic_memory,
            "memory_min_mb": 512 if vm.dynamic_memory else vm.memory_mb,
            "memory_max_mb": 1048576 if vm.dynamic_memory else vm.memory_mb,
            "processors": vm.processors, "limit_processor_features": vm.limit_processor_features,
            "processor_vendor": host_spec.processor_vendor, "processor_features": features,
            "processor_xsave": xsave, "cache_line_flush_size": host_spec.cache_line_flush_size,
            "dirty_rate_mbps": vm.dirty_rate_mbps, "notes": list(vm.notes),
            "config_root": config_root, "snapshot_root": config_root, "swap_root": config_root,
            "created_at": now, "state_changed_at": now, "version_id": 1,
        })
    if vm_rows:
        session.execute(insert(models.VirtualMachine), vm_rows)
    # Ids come from the database (never reused, even after a reset), so look them up.
    vm_ids = {(host_id, guid): vm_id for vm_id, host_id, guid in session.execute(
        select(models.VirtualMachine.id, models.VirtualMachine.host_id,
               models.VirtualMachine.guid))}
    disk_rows, nic_rows = [], []
    for vm in scenario.vms:
        vm_id = vm_ids[(host_ids[vm.host], vm.guid)]
        scsi_guid = _guid(rng)
        slots: dict[str, int] = {"ide": 0, "scsi": 0}
        for disk in vm.disks:
            index = slots[disk.controller]
            slots[disk.controller] += 1
            if disk.controller == "ide":
                number, location = divmod(index, 2)
                controller_guid = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"
            else:
                number, location, controller_guid = 0, index, scsi_guid
            disk_rows.append({
                "vm_id": vm_id, "controller_kind": disk.controller, "controller_number": number,
                "controller_guid": controller_guid, "location": location, "path": disk.path,
                "size_gb": disk.size_gb, "version_id": 1,
            })
        for adapter in vm.adapters:
            nic_rows.append({
                "vm_id": vm_id, "adapter_guid": _guid(rng), "element_name": adapter.name,
                "switch_name": adapter.switch,
                "mac_address": "00155D" + f"{rng.getrandbits(24):06X}", "version_id": 1,
            })
    if disk_rows:
        session.execute(insert(models.VirtualDisk), disk_rows)
    if nic_rows:
        session.execute(insert(models.NetworkAdapter), nic_rows)
