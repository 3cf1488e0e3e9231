"""Writing a world plan into an empty store, reading the stored world back as one, and wiping it.

emulator/setup turns a scenario into a `WorldPlan` (every GUID and value already chosen);
this module only writes it, or reads it back (`current_plan`, what a state export renders).
VMs and their devices go in as bulk inserts: a generated cluster may hold tens of thousands
of VMs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, selectinload

from storage import control_models, models
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
        snapshots and the clock stay (control_models.KEPT_ON_WIPE)."""
        kept = {model.__table__ for model in control_models.KEPT_ON_WIPE}
        for table in reversed(models.Base.metadata.sorted_tables):
            if table not in kept:
                self._session.execute(delete(table))

    def counts(self) -> tuple[str, int, int]:
        """(cluster name, hosts, VMs realized and planned) of the stored world."""
        session = self._session
        name = session.scalar(select(models.Cluster.name)) or ""
        hosts = session.scalar(select(func.count()).select_from(models.Host)) or 0
        vms = session.scalar(select(func.count()).select_from(models.VirtualMachine)) or 0
        return name, int(hosts), int(vms)

    def world_version(self) -> int:
        """The world version as this transaction sees it."""
        return int(self._session.scalar(select(models.WorldVersion.counter)) or 0)

    def current_plan(self) -> WorldPlan | None:
        """The stored world as the plan that would seed it again (None: no world): hosts in
        scenario order, VMs oldest first, so a reseeded world enumerates in the same order."""
        session = self._session
        cluster = session.scalars(select(models.Cluster)).first()
        if cluster is None:
            return None
        hosts = list(session.scalars(select(models.Host).order_by(models.Host.ordinal)))
        names = {host.id: host.name for host in hosts}
        host_plans = tuple(HostPlan(_columns(host, {"id", "version_id"}), tuple(
            NetworkPlan(n.instance_id, n.subnet, n.prefix_length, n.metric, list(n.tags))
            for n in host.networks)) for host in hosts)
        vm_plans = tuple(
            VMPlan(names[vm.host_id], _columns(vm, {"id", "host_id", "version_id"}),
                   tuple(DiskPlan(d.controller_kind, d.controller_number, d.controller_guid,
                                  d.location, d.path, d.size_gb) for d in vm.disks),
                   tuple(AdapterPlan(a.adapter_guid, a.element_name, a.switch_name,
                                     a.mac_address) for a in vm.network_adapters))
            for vm in session.scalars(
                select(models.VirtualMachine).order_by(models.VirtualMachine.id).options(
                    selectinload(models.VirtualMachine.disks),
                    selectinload(models.VirtualMachine.network_adapters))))
        return WorldPlan(cluster_name=cluster.name, domain=cluster.domain, seed=cluster.seed,
                         scenario_digest=cluster.scenario_digest, hosts=host_plans,
                         vms=vm_plans)

    def unfinished_jobs_of_vms(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(host name, VM GUID) -> the request of the VM's job of `kind` "state" that has not
        ended: what a VM in the middle of a state change was asked to do."""
        rows = self._session.execute(
            select(models.Host.name, models.VirtualMachine.guid, models.Job.request)
            .join(models.VirtualMachine, models.VirtualMachine.id == models.Job.vm_id)
            .join(models.Host, models.Host.id == models.VirtualMachine.host_id)
            .where(models.Job.kind == "state", models.Job.job_state.is_(None))
            .order_by(models.Job.id))
        return {(host, guid): dict(request) for host, guid, request in rows}

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


def _columns(row: models.Base, leave_out: set[str]) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns
            if column.key not in leave_out}
