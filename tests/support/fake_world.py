"""An in-memory world behind the same repositories as the store, for provider unit tests.

`FakeWorld` holds the model objects themselves (transient `Host`, `VirtualMachine`, `Job`, ...:
plain objects until a session adopts them) and gives out `FakeUnitOfWork`s that satisfy
`storage.repositories.WorldUnitOfWork`. Ids are handed out as the database would (one counter
per table, in insertion order), so a world seeded from a plan has the ids the store gives it.
Reads return the live objects rather than snapshots, and there is no rollback: work a test does
not commit is still visible. `tests/unit/test_world_repositories.py` holds fake and SQL to the
same answers.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from storage.models import (
    Cluster,
    Host,
    Job,
    MigrationNetwork,
    NetworkAdapter,
    VirtualDisk,
    VirtualMachine,
)
from storage.repositories import NewJob
from storage.seeding import WorldPlan
from storage.virtual_machines import RUNNING_STATES
from tests.support.fake_keyboards import FakeKeyboards, FakeKeyboardState


class FakeWorld:
    def __init__(self) -> None:
        self.clusters: list[Cluster] = []
        self.hosts: list[Host] = []
        self.vms: list[VirtualMachine] = []
        self.jobs: list[Job] = []
        # Job class name (or "*") -> progression, as the world clock's rules in SQL.
        self.progression: dict[str, str] = {}
        self.keyboards = FakeKeyboardState()
        self.commits = 0
        self.write_turns = 0
        self._ids: dict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))

    def next_id(self, table: str) -> int:
        return next(self._ids[table])

    @staticmethod
    def from_plan(plan: WorldPlan) -> FakeWorld:
        world = FakeWorld()
        world.clusters.append(Cluster(id=1, name=plan.cluster_name, domain=plan.domain,
                                      seed=plan.seed, scenario_digest=plan.scenario_digest,
                                      version_id=1))
        host_ids = {}
        for host_plan in plan.hosts:
            host = Host(id=world.next_id("hosts"), version_id=1, **host_plan.columns)
            for network in host_plan.networks:
                world.attach_network(host, MigrationNetwork(**dataclasses.asdict(network)))
            world.hosts.append(host)
            host_ids[host_plan.name] = host.id
        for vm_plan in plan.vms:
            world.vms.append(VirtualMachine(id=world.next_id("virtual_machines"), version_id=1,
                                            host_id=host_ids[vm_plan.host], **vm_plan.columns))
        # The store inserts every VM, then every disk, then every adapter.
        for vm, vm_plan in zip(world.vms, plan.vms, strict=True):
            for disk in vm_plan.disks:
                world.attach_disk(vm, VirtualDisk(**vars(disk)))
        for vm, vm_plan in zip(world.vms, plan.vms, strict=True):
            for adapter in vm_plan.adapters:
                world.attach_adapter(vm, NetworkAdapter(**vars(adapter)))
        return world

    def attach_network(self, host: Host, network: MigrationNetwork) -> MigrationNetwork:
        network.id = self.next_id("migration_networks")
        network.host_id, network.version_id = host.id, 1
        host.networks.append(network)
        return network

    def attach_disk(self, vm: VirtualMachine, disk: VirtualDisk) -> None:
        disk.id, disk.vm_id, disk.version_id = self.next_id("virtual_disks"), vm.id, 1
        vm.disks.append(disk)

    def attach_adapter(self, vm: VirtualMachine, adapter: NetworkAdapter) -> None:
        adapter.id = self.next_id("network_adapters")
        adapter.vm_id, adapter.version_id = vm.id, 1
        vm.network_adapters.append(adapter)

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class FakeUnitOfWork:
    def __init__(self, world: FakeWorld) -> None:
        self.state = world
        self.world = FakeWorldReads(world)
        self.hosts = FakeHosts(world)
        self.vms = FakeVirtualMachines(world)
        self.jobs = FakeJobs(world)
        self.keyboards = FakeKeyboards(world.keyboards)

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def take_write_turn(self) -> None:
        self.state.write_turns += 1

    def flush(self) -> None:
        return None

    def commit(self) -> None:
        self.state.commits += 1


def _host_of(world: FakeWorld, name: str) -> Host | None:
    return next((h for h in world.hosts if h.name == name.upper()), None)


class FakeWorldReads:
    def __init__(self, world: FakeWorld) -> None:
        self._world = world

    def cluster(self) -> Any:
        return self._world.clusters[0]

    def hosts(self) -> Sequence[Any]:
        return sorted(self._world.hosts, key=lambda h: h.ordinal)

    def host_names(self) -> list[str]:
        return [h.name for h in self.hosts()]

    def host_named(self, name: str) -> Any | None:
        return _host_of(self._world, name)

    def host_by_id(self, host_id: int) -> Any | None:
        return next((h for h in self._world.hosts if h.id == host_id), None)

    def networks_of(self, host_id: int) -> Sequence[Any]:
        host = self.host_by_id(host_id)
        return sorted(host.networks, key=lambda n: n.id) if host is not None else []

    def vms_on_host(self, host: str, *, planned: bool) -> Sequence[Any]:
        found = _host_of(self._world, host)
        return [vm for vm in self._by_id() if found is not None and vm.host_id == found.id
                and vm.planned == planned]

    def vms_everywhere(self, *, planned: bool) -> Sequence[Any]:
        return sorted((vm for vm in self._world.vms if vm.planned == planned),
                      key=lambda vm: (vm.host_id, vm.id))

    def vm_on_host(self, host: str, guid: str, *, planned: bool) -> Any | None:
        return next((vm for vm in self.vms_on_host(host, planned=planned)
                     if vm.guid == guid.upper()), None)

    def vm_anywhere(self, guid: str, *, planned: bool) -> Any | None:
        return next((vm for vm in self._by_id()
                     if vm.guid == guid.upper() and vm.planned == planned), None)

    def disks_of_vms(self, vm_ids: Sequence[int]) -> Mapping[int, Sequence[Any]]:
        return {vm.id: sorted(vm.disks, key=lambda d: d.id) for vm in self._world.vms
                if vm.id in set(vm_ids) and vm.disks}

    def adapters_of_vms(self, vm_ids: Sequence[int]) -> Mapping[int, Sequence[Any]]:
        return {vm.id: sorted(vm.network_adapters, key=lambda a: a.id)
                for vm in self._world.vms if vm.id in set(vm_ids) and vm.network_adapters}

    def jobs(self, host_id: int | None = None) -> Sequence[Any]:
        return sorted((j for j in self._world.jobs if host_id is None or j.host_id == host_id),
                      key=lambda j: j.id)

    def jobs_to_host(self, host_id: int) -> Sequence[Any]:
        return sorted((j for j in self._world.jobs if j.destination_host_id == host_id),
                      key=lambda j: j.id)

    def active_job_counts(self, host_id: int) -> tuple[int, int]:
        return FakeJobs(self._world).running_counts(host_id)

    def _by_id(self) -> list[VirtualMachine]:
        return sorted(self._world.vms, key=lambda vm: vm.id)


class FakeHosts:
    def __init__(self, world: FakeWorld) -> None:
        self._world = world

    def get(self, host_id: int) -> Host | None:
        return next((h for h in self._world.hosts if h.id == host_id), None)

    def all(self) -> list[Host]:
        return sorted(self._world.hosts, key=lambda h: h.ordinal)

    def add_network(self, host: Host, *, instance_id: str, subnet: str, prefix_length: int,
                    metric: int, tags: list[str]) -> MigrationNetwork:
        return self._world.attach_network(host, MigrationNetwork(
            instance_id=instance_id, subnet=subnet, prefix_length=prefix_length, metric=metric,
            tags=tags))

    def remove_network(self, host: Host, network: MigrationNetwork) -> None:
        if network in host.networks:
            host.networks.remove(network)


class FakeVirtualMachines:
    def __init__(self, world: FakeWorld) -> None:
        self._world = world

    def get(self, vm_id: int) -> VirtualMachine | None:
        return next((vm for vm in self._world.vms if vm.id == vm_id), None)

    def on_host(self, host_id: int, guid: str, *, planned: bool | None
                ) -> VirtualMachine | None:
        return next((vm for vm in self.with_guid_on_host(host_id, guid)
                     if planned is None or vm.planned == planned), None)

    def with_guid_on_host(self, host_id: int, guid: str) -> list[VirtualMachine]:
        return [vm for vm in self.of_host(host_id) if vm.guid == guid.upper()]

    def of_host(self, host_id: int) -> list[VirtualMachine]:
        return sorted((vm for vm in self._world.vms if vm.host_id == host_id),
                      key=lambda vm: vm.id)

    def destroy(self, vm: VirtualMachine) -> None:
        self._world.vms.remove(vm)
        self._world.keyboards.forget(vm.id)

    def define(self, host_id: int, columns: Mapping[str, Any]) -> VirtualMachine:
        vm = VirtualMachine(**{**columns, "id": self._world.next_id("virtual_machines"),
                               "version_id": 1, "host_id": host_id})
        self._world.vms.append(vm)
        return vm

    def add_disk(self, vm: VirtualMachine, *, controller_kind: str, controller_number: int,
                 controller_guid: str, location: int, path: str, size_gb: int) -> VirtualDisk:
        disk = VirtualDisk(controller_kind=controller_kind, controller_number=controller_number,
                           controller_guid=controller_guid, location=location, path=path,
                           size_gb=size_gb)
        self._world.attach_disk(vm, disk)
        return disk

    def remove_disk(self, vm: VirtualMachine, disk: VirtualDisk) -> None:
        if disk in vm.disks:
            vm.disks.remove(disk)

    def add_adapter(self, vm: VirtualMachine, *, adapter_guid: str, element_name: str,
                    switch_name: str, mac_address: str) -> NetworkAdapter:
        adapter = NetworkAdapter(adapter_guid=adapter_guid, element_name=element_name,
                                 switch_name=switch_name, mac_address=mac_address)
        self._world.attach_adapter(vm, adapter)
        return adapter

    def remove_adapter(self, vm: VirtualMachine, adapter: NetworkAdapter) -> None:
        if adapter in vm.network_adapters:
            vm.network_adapters.remove(adapter)

    def touch(self, vm: VirtualMachine) -> None:
        vm.version_id += 1

    def add_planned_copy(self, vm: VirtualMachine, host_id: int, *, roots: Mapping[str, str],
                         disk_paths: Mapping[int, str]) -> VirtualMachine:
        columns = {c.key: getattr(vm, c.key) for c in VirtualMachine.__table__.columns
                   if c.key not in ("id", "version_id")}
        planned = VirtualMachine(**{
            **columns, "id": self._world.next_id("virtual_machines"), "version_id": 1,
            "host_id": host_id, "planned": True, "enabled_state": 3,
            "operational_status": [2], "operating_status": None, "uptime_ms": 0,
            "running_since": None, "requested_state": 12,
            "config_root": roots.get("ConfigurationDataRoot", vm.config_root),
            "snapshot_root": roots.get("SnapshotDataRoot", vm.snapshot_root),
            "swap_root": roots.get("SwapFileDataRoot", vm.swap_root)})
        self._world.vms.append(planned)
        for disk in vm.disks:
            self._world.attach_disk(planned, VirtualDisk(
                controller_kind=disk.controller_kind, controller_number=disk.controller_number,
                controller_guid=disk.controller_guid, location=disk.location,
                path=disk_paths.get(disk.id, disk.path), size_gb=disk.size_gb))
        for adapter in vm.network_adapters:
            self._world.attach_adapter(planned, NetworkAdapter(
                adapter_guid=adapter.adapter_guid, element_name=adapter.element_name,
                switch_name=adapter.switch_name, mac_address=adapter.mac_address))
        return planned

    def memory_in_use_mb(self, host_id: int) -> int:
        return sum(vm.memory_mb for vm in self.of_host(host_id)
                   if not vm.planned and vm.enabled_state in RUNNING_STATES)

    def disk_paths_on_host(self, host_id: int, *, except_guid: str) -> list[str]:
        disks = [d for vm in self.of_host(host_id) if vm.guid != except_guid.upper()
                 for d in vm.disks]
        return [d.path for d in sorted(disks, key=lambda d: d.id)]


class FakeJobs:
    def __init__(self, world: FakeWorld) -> None:
        self._world = world

    def add(self, job: NewJob) -> Job:
        row = Job(**dataclasses.asdict(job), id=self._world.next_id("jobs"), version_id=1,
                  polls=0, error_code=0, errors=[], delete_on_completion=True)
        self._world.jobs.append(row)
        return row

    def named(self, instance_id: str) -> Job | None:
        return next((j for j in self._world.jobs if j.instance_id == instance_id.upper()), None)

    def delete(self, job: Job) -> None:
        self._world.jobs.remove(job)

    def moving_vm(self, *, vm_id: int | None = None, vm_guid: str | None = None) -> str | None:
        for job in self._by_id():
            concerns = job.vm_id == vm_id if vm_id is not None else job.vm_guid == vm_guid
            if concerns and job.kind == "move" and job.job_state is None:
                return job.instance_id
        return None

    def active_with_vm(self) -> list[Job]:
        return [j for j in self._by_id() if j.job_state is None and j.vm_id is not None]

    def next_due(self) -> datetime | None:
        moments = [j.due_at for j in self._world.jobs
                   if j.job_state is None and j.due_at is not None]
        moments += [j.remove_at for j in self._world.jobs if j.remove_at is not None]
        return min(moments) if moments else None

    def next_end(self) -> datetime | None:
        return min((j.due_at for j in self._world.jobs
                    if j.job_state is None and j.due_at is not None), default=None)

    def progression_for(self, classname: str) -> str:
        rules = self._world.progression
        return rules.get(classname) or rules.get("*") or "clock"

    def next_ending(self, now: datetime) -> Job | None:
        due = [j for j in self._world.jobs
               if j.job_state is None and j.due_at is not None and j.due_at <= now]
        return min(due, key=lambda j: (j.due_at, j.id), default=None)

    def remove_expired(self, now: datetime) -> int:
        expired = [j for j in self._world.jobs if j.remove_at is not None and j.remove_at <= now]
        for job in expired:
            self._world.jobs.remove(job)
        return len(expired)

    def queued_on(self, host_id: int) -> list[Job]:
        return sorted((j for j in self._world.jobs if j.host_id == host_id
                       and j.job_state is None and j.started_at is None),
                      key=lambda j: (j.submitted_at, j.id))

    def running_counts(self, host_id: int) -> tuple[int, int]:
        running = [j for j in self._world.jobs if j.host_id == host_id
                   and j.job_state is None and j.started_at is not None]
        return (sum(1 for j in running if j.counts_vm),
                sum(1 for j in running if j.counts_storage))

    def incoming_memory_mb(self, host_id: int, *, except_vm_id: int | None) -> int:
        vms = {vm.id: vm for vm in self._world.vms}
        total = 0
        for job in self._world.jobs:
            vm = vms.get(job.vm_id) if job.vm_id is not None else None
            if (vm is not None and job.destination_host_id == host_id
                    and job.job_state is None and job.kind == "move"
                    and vm.enabled_state in RUNNING_STATES and vm.id != except_vm_id):
                total += vm.memory_mb
        return total

    def _by_id(self) -> list[Job]:
        return sorted(self._world.jobs, key=lambda j: j.id)
