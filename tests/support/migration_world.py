"""The in-process world the migration state machine drives, and what it records of it.

One Dispatcher over an in-memory SQLite world with a fake clock, driven the way a front end
drives it (invoke_method / enumerate_instances / get_instance, host = the endpoint's host name),
and read back both as a client sees it and as it is stored.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pywbem import CIM_ERR_NOT_FOUND, CIMError, CIMInstance, CIMInstanceName, Uint16
from sqlalchemy import select

import providers
from emulator.core.catalog import Catalog, load_catalog
from emulator.core.dispatch import Dispatcher
from emulator.setup.scenario import generated_scenario
from emulator.setup.seeding import prepare_store
from providers.migration.job_settling import JobSettling
from providers.migration.job_timeline import JobTimeline
from providers.vm_setting_ids import disk_setting_part
from storage.db import Store
from storage.models import Host, VirtualMachine

NS = "root/virtualization/v2"
HOSTS = ("HV-01", "HV-02", "HV-03")
LIVE, STORAGE, STAGED, LIVE_AND_STORAGE = 32768, 32769, 32770, 32771
TERMINAL = {7, 8, 9, 10}
SERVICE = "Msvm_VirtualSystemMigrationService"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_CATALOG: list[Catalog] = []


class FakeClock:
    def __init__(self) -> None:
        self.moment = T0

    def now(self) -> datetime:
        return self.moment


def catalog() -> Catalog:
    if not _CATALOG:
        _CATALOG.append(load_catalog())
    return _CATALOG[0]


@dataclass
class Snapshot:
    """What must not change when a migration fails: where the VM is and what it uses."""

    host_id: int
    enabled_state: int
    disks: tuple[str, ...]
    roots: tuple[str, ...]
    planned_on: frozenset[int]  # hosts holding a planned VM of this GUID


@dataclass
class Tracked:
    path: CIMInstanceName
    host: str
    kind: str  # "move" or "check"
    migration_type: int
    guid: str
    destination: str | None
    before: Snapshot | None
    last_state: int = 2
    last_percent: int = 0
    finished_at: datetime | None = None
    verified: bool = False
    history: list[tuple[int, int]] = field(default_factory=list)


class MigrationWorld:
    """Opens the world and drives and reads it; the state machine's rules build on this."""

    clock: FakeClock
    store: Store
    dispatcher: Dispatcher
    guids: list[str]  # the real (not planned) VMs, in GUID order
    tracked: list[Tracked]
    serial: Iterator[int]

    def _open(self) -> None:
        self.clock = FakeClock()
        self.store = Store("sqlite://")
        prepare_store(self.store, generated_scenario(len(HOSTS), 3, 11), T0, reset=False)
        timeline = JobTimeline()
        self.dispatcher = Dispatcher(catalog(), self.store, self.clock,
                                     [cls() for cls in providers.INSTANCE_PROVIDERS],
                                     providers.method_providers(timeline),
                                     [JobSettling(timeline)])
        with self.store.unit_of_work() as uow:
            self.guids = sorted(uow.session.scalars(select(VirtualMachine.guid).where(
                VirtualMachine.planned.is_(False))))
        self.tracked = []
        self.serial = itertools.count()

    def invoke(self, host: str, target: CIMInstanceName, method: str,
               **params: Any) -> tuple[int, Any]:
        outcome = self.dispatcher.invoke_method(host, NS, target, method, params)
        return int(outcome.return_value), outcome.output_values()

    def _service_path(self, host: str) -> CIMInstanceName:
        return self.dispatcher.enumerate_instance_names(host, NS, SERVICE)[0]

    def _service(self, host: str) -> CIMInstance:
        return self.dispatcher.get_instance(host, NS, self._service_path(host)).instance()

    def _vm_path(self, host: str, guid: str) -> CIMInstanceName:
        return CIMInstanceName("Msvm_ComputerSystem", namespace=NS, keybindings={
            "CreationClassName": "Msvm_ComputerSystem", "Name": guid})

    def _job(self, job: Tracked) -> CIMInstance | None:
        try:
            return self.dispatcher.get_instance(job.host, NS, job.path).instance()
        except CIMError as error:
            assert error.status_code == CIM_ERR_NOT_FOUND, error
            return None

    def _world(self) -> dict[str, Any]:
        """The stored truth: VMs by GUID, host names by id."""
        with self.store.unit_of_work() as uow:
            session = uow.session
            hosts = {h.id: h.name for h in session.scalars(select(Host))}
            vms = []
            for vm in session.scalars(select(VirtualMachine)):
                vms.append((vm.guid, vm.host_id, vm.planned, vm.enabled_state,
                            tuple(sorted((d.id, d.path) for d in vm.disks)),
                            (vm.config_root, vm.snapshot_root, vm.swap_root)))
        return {"hosts": hosts, "vms": vms}

    def _snapshot(self, guid: str) -> Snapshot:
        world = self._world()
        real = [v for v in world["vms"] if v[0] == guid and not v[2]]
        assert len(real) == 1
        _guid, host_id, _planned, state, disks, roots = real[0]
        planned = frozenset(v[1] for v in world["vms"] if v[0] == guid and v[2])
        return Snapshot(host_id, state, tuple(p for _i, p in disks), roots, planned)

    def _host_of(self, guid: str) -> str:
        world = self._world()
        host_id = next(v[1] for v in world["vms"] if v[0] == guid and not v[2])
        return world["hosts"][host_id]

    def _settings(self, migration_type: int) -> CIMInstance:
        return CIMInstance("Msvm_VirtualSystemMigrationSettingData", properties={
            "MigrationType": Uint16(migration_type)})

    def _disk_settings(self, guid: str, target: str) -> list[CIMInstance]:
        with self.store.unit_of_work() as uow:
            vm = uow.session.scalars(select(VirtualMachine).where(
                VirtualMachine.guid == guid, VirtualMachine.planned.is_(False))).one()
            settings = []
            for disk in vm.disks:
                path = "" if target == "" else \
                    f"D:\\Moved\\{next(self.serial)}\\{disk.id}.vhdx"
                settings.append(CIMInstance("Msvm_StorageAllocationSettingData", properties={
                    "InstanceID": f"Microsoft:{guid}\\{disk_setting_part(disk)}",
                    "HostResource": [path]}))
        return settings

    def _track(self, host: str, out: Any, kind: str, migration_type: int, guid: str,
               destination: str | None, before: Snapshot | None) -> Tracked:
        path = out["Job"]
        assert isinstance(path, CIMInstanceName)
        tracked = Tracked(path, host, kind, migration_type, guid, destination, before)
        self.tracked.append(tracked)
        return tracked

    def _migrating(self, guid: str) -> bool:
        return any(t.guid == guid and t.kind == "move" and t.last_state not in TERMINAL
                   for t in self.tracked)
