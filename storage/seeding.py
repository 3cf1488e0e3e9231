"""Writing a world plan into an empty store, and wiping it.

emulator/setup turns a scenario into a `WorldPlan` (every GUID and value already chosen);
this module only writes it. VMs and their devices go in as bulk inserts: a generated cluster
may hold tens of thousands of VMs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from storage import models
from storage.world_version import bump_world_version


@dataclass(frozen=True)
class NetworkPlan:
    instance_id: str
    subnet: str
    prefix_length: int
    metric: int
    tags: list[str]


@dataclass(frozen=True)
class HostPlan:
    columns: Mapping[str, Any]  # every column of models.Host but id and version_id
    networks: tuple[NetworkPlan, ...]

    @property
    def name(self) -> str:
        return str(self.columns["name"])


@dataclass(frozen=True)
class DiskPlan:
    controller_kind: str
    controller_number: int
    controller_guid: str
    location: int
    path: str
    size_gb: int


@dataclass(frozen=True)
class AdapterPlan:
    adapter_guid: str
    element_name: str
    switch_name: str
    mac_address: str


@dataclass(frozen=True)
class VMPlan:
    host: str  # the host's name
    columns: Mapping[str, Any]  # every column of models.VirtualMachine but id, host_id, version
    disks: tuple[DiskPlan, ...]
    adapters: tuple[AdapterPlan, ...]


@dataclass(frozen=True)
class WorldPlan:
    cluster_name: str
    domain: str
    seed: int
    scenario_digest: str
    hosts: tuple[HostPlan, ...]
    vms: tuple[VMPlan, ...]


@dataclass(frozen=True)
class SeededWorld:
    """What a seeded store says about where its world came from."""

    cluster_name: str
    scenario_digest: str


class SqlWorldSeeding:
    def __init__(self, session: Session) -> None:
        self._session = session

    def seeded_world(self) -> SeededWorld | None:
        """The stored world's origin; None when the store holds no world."""
        if self._session.scalar(select(func.count()).select_from(models.Cluster)) == 0:
            return None
        cluster = self._session.scalars(select(models.Cluster)).one()
        return SeededWorld(cluster.name, cluster.scenario_digest)

    def wipe(self) -> None:
        """Delete every world row and every open enumeration; the version counter and the
        clock stay (simulated time never goes back, and a frozen clock stays frozen)."""
        kept = (models.WorldVersion.__table__, models.WorldClockRow.__table__)
        for table in reversed(models.Base.metadata.sorted_tables):
            if table not in kept:
                self._session.execute(delete(table))

    def seed(self, plan: WorldPlan) -> None:
        session = self._session
        # Bulk inserts below bypass the ORM flush hook, so the version is bumped explicitly.
        bump_world_version(session)
        session.add(models.Cluster(name=plan.cluster_name, domain=plan.domain, seed=plan.seed,
                                   scenario_digest=plan.scenario_digest))
        host_ids: dict[str, int] = {}
        for host_plan in plan.hosts:
            host = models.Host(**host_plan.columns)
            for network in host_plan.networks:
                host.networks.append(models.MigrationNetwork(**asdict(network)))
            session.add(host)
            session.flush()
            host_ids[host_plan.name] = host.id
        vm_rows = [{**vm.columns, "host_id": host_ids[vm.host], "version_id": 1}
                   for vm in plan.vms]
        if vm_rows:
            session.execute(insert(models.VirtualMachine), vm_rows)
        # Ids come from the database (never reused, even after a reset), so look them up.
        vm_ids = {(host_id, guid): vm_id for vm_id, host_id, guid in session.execute(
            select(models.VirtualMachine.id, models.VirtualMachine.host_id,
                   models.VirtualMachine.guid))}
        disk_rows, adapter_rows = [], []
        for vm in plan.vms:
            vm_id = vm_ids[(host_ids[vm.host], vm.columns["guid"])]
            disk_rows += [{**vars(d), "vm_id": vm_id, "version_id": 1} for d in vm.disks]
            adapter_rows += [{**vars(a), "vm_id": vm_id, "version_id": 1}
                             for a in vm.adapters]
        if disk_rows:
            session.execute(insert(models.VirtualDisk), disk_rows)
        if adapter_rows:
            session.execute(insert(models.NetworkAdapter), adapter_rows)
