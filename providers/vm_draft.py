"""A VM's configuration while one definition method changes it (§12, §13.2).

DefineSystem, ModifySystemSettings and the resource methods check every embedded setting
against a draft of the VM before anything is written: the dispatcher commits whatever a
method wrote, refusals included, so a refused call must not have written anything. `apply`
then writes the whole draft at once and moves the VM's version on, so every view of its
settings and devices is rendered anew.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from providers.vm_setting_ids import (
    IDE_PART,
    disk_setting_part,
    drive_setting_part,
    port_setting_part,
    scsi_controller_guids,
)
from storage.models import NetworkAdapter, VirtualDisk, VirtualMachine
from storage.repositories import WorldUnitOfWork

# The VM columns a definition method may change; the others stay as the VM was defined.
EDITABLE = ("element_name", "notes", "automatic_startup_action", "automatic_shutdown_action",
            "memory_mb", "dynamic_memory", "memory_min_mb", "memory_max_mb", "processors",
            "processor_limit", "processor_reservation", "processor_weight",
            "limit_processor_features", "serial_connections", "scsi_controllers")
IDE_SLOTS, SCSI_SLOTS = 2, 64  # drive locations per controller
MAX_SCSI_CONTROLLERS = 4  # per VM, on every Hyper-V version


@dataclass
class DraftDrive:
    controller_kind: str  # "ide" or "scsi"
    controller_number: int
    controller_guid: str
    location: int
    path: str  # "" while the drive holds no virtual hard disk
    size_gb: int
    row: VirtualDisk | None = None  # None: added by this call
    removed: bool = False

    @property
    def drive_part(self) -> str:
        return drive_setting_part(self)

    @property
    def disk_part(self) -> str:
        return disk_setting_part(self)


@dataclass
class DraftAdapter:
    adapter_guid: str
    element_name: str
    switch_name: str  # "" while not connected
    mac_address: str
    row: NetworkAdapter | None = None
    removed: bool = False

    @property
    def nic_part(self) -> str:
        return self.adapter_guid

    @property
    def port_part(self) -> str:
        return port_setting_part(self)


@dataclass(frozen=True)
class Controller:
    kind: str
    number: int
    guid: str

    @property
    def part(self) -> str:
        return f"{self.guid}\\{self.number}"

    @property
    def slots(self) -> int:
        return IDE_SLOTS if self.kind == "ide" else SCSI_SLOTS


@dataclass
class VMDraft:
    guid: str
    generation: int
    enabled_state: int
    planned: bool
    settings: dict[str, Any]  # the EDITABLE columns (every column for a VM being defined)
    drives: list[DraftDrive] = field(default_factory=list)
    adapters: list[DraftAdapter] = field(default_factory=list)
    vm: VirtualMachine | None = None  # None while the VM is being defined

    @classmethod
    def of(cls, vm: VirtualMachine) -> VMDraft:
        settings = {name: getattr(vm, name) for name in EDITABLE}
        settings["notes"] = list(vm.notes)
        settings["serial_connections"] = list(vm.serial_connections)
        settings["scsi_controllers"] = scsi_controller_guids(vm, vm.disks)
        return cls(vm.guid, vm.generation, vm.enabled_state, vm.planned, settings, [
            DraftDrive(d.controller_kind, d.controller_number, d.controller_guid, d.location,
                       d.path, d.size_gb, row=d) for d in vm.disks], [
            DraftAdapter(a.adapter_guid, a.element_name, a.switch_name, a.mac_address, row=a)
            for a in vm.network_adapters], vm=vm)

    @property
    def name(self) -> str:
        return str(self.settings["element_name"])

    @property
    def is_off(self) -> bool:
        """Off (or planned): the only time a host lets memory size or vCPU count change."""
        return self.planned or self.enabled_state == 3

    def live_drives(self) -> list[DraftDrive]:
        return [d for d in self.drives if not d.removed]

    def live_adapters(self) -> list[DraftAdapter]:
        return [a for a in self.adapters if not a.removed]

    @property
    def scsi_controllers(self) -> list[str]:
        """The GUIDs of the VM's SCSI controllers, in the order the host lists them."""
        return list(self.settings["scsi_controllers"])

    def controllers(self) -> list[Controller]:
        """IDE 0 and 1 on generation 1, then the SCSI controllers (as vm_devices shows them)."""
        found = [Controller("ide", n, IDE_PART) for n in (0, 1)] if self.generation == 1 else []
        return found + [Controller("scsi", 0, g) for g in self.scsi_controllers]

    def drive_at(self, controller: Controller, location: int) -> DraftDrive | None:
        return next((d for d in self.live_drives()
                     if d.controller_guid.lower() == controller.guid.lower()
                     and d.controller_number == controller.number and d.location == location),
                    None)

    def apply(self, uow: WorldUnitOfWork, host_id: int) -> VirtualMachine:
        """Write the draft: a new VM for one being defined, else only what changed."""
        vm = self.vm
        if vm is None:
            vm = self.vm = uow.vms.define(host_id, self.settings)
        else:
            for name in EDITABLE:
                if getattr(vm, name) != self.settings[name]:
                    setattr(vm, name, self.settings[name])
        for drive in self.drives:
            if drive.row is None and not drive.removed:
                drive.row = uow.vms.add_disk(
                    vm, controller_kind=drive.controller_kind,
                    controller_number=drive.controller_number,
                    controller_guid=drive.controller_guid, location=drive.location,
                    path=drive.path, size_gb=drive.size_gb)
            elif drive.row is not None and drive.removed:
                uow.vms.remove_disk(vm, drive.row)
            elif drive.row is not None and (drive.row.path, drive.row.size_gb) != (
                    drive.path, drive.size_gb):
                drive.row.path, drive.row.size_gb = drive.path, drive.size_gb
        for adapter in self.adapters:
            if adapter.row is None and not adapter.removed:
                adapter.row = uow.vms.add_adapter(
                    vm, adapter_guid=adapter.adapter_guid, element_name=adapter.element_name,
                    switch_name=adapter.switch_name, mac_address=adapter.mac_address)
            elif adapter.row is not None and adapter.removed:
                uow.vms.remove_adapter(vm, adapter.row)
            elif adapter.row is not None:
                row = adapter.row
                row.element_name, row.switch_name, row.mac_address = (
                    adapter.element_name, adapter.switch_name, adapter.mac_address)
        uow.vms.touch(vm)
        return vm
