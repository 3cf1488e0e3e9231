"""Random sequences of migrations, checks, cancels, settings changes, service stops and VM state
changes (RequestStateChange, guest shutdowns).

In-process: one Dispatcher over an in-memory SQLite world with a fake clock, driven the way a
front end drives it (invoke_method / enumerate_instances / get_instance, host = the endpoint's
host name). After every step the invariants of issue 3 are checked against what a client sees
and against the stored world.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)
from pywbem import CIM_ERR_NOT_FOUND, CIMError, CIMInstance, CIMInstanceName, Uint8, Uint16, Uint32
from sqlalchemy import select

import providers
from emulator.core.catalog import Catalog, load_catalog
from emulator.core.dispatch import Dispatcher
from emulator.setup.scenario import generated_scenario
from emulator.setup.seeding import prepare_store
from providers.migration.checks import HOST_RESERVE_MB
from providers.migration.job_settling import JobSettling
from providers.migration.job_timeline import JobTimeline
from providers.vm_lifecycle import transition_for
from providers.vm_setting_ids import SHUTDOWN_SERVICE_GUID, disk_setting_part
from providers.vm_states import ALLOWED_REQUESTS, MEMORY_HOLDING_STATES, TRANSITIONAL_STATES
from storage.db import Store
from storage.models import Host, MigrationNetwork, VirtualMachine

NS = "root/virtualization/v2"
HOSTS = ("HV-01", "HV-02", "HV-03")
LIVE, STORAGE, STAGED, LIVE_AND_STORAGE = 32768, 32769, 32770, 32771
TERMINAL = {7, 8, 9, 10}
SERVICE = "Msvm_VirtualSystemMigrationService"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_CATALOG: list[Catalog] = []
# Every EnabledState change a client may see: a stable state to the transition a request starts,
# the transition to where it ends (and straight there, when no read fell in between).
ALLOWED_CHANGES = frozenset(
    change for state, requests in ALLOWED_REQUESTS.items() for requested in requests
    for t in [transition_for(requested, state)]
    for change in ((state, t.during), (t.during, t.final), (state, t.final)))


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


class MigrationMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")
    networks = Bundle("networks")

    @initialize()
    def open_world(self) -> None:
        self.clock = FakeClock()
        self.store = Store("sqlite://")
        prepare_store(self.store, generated_scenario(len(HOSTS), 3, 11), T0, reset=False)
        timeline = JobTimeline(1.0)
        self.dispatcher = Dispatcher(catalog(), self.store, self.clock,
                                     [cls() for cls in providers.INSTANCE_PROVIDERS],
                                     providers.method_providers(timeline),
                                     [JobSettling(timeline)])
        with self.store.unit_of_work() as uow:
            self.guids = sorted(uow.session.scalars(select(VirtualMachine.guid).where(
                VirtualMachine.planned.is_(False))))
        self.tracked: list[Tracked] = []
        with self.store.unit_of_work() as uow:
            self.limits = {h.name: (h.max_active_vm_migrations, h.max_active_storage_migrations)
                           for h in uow.session.scalars(select(Host))}
        self.previous_counts = {h: (0, 0) for h in HOSTS}
        self.vm_states = {vm[0]: vm[3] for vm in self._world()["vms"] if not vm[2]}
        for host in HOSTS:
            # One slot each to begin with, so that requests queue.
            self.modify_service_settings(host, 1, 1, None)
        self.serial = itertools.count()

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.dispose()

    # ------------------------------------------------------------------------ helpers

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

    # -------------------------------------------------------------------------- rules

    @rule(target=jobs, vm=st.integers(0, 8), destination=st.integers(0, 2),
          migration_type=st.sampled_from([LIVE, LIVE, STORAGE, STAGED, LIVE_AND_STORAGE]),
          choose_paths=st.booleans(), compression=st.none() | st.booleans(),
          smb=st.booleans(), blackout=st.booleans())
    def migrate(self, vm: int, destination: int, migration_type: int, choose_paths: bool,
                compression: bool | None, smb: bool, blackout: bool) -> Any:
        guid = self.guids[vm]
        source = self._host_of(guid)
        target = HOSTS[destination]
        if target == source and migration_type != STORAGE:
            target = HOSTS[(destination + 1) % len(HOSTS)]
        before = self._snapshot(guid)
        setting = self._settings(migration_type)
        if compression is not None:
            setting["EnableCompression"] = compression
        if smb:
            setting["TransportType"] = Uint16(32768)
        if blackout:
            setting["CancelIfBlackoutThresholdExceeded"] = True
        params: dict[str, Any] = {"ComputerSystem": self._vm_path(source, guid),
                                  "MigrationSettingData": setting}
        if migration_type != STORAGE:
            params["DestinationHost"] = target
        if migration_type in (STORAGE, LIVE_AND_STORAGE):
            params["NewResourceSettingData"] = self._disk_settings(
                guid, "" if not choose_paths else "chosen")
        if migration_type == LIVE:
            planned = [h for h in before.planned_on]
            names = self._world()["hosts"]
            if planned and names[planned[0]] != source:
                params["DestinationHost"] = target = names[planned[0]]
                setting["DestinationPlannedVirtualSystemId"] = guid
        busy = any(t.guid == guid and t.kind == "move" and t.last_state not in TERMINAL
                   for t in self.tracked)
        rv, out = self.invoke(source, self._service_path(source),
                              "MigrateVirtualSystemToHost", **params)
        if busy:
            # Refused; 32775 when the source's service is stopped (checked first).
            assert rv in (32774, 32775), (rv, "a second migration of a VM must be refused")
            return multiple()
        if rv != 4096:
            # Synchronous refusals leave everything as it was.
            assert rv in (32773, 32775), rv
            assert self._snapshot(guid) == before
            return multiple()
        return self._track(source, out, "move", migration_type, guid,
                           None if migration_type == STORAGE else target, before)

    @rule(target=jobs, vm=st.integers(0, 8), destination=st.integers(0, 2),
          asynchronous=st.booleans())
    def check(self, vm: int, destination: int, asynchronous: bool) -> Any:
        guid = self.guids[vm]
        source = self._host_of(guid)
        target = HOSTS[destination]
        if target == source:
            target = HOSTS[(destination + 1) % len(HOSTS)]
        params = {"ComputerSystem": self._vm_path(source, guid), "DestinationHost": target,
                  "MigrationSettingData": self._settings(LIVE)}
        method = "CheckVirtualSystemIsMigratable" if asynchronous else \
            "CheckVirtualSystemIsMigratableToHost"
        before = self._snapshot(guid)
        rv, out = self.invoke(source, self._service_path(source), method, **params)
        if not asynchronous:
            assert rv in (0, 4, 5), rv
            if rv == 0:
                assert isinstance(out["IsMigratable"], bool)
            return multiple()
        if rv != 4096:
            assert rv in (32773, 32775), rv
            return multiple()
        assert self._snapshot(guid) == before
        return self._track(source, out, "check", LIVE, guid, target, None)

    @rule(job=jobs, how=st.sampled_from(["terminate", "kill", "killjob"]))
    def cancel(self, job: Tracked, how: str) -> None:
        seen = self._job(job)
        if seen is None:
            return
        if how == "killjob":
            rv, _ = self.invoke(job.host, job.path, "KillJob", DeleteOnKill=False)
            expected_ok, expected_refused = 0, 4
        else:
            rv, _ = self.invoke(job.host, job.path, "RequestStateChange",
                                RequestedState=4 if how == "terminate" else 5)
            expected_ok, expected_refused = 0, 32775
        if seen["JobState"] in TERMINAL:
            assert rv == expected_refused, (rv, seen["JobState"])
        else:
            assert rv == expected_ok, rv
            after = self._job(job)
            assert after is not None
            assert after["JobState"] == (8 if how == "terminate" else 9)

    def _migrating(self, guid: str) -> bool:
        return any(t.guid == guid and t.kind == "move" and t.last_state not in TERMINAL
                   for t in self.tracked)

    @rule(vm=st.integers(0, 8), requested=st.sampled_from([2, 2, 3, 4, 6, 9, 10, 11]))
    def change_state(self, vm: int, requested: int) -> None:
        guid = self.guids[vm]
        host = self._host_of(guid)
        state = self._snapshot(guid).enabled_state
        rv, out = self.invoke(host, self._vm_path(host, guid), "RequestStateChange",
                              RequestedState=Uint16(requested))
        allowed = requested in ALLOWED_REQUESTS.get(state, ()) and not self._migrating(guid)
        if not allowed:
            assert (rv, out.get("Job")) == (32775, None), (state, requested, rv)
            assert self._snapshot(guid).enabled_state == state
            return
        assert rv == 4096, (state, requested, rv)
        job = self.dispatcher.get_instance(host, NS, out["Job"]).instance()
        now = self._snapshot(guid).enabled_state
        if job["ErrorCode"] == 0:
            assert now == transition_for(requested, state).during
        else:  # a start the host has no memory for fails in its job, nothing moves
            assert (requested, now, job["JobState"]) == (2, state, 10), job["ErrorDescription"]

    @rule(vm=st.integers(0, 8), force=st.booleans(), reboot=st.booleans())
    def guest_shutdown(self, vm: int, force: bool, reboot: bool) -> None:
        guid = self.guids[vm]
        host = self._host_of(guid)
        component = CIMInstanceName("Msvm_ShutdownComponent", namespace=NS, keybindings={
            "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": guid,
            "CreationClassName": "Msvm_ShutdownComponent",
            "DeviceID": f"Microsoft:{guid}\\{SHUTDOWN_SERVICE_GUID}"})
        state = self._snapshot(guid).enabled_state
        try:
            rv, _ = self.invoke(host, component, "InitiateReboot" if reboot
                                else "InitiateShutdown", Force=force, Reason="property test")
        except CIMError as error:
            # The component exists only while the guest runs.
            assert error.status_code == CIM_ERR_NOT_FOUND and state != 2, (state, error)
            return
        assert state == 2
        if self._migrating(guid):
            assert rv == 32775
        else:
            assert rv == 0 and self._snapshot(guid).enabled_state == (10 if reboot else 4)

    @rule(host=st.sampled_from(HOSTS), live=st.none() | st.integers(1, 3),
          storage=st.none() | st.integers(1, 3),
          enabled=st.sampled_from([None, None, True, True, False]))
    def modify_service_settings(self, host: str, live: int | None, storage: int | None,
                                enabled: bool | None) -> None:
        values: dict[str, Any] = {}
        if live is not None:
            values["MaximumActiveVirtualSystemMigration"] = Uint32(live)
        if storage is not None:
            values["MaximumActiveStorageMigration"] = Uint32(storage)
        if enabled is not None:
            values["EnableVirtualSystemMigration"] = enabled
        setting = CIMInstance("Msvm_VirtualSystemMigrationServiceSettingData",
                              properties=values)
        rv, _ = self.invoke(host, self._service_path(host), "ModifyServiceSettings",
                            ServiceSettingData=setting)
        assert rv == 0
        old = self.limits[host]
        self.limits[host] = (live or old[0], storage or old[1])

    @rule(target=networks, host=st.sampled_from(HOSTS), octet=st.integers(1, 250))
    def add_network(self, host: str, octet: int) -> Any:
        network = CIMInstance("Msvm_VirtualSystemMigrationNetworkSettingData", properties={
            "SubnetNumber": f"192.168.{octet}.0", "PrefixLength": Uint8(24)})
        rv, _ = self.invoke(host, self._service_path(host), "AddNetworkSettings",
                            NetworkSettings=[network])
        assert rv in (0, 32773)
        return (host, f"192.168.{octet}.0")

    @rule(host=st.sampled_from(HOSTS), which=st.integers(0, 3))
    def remove_network(self, host: str, which: int) -> None:
        with self.store.unit_of_work() as uow:
            ids = sorted(uow.session.scalars(select(MigrationNetwork.instance_id).join(Host)
                                             .where(Host.name == host)))
        if not ids or (which != 3 and len(ids) == 1):
            # Leaving a host without a migration network is drawn one time in four.
            return
        path = CIMInstanceName("Msvm_VirtualSystemMigrationNetworkSettingData", namespace=NS,
                               keybindings={"InstanceID": ids[which % len(ids)]})
        rv, _ = self.invoke(host, self._service_path(host), "RemoveNetworkSettings",
                            NetworkSettings=[path])
        assert rv == 0

    @rule(network=consumes(networks))
    def remove_added_network(self, network: tuple[str, str]) -> None:
        host, subnet = network
        with self.store.unit_of_work() as uow:
            ids = list(uow.session.scalars(select(MigrationNetwork.instance_id).join(Host)
                                           .where(Host.name == host,
                                                  MigrationNetwork.subnet == subnet)))
        if ids:
            path = CIMInstanceName("Msvm_VirtualSystemMigrationNetworkSettingData",
                                   namespace=NS, keybindings={"InstanceID": ids[0]})
            rv, _ = self.invoke(host, self._service_path(host), "RemoveNetworkSettings",
                                NetworkSettings=[path])
            assert rv == 0

    @rule(host=st.sampled_from(HOSTS), start=st.booleans(), via_state_change=st.booleans())
    def service_state(self, host: str, start: bool, via_state_change: bool) -> None:
        if via_state_change:
            rv, _ = self.invoke(host, self._service_path(host), "RequestStateChange",
                                RequestedState=2 if start else 3)
        else:
            rv, _ = self.invoke(host, self._service_path(host),
                                "StartService" if start else "StopService")
        assert rv == 0
        assert self._service(host)["Started"] is start

    @rule(seconds=st.sampled_from([0.05, 0.5, 1.0, 2.0, 3.0, 5.0, 15.0, 200.0]))
    def advance(self, seconds: float) -> None:
        self.clock.moment += timedelta(seconds=seconds)

    # --------------------------------------------------------------------- invariants

    def _job(self, job: Tracked) -> CIMInstance | None:
        try:
            return self.dispatcher.get_instance(job.host, NS, job.path).instance()
        except CIMError as error:
            assert error.status_code == CIM_ERR_NOT_FOUND, error
            return None

    @invariant()
    def invariants_hold(self) -> None:
        if not hasattr(self, "dispatcher"):
            return
        self.jobs_move_forward_only()
        self.each_vm_on_exactly_one_host()
        self.active_counts_match_running_jobs()
        self.ended_migrations_left_the_world_consistent()
        self.migrating_vms_say_so()
        self.states_change_only_as_allowed()
        self.memory_held_fits_each_host()

    def states_change_only_as_allowed(self) -> None:
        """EnabledState moves only along §10.3's transitions; RequestedState says which one
        is under way, and a transitional state never outlives the job that ends it."""
        for host in HOSTS:
            for result in self.dispatcher.enumerate_instances(
                    host, NS, "Msvm_ComputerSystem",
                    property_list=["Name", "EnabledState", "RequestedState"]):
                vm = result.instance()
                if vm["Name"] in HOSTS:
                    continue
                guid, state = vm["Name"], int(vm["EnabledState"])
                before = self.vm_states[guid]
                assert before == state or (before, state) in ALLOWED_CHANGES, (guid, before,
                                                                              state)
                self.vm_states[guid] = state
                assert (int(vm["RequestedState"]) == 12) == (state not in TRANSITIONAL_STATES)

    def memory_held_fits_each_host(self) -> None:
        with self.store.unit_of_work() as uow:
            for host in uow.session.scalars(select(Host)):
                held = sum(vm.memory_mb for vm in uow.session.scalars(select(VirtualMachine).where(
                    VirtualMachine.host_id == host.id, VirtualMachine.planned.is_(False)))
                    if vm.enabled_state in MEMORY_HOLDING_STATES)
                assert held <= host.memory_mb - HOST_RESERVE_MB, (host.name, held)

    def migrating_vms_say_so(self) -> None:
        """OperationalStatus {2, 32774} exactly while a move of the VM runs (§16.5)."""
        moving = {t.guid for t in self.tracked if t.kind == "move" and t.last_state in (3, 4)
                  and t.migration_type != STAGED}
        for host in HOSTS:
            for result in self.dispatcher.enumerate_instances(
                    host, NS, "Msvm_ComputerSystem", property_list=["Name", "OperationalStatus"]):
                vm = result.instance()
                if vm["Name"] in HOSTS:
                    continue
                expected = [2, 32774] if vm["Name"] in moving else [2]
                assert list(vm["OperationalStatus"]) == expected, (vm["Name"], expected)

    def each_vm_on_exactly_one_host(self) -> None:
        seen: dict[str, list[str]] = {}
        for host in HOSTS:
            for path in self.dispatcher.enumerate_instance_names(host, NS,
                                                                  "Msvm_ComputerSystem"):
                if path["Name"] not in HOSTS:
                    seen.setdefault(path["Name"], []).append(host)
        assert sorted(seen) == self.guids
        assert all(len(hosts) == 1 for hosts in seen.values()), seen

    def jobs_move_forward_only(self) -> None:
        for job in self.tracked:
            instance = self._job(job)
            if instance is None:
                # Gone only after TimeBeforeRemoval (300 s) past its end, never before.
                assert job.finished_at is not None, job
                assert self.clock.moment >= job.finished_at + timedelta(seconds=300)
                continue
            state, percent = int(instance["JobState"]), int(instance["PercentComplete"])
            job.history.append((state, percent))
            if job.last_state in TERMINAL:
                assert state == job.last_state, job.history
            assert percent >= job.last_percent, job.history
            assert percent <= 100 and (percent < 100 or state == 7), job.history
            if state in TERMINAL:
                finished = instance["TimeOfLastStateChange"].datetime
                assert job.finished_at in (None, finished), job
                assert finished <= self.clock.moment
                job.finished_at = finished
            job.last_state, job.last_percent = state, percent

    def active_counts_match_running_jobs(self) -> None:
        for host in HOSTS:
            running = [t for t in self.tracked if t.host == host and t.kind == "move"
                       and t.last_state in (3, 4)]
            live = sum(1 for t in running if t.migration_type in (LIVE, STAGED,
                                                                   LIVE_AND_STORAGE))
            storage = sum(1 for t in running if t.migration_type in (STORAGE,
                                                                      LIVE_AND_STORAGE))
            service = self._service(host)
            counts = (int(service["ActiveVirtualSystemMigrationCount"]),
                      int(service["ActiveStorageMigrationCount"]))
            assert counts == (live, storage), (host, counts, live, storage)
            # A job waits only for a slot of a started service (§16.4).
            for job in self.tracked:
                if job.host != host or job.last_state != 2:
                    continue
                assert job.kind == "move", job
                if service["Started"]:
                    full_vm = counts[0] >= self.limits[host][0]
                    full_storage = counts[1] >= self.limits[host][1]
                    waits_for = {LIVE: full_vm, STAGED: full_vm, STORAGE: full_storage,
                                 LIVE_AND_STORAGE: full_vm or full_storage}
                    assert waits_for[job.migration_type], (job, counts, self.limits[host])
            # Above a limit only when it was lowered under running jobs: then nothing starts.
            previous = self.previous_counts[host]
            for count, limit, before in zip(counts, self.limits[host], previous, strict=True):
                assert count <= limit or count <= before, (host, counts, self.limits[host])
            self.previous_counts[host] = counts

    def ended_migrations_left_the_world_consistent(self) -> None:
        for job in self.tracked:
            if job.verified or job.kind != "move" or job.last_state not in TERMINAL:
                continue
            job.verified = True
            if self._job(job) is not None:
                rv, out = self.invoke(job.host, job.path, "GetErrorEx")
                assert rv == 0
                # Errors exactly when the job did not complete (§8.5, §9).
                assert bool(out["Errors"]) == (job.last_state != 7), (job, out["Errors"])
            before = job.before
            assert before is not None
            after = self._snapshot(job.guid)
            names = self._world()["hosts"]
            ids = {name: id_ for id_, name in names.items()}
            if job.last_state != 7:
                # Failed or cancelled: the source as it was, no leftover on the destination.
                assert after == before, (job, before, after)
                continue
            assert after.enabled_state == before.enabled_state
            if job.migration_type in (LIVE, LIVE_AND_STORAGE):
                assert job.destination is not None
                assert after.host_id == ids[job.destination]
                assert ids[job.destination] not in after.planned_on
            elif job.migration_type == STAGED:
                assert job.destination is not None
                assert after.host_id == before.host_id
                assert after.planned_on == before.planned_on | {ids[job.destination]}
            else:
                assert after.host_id == before.host_id
            if job.migration_type in (STORAGE, LIVE_AND_STORAGE):
                assert all(a != b for a, b in zip(after.disks, before.disks, strict=True))
            else:
                assert after.disks == before.disks

    def eventually_everything_ends(self) -> None:
        """Queued jobs run once services are started: every job reaches a terminal state."""
        for host in HOSTS:
            self.invoke(host, self._service_path(host), "StartService")
        for _ in range(200):
            if all(t.last_state in TERMINAL for t in self.tracked):
                break
            self.clock.moment += timedelta(seconds=100)
            self.jobs_move_forward_only()
            self.active_counts_match_running_jobs()
            self.ended_migrations_left_the_world_consistent()
        assert all(t.last_state in TERMINAL for t in self.tracked), [
            (t.host, t.migration_type, t.history[-3:]) for t in self.tracked
            if t.last_state not in TERMINAL]
        self.each_vm_on_exactly_one_host()

    @rule()
    def settle_everything(self) -> None:
        self.eventually_everything_ends()


class FinishingMachine(MigrationMachine):
    """The same, and at the end every queued or running job must complete or fail."""

    def teardown(self) -> None:
        try:
            if hasattr(self, "dispatcher"):
                self.eventually_everything_ends()
        finally:
            super().teardown()


# No shrink phase: an example takes up to a few seconds and shrinking a stateful failure ran
# past five minutes; the failing step sequence is printed as it was found.
FinishingMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=40, deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_migration_state_machine = FinishingMachine.TestCase


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
