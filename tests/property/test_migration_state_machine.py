"""Random sequences of migrations, checks, cancels, settings changes, service stops and VM state
changes (RequestStateChange, guest shutdowns).

In-process: one Dispatcher over an in-memory SQLite world with a fake clock, driven the way a
front end drives it (tests/support/migration_world.py). After every step the invariants of
issue 3 (tests/support/migration_invariants.py) are checked against what a client sees and
against the stored world.
"""

from __future__ import annotations

from datetime import timedelta
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

from providers.vm_lifecycle import transition_for
from providers.vm_setting_ids import SHUTDOWN_SERVICE_GUID
from providers.vm_states import ALLOWED_REQUESTS
from storage.models import Host, MigrationNetwork
from tests.support.migration_invariants import MigrationInvariants
from tests.support.migration_world import (
    HOSTS,
    LIVE,
    LIVE_AND_STORAGE,
    NS,
    STAGED,
    STORAGE,
    TERMINAL,
    Tracked,
)


class MigrationMachine(MigrationInvariants, RuleBasedStateMachine):
    jobs = Bundle("jobs")
    networks = Bundle("networks")

    @initialize()
    def open_world(self) -> None:
        self._open()
        with self.store.unit_of_work() as uow:
            self.limits = {h.name: (h.max_active_vm_migrations, h.max_active_storage_migrations)
                           for h in uow.session.scalars(select(Host))}
        self.previous_counts = {h: (0, 0) for h in HOSTS}
        self.vm_states = {vm[0]: vm[3] for vm in self._world()["vms"] if not vm[2]}
        for host in HOSTS:
            # One slot each to begin with, so that requests queue.
            self.modify_service_settings(host, 1, 1, None)

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.dispose()

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
