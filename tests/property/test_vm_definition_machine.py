"""Random definition sequences — DefineSystem, disks, SCSI controllers, NICs, memory and vCPU
changes, DestroySystem — mixed with lifecycle changes (RequestStateChange) and time passing.

In-process, on the world of tests/support/migration_world.py (three generated hosts, a fake
clock). After every step: each VM is on exactly one host, its resources are within its host's
limits, every device's parent exists (in the store and in the settings a client reads), and a
call that was refused changed nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from pywbem import CIMInstance, CIMInstanceName, Uint16, Uint64
from sqlalchemy import select

from providers.computer_system import switch_guid
from providers.vm_draft import IDE_SLOTS, MAX_SCSI_CONTROLLERS, SCSI_SLOTS
from providers.vm_setting_ids import (
    IDE_PART,
    MEMORY_PART,
    PROCESSOR_PART,
    RASD,
    SASD,
    scsi_controller_guids,
    switch_ref_text,
)
from storage.models import Host, VirtualMachine
from tests.support.migration_world import HOSTS, NS, MigrationWorld

VSMS = "Msvm_VirtualSystemManagementService"
VSSD = "Msvm_VirtualSystemSettingData"
RUNNING_STATES = {2, 9, 4, 10, 32773, 32776, 32777}
SUCCESS = {0, 4096}


def embedded(classname: str, **values: Any) -> CIMInstance:
    return CIMInstance(classname, properties=values)


class DefinitionMachine(MigrationWorld, RuleBasedStateMachine):
    @initialize()
    def open_world(self) -> None:
        self._open()
        self.disk_serial = 0
        self.touched: set[str] = set()

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.dispose()

    # -------------------------------------------------------------------------- helpers

    def _stored(self) -> dict[str, Any]:
        """Every VM as stored, with what the invariants and the no-change check compare."""
        with self.store.unit_of_work() as uow:
            hosts = {h.id: h for h in uow.session.scalars(select(Host))}
            limits = {h.id: (h.name, h.memory_mb, h.logical_processors, tuple(h.virtual_switches))
                      for h in hosts.values()}
            vms = []
            for vm in uow.session.scalars(select(VirtualMachine).order_by(VirtualMachine.id)):
                vms.append({
                    "guid": vm.guid, "host_id": vm.host_id, "planned": vm.planned,
                    "generation": vm.generation, "state": vm.enabled_state,
                    "memory": vm.memory_mb, "processors": vm.processors,
                    "version": vm.version_id, "name": vm.element_name,
                    "controllers": tuple(scsi_controller_guids(vm, vm.disks)),
                    "disks": tuple((d.controller_kind, d.controller_guid.upper(), d.location,
                                    d.path) for d in vm.disks),
                    "adapters": tuple((a.adapter_guid, a.switch_name)
                                      for a in vm.network_adapters)})
        return {"limits": limits, "vms": vms}

    def _vms(self) -> list[dict[str, Any]]:
        return [vm for vm in self._stored()["vms"] if not vm["planned"]]

    def _pick(self, index: int) -> dict[str, Any]:
        vms = self._vms()
        return vms[index % len(vms)]

    def _host_name(self, vm: dict[str, Any]) -> str:
        return str(self._stored()["limits"][vm["host_id"]][0])

    def _service(self, host: str) -> CIMInstanceName:
        return self.dispatcher.enumerate_instance_names(host, NS, VSMS)[0]

    def _settled(self, host: str) -> None:
        """A read, so that jobs due at this moment end before the world is compared."""
        self.dispatcher.enumerate_instance_names(host, NS, VSMS)

    def _call(self, host: str, target: CIMInstanceName | None, method: str,
              **params: Any) -> tuple[int, Any]:
        """Invoke; a refused call must leave every VM as it was."""
        self._settled(host)
        self.touched.add(host)
        before = self._stored()["vms"]
        rv, out = self.invoke(host, target or self._service(host), method, **params)
        if rv not in SUCCESS:
            assert self._stored()["vms"] == before, f"{method} returned {rv} and changed the world"
        return rv, out

    def _resources(self, vm: dict[str, Any], *settings: CIMInstance) -> tuple[int, Any]:
        configuration = CIMInstanceName(VSSD, {"InstanceID": f"Microsoft:{vm['guid']}"})
        return self._call(self._host_name(vm), None, "AddResourceSettings",
                          AffectedConfiguration=configuration, ResourceSettings=list(settings))

    # -------------------------------------------------------------------------- rules

    @rule(host=st.sampled_from(HOSTS), generation=st.sampled_from([1, 2]),
          memory=st.sampled_from([512, 1024, 2048, 4095, 10 ** 9]),
          processors=st.sampled_from([1, 2, 4, 99]))
    def define(self, host: str, generation: int, memory: int, processors: int) -> None:
        self._call(host, None, "DefineSystem",
                   SystemSettings=embedded(VSSD, ElementName=f"p-{self.disk_serial}",
                                           VirtualSystemSubType=f"Microsoft:Hyper-V:SubType:"
                                                                f"{generation}"),
                   ResourceSettings=[embedded("Msvm_MemorySettingData",
                                              VirtualQuantity=Uint64(memory)),
                                     embedded("Msvm_ProcessorSettingData",
                                              VirtualQuantity=Uint64(processors))])
        self.disk_serial += 1

    @rule(index=st.integers(0, 99), shared=st.booleans(), controller=st.integers(0, 5))
    def add_disk(self, index: int, shared: bool, controller: int) -> None:
        vm = self._pick(index)
        # A path another disk may already use (refused: in use) or a new one.
        path = "C:\\VMs\\shared.vhdx" if shared else f"C:\\VMs\\d{self.disk_serial}.vhdx"
        self.disk_serial += 1
        parts = [f"{IDE_PART}\\0", f"{IDE_PART}\\1",
                 *(f"{guid}\\0" for guid in vm["controllers"])]
        chosen = f"Microsoft:{vm['guid']}\\{parts[controller % len(parts)]}"
        drive = embedded(RASD, ResourceType=Uint16(17), Parent=self._path_text(chosen))
        rv, out = self._resources(vm, drive)
        if rv == 0:
            (made,) = out["ResultingResourceSettings"]
            self._resources(vm, embedded(SASD, HostResource=[path], Parent=self._path_text(
                str(made.keybindings["InstanceID"]))))

    @rule(index=st.integers(0, 99))
    def add_controller(self, index: int) -> None:
        self._resources(self._pick(index), embedded(RASD, ResourceType=Uint16(6)))

    @rule(index=st.integers(0, 99), which=st.integers(0, 5), ide=st.booleans())
    def remove_controller(self, index: int, which: int, ide: bool) -> None:
        vm = self._pick(index)
        parts = [f"{IDE_PART}\\{which % 2}"] if ide else \
            [f"{guid}\\0" for guid in vm["controllers"]]
        if not parts:
            return
        path = CIMInstanceName(RASD, {"InstanceID":
                                      f"Microsoft:{vm['guid']}\\{parts[which % len(parts)]}"})
        self._call(self._host_name(vm), None, "RemoveResourceSettings", ResourceSettings=[path])

    @rule(index=st.integers(0, 99), which=st.integers(0, 99))
    def remove_drive(self, index: int, which: int) -> None:
        vm = self._pick(index)
        if not vm["disks"]:
            return
        kind, guid, location, _path = vm["disks"][which % len(vm["disks"])]
        number = 0 if kind == "scsi" else None
        with self.store.unit_of_work() as uow:
            row = uow.session.scalars(select(VirtualMachine).where(
                VirtualMachine.guid == vm["guid"], VirtualMachine.planned.is_(False))).one()
            disk = next(d for d in row.disks if d.controller_guid.upper() == guid
                        and d.location == location)
            number = disk.controller_number
        path = CIMInstanceName(RASD, {"InstanceID": f"Microsoft:{vm['guid']}\\{guid}\\"
                                                    f"{number}\\{location}\\D"})
        self._call(self._host_name(vm), None, "RemoveResourceSettings", ResourceSettings=[path])

    @rule(index=st.integers(0, 99), known_switch=st.booleans())
    def add_nic(self, index: int, known_switch: bool) -> None:
        vm = self._pick(index)
        host = self._host_name(vm)
        switch = switch_ref_text(host, switch_guid(self._host_row(host),
                                                   "External" if known_switch else "Nope"))
        self._resources(vm, embedded("Msvm_SyntheticEthernetPortSettingData"),
                        embedded("Msvm_EthernetPortAllocationSettingData", HostResource=[switch]))

    @rule(index=st.integers(0, 99), which=st.integers(0, 9))
    def remove_nic(self, index: int, which: int) -> None:
        vm = self._pick(index)
        if not vm["adapters"]:
            return
        guid = vm["adapters"][which % len(vm["adapters"])][0]
        path = CIMInstanceName("Msvm_SyntheticEthernetPortSettingData",
                               {"InstanceID": f"Microsoft:{vm['guid']}\\{guid}"})
        self._call(self._host_name(vm), None, "RemoveResourceSettings", ResourceSettings=[path])

    @rule(index=st.integers(0, 99), memory=st.sampled_from([512, 2048, 3001, 10 ** 8]))
    def modify_memory(self, index: int, memory: int) -> None:
        vm = self._pick(index)
        self._call(self._host_name(vm), None, "ModifyResourceSettings", ResourceSettings=[
            embedded("Msvm_MemorySettingData", VirtualQuantity=Uint64(memory),
                     InstanceID=f"Microsoft:{vm['guid']}\\{MEMORY_PART}")])

    @rule(index=st.integers(0, 99), processors=st.sampled_from([0, 1, 2, 8, 99]))
    def modify_processors(self, index: int, processors: int) -> None:
        vm = self._pick(index)
        self._call(self._host_name(vm), None, "ModifyResourceSettings", ResourceSettings=[
            embedded("Msvm_ProcessorSettingData", VirtualQuantity=Uint64(processors),
                     InstanceID=f"Microsoft:{vm['guid']}\\{PROCESSOR_PART}\\0")])

    @rule(index=st.integers(0, 99), requested=st.sampled_from([2, 3, 6, 9]))
    def change_state(self, index: int, requested: int) -> None:
        vm = self._pick(index)
        self._call(self._host_name(vm), self._vm_path(self._host_name(vm), vm["guid"]),
                   "RequestStateChange", RequestedState=Uint16(requested))

    @rule(index=st.integers(0, 99))
    def destroy(self, index: int) -> None:
        vm = self._pick(index)
        if len(self._vms()) <= 2:
            return  # keep something to work on
        host = self._host_name(vm)
        self._call(host, None, "DestroySystem", AffectedSystem=self._vm_path(host, vm["guid"]))

    @rule(seconds=st.sampled_from([0.5, 3, 30]))
    def time_passes(self, seconds: float) -> None:
        self.clock.moment += timedelta(seconds=seconds)

    @staticmethod
    def _path_text(instance_id: str) -> str:
        """A setting's object path as a Parent carries it (backslashes escaped)."""
        return f'{RASD}.InstanceID="{instance_id.replace(chr(92), chr(92) * 2)}"'

    def _host_row(self, name: str) -> Any:
        with self.store.unit_of_work() as uow:
            host = next(h for h in uow.session.scalars(select(Host)) if h.name == name)
            uow.session.expunge(host)
            return host

    # -------------------------------------------------------------------------- invariants

    @invariant()
    def each_vm_on_one_host_within_its_limits(self) -> None:
        stored = self._stored()
        guids = [vm["guid"] for vm in stored["vms"] if not vm["planned"]]
        assert len(guids) == len(set(guids))
        for vm in stored["vms"]:
            name, memory, processors, switches = stored["limits"][vm["host_id"]]
            assert vm["memory"] <= memory and vm["memory"] % 2 == 0, vm
            assert 1 <= vm["processors"] <= processors, vm
            assert len(vm["controllers"]) <= MAX_SCSI_CONTROLLERS, vm
            ide = {f"{IDE_PART}".upper()} if vm["generation"] == 1 else set()
            controllers = {g.upper() for g in vm["controllers"]} | ide
            slots = set()
            for kind, guid, location, _path in vm["disks"]:
                assert guid in controllers, f"{name}: a drive on a missing controller {guid}"
                assert 0 <= location < (IDE_SLOTS if kind == "ide" else SCSI_SLOTS)
                assert (guid, location) not in slots
                slots.add((guid, location))
            assert all(s in switches for _a, s in vm["adapters"] if s), vm
        running: dict[int, int] = {}
        for vm in stored["vms"]:
            if not vm["planned"] and vm["state"] in RUNNING_STATES:
                running[vm["host_id"]] = running.get(vm["host_id"], 0) + vm["memory"]
        for host_id, used in running.items():
            assert used <= stored["limits"][host_id][1]

    @invariant()
    def every_setting_a_client_reads_has_its_parent(self) -> None:
        """On the hosts the last step called (reading every host each step is slow)."""
        touched, self.touched = self.touched, set()
        for host in sorted(touched):
            settings = [r.instance() for classname in (RASD, SASD,
                                                       "Msvm_EthernetPortAllocationSettingData")
                        for r in self.dispatcher.enumerate_instances(host, NS, classname)]
            ids = {str(s["InstanceID"]).lower() for s in settings} | {
                str(r.instance()["InstanceID"]).lower() for r in
                self.dispatcher.enumerate_instances(host, NS,
                                                    "Msvm_SyntheticEthernetPortSettingData")}
            for setting in settings:
                parent = setting.get("Parent")
                if not parent:
                    continue
                instance_id = str(parent).split('InstanceID="', 1)[1].rstrip('"')
                assert instance_id.replace("\\\\", "\\").lower() in ids, (host, parent)


DefinitionMachine.TestCase.settings = settings(
    max_examples=10, stateful_step_count=25, deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_vm_definition_machine = DefinitionMachine.TestCase


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
