"""Defining and changing VMs through the management service, on the fake world: DefineSystem
with resources, ModifySystemSettings, Add/Modify/RemoveResourceSettings, and every refusal
leaving the world as it was with a failed job that carries the Msvm_Error."""

from __future__ import annotations

from typing import Any

import pytest
from pywbem import CIMInstance, CIMInstanceName, CIMProperty, Uint16, Uint64

from providers.base import MalformedEmbedded, MethodResult
from providers.computer_system import switch_guid
from providers.jobs import JobMethods
from providers.management_service import ManagementServiceMethods
from providers.migration.checks import processor_count_errors
from providers.migration.migration_request import STAGED
from providers.return_codes import DmtfReturnCode
from providers.vm_setting_ids import (
    MEMORY_PART,
    NIC_SD,
    PORT_SD,
    PROCESSOR_PART,
    RASD,
    SASD,
    disk_setting_part,
    port_setting_part,
    switch_ref_text,
)
from providers.vm_settings import ResourceSettingsProvider, VirtualSystemSettingsProvider
from storage.models import VirtualMachine
from tests.unit.test_providers_on_fake_world import HV1, WEB01, Cluster, service_path

SCSI_SUBTYPE = "Microsoft:Hyper-V:Synthetic SCSI Controller"
DB01 = "1F2E3D4C-5B6A-4978-8877-66554433AA11"  # off, generation 2, on HV-01


def instance(classname: str, **values: Any) -> CIMInstance:
    return CIMInstance(classname, properties=[CIMProperty(k, v) for k, v in values.items()])


def switch_path(cluster: Cluster, name: str = "External") -> str:
    host = cluster.world.hosts[0]
    return switch_ref_text(host.name, switch_guid(host, name))


def settings_path(guid: str) -> CIMInstanceName:
    return CIMInstanceName("Msvm_VirtualSystemSettingData",
                           keybindings={"InstanceID": f"Microsoft:{guid}"})


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


def call(cluster: Cluster, method: str, **params: Any) -> MethodResult:
    return cluster.call(ManagementServiceMethods(cluster.timeline),
                        service_path(cluster, "HV-01", management=True), method, **params)


def error_of(cluster: Cluster, result: MethodResult) -> dict[str, Any]:
    job = result.out["Job"]
    assert isinstance(job, CIMInstanceName)
    errors = cluster.call(JobMethods(cluster.timeline), job, "GetErrorEx").out["Errors"]
    assert len(errors) == 1
    return dict(errors[0].values)


def define(cluster: Cluster, *resources: CIMInstance, **system: Any) -> VirtualMachine:
    result = call(cluster, "DefineSystem",
                  SystemSettings=instance("Msvm_VirtualSystemSettingData", **system),
                  ResourceSettings=list(resources))
    assert result.return_value == DmtfReturnCode.COMPLETED, error_of(cluster, result)
    guid = result.out["ResultingSystem"].keybindings["Name"]
    return next(vm for vm in cluster.world.vms if vm.guid == guid)


def test_define_system_makes_an_off_vm_with_its_generations_devices(cluster: Cluster) -> None:
    vm = define(
        cluster,
        instance("Msvm_MemorySettingData", VirtualQuantity=Uint64(2048)),
        instance("Msvm_ProcessorSettingData", VirtualQuantity=Uint64(4)),
        instance(SASD, ResourceType=Uint16(31), HostResource=["D:\\VMs\\new-01.vhdx"]),
        instance(NIC_SD, ElementName="Frontend"),
        instance(PORT_SD, HostResource=[switch_path(cluster)]),
        ElementName="new-01", VirtualSystemSubType="Microsoft:Hyper-V:SubType:2",
        Notes=["made by a test"], AutomaticStartupAction=Uint16(4))
    assert (vm.element_name, vm.enabled_state, vm.generation, vm.host_id) == ("new-01", 3, 2, 1)
    assert (vm.memory_mb, vm.processors, vm.notes) == (2048, 4, ["made by a test"])
    assert vm.config_version == cluster.world.hosts[0].default_version
    assert [(d.controller_kind, d.location, d.path) for d in vm.disks] == [
        ("scsi", 0, "D:\\VMs\\new-01.vhdx")]
    assert [(a.element_name, a.switch_name) for a in vm.network_adapters] == [
        ("Frontend", "External")]
    ctx = cluster.context()
    (vssd,) = [r.values() for r in VirtualSystemSettingsProvider().enumerate(
        ctx, HV1, "Msvm_VirtualSystemSettingData") if r.keys["InstanceID"].endswith(vm.guid)]
    assert (vssd["ElementName"], vssd["AutomaticStartupAction"]) == ("new-01", 4)
    mine = [r for classname in (RASD, "Msvm_SerialPortSettingData", NIC_SD)
            for r in ResourceSettingsProvider().enumerate(ctx, HV1, classname)
            if vm.guid in r.keys["InstanceID"]]
    subtypes = sorted(str(r.values()["ResourceSubType"]) for r in mine)
    assert subtypes == sorted([
        "Microsoft:Hyper-V:Synthetic Keyboard", "Microsoft:Hyper-V:Synthetic Display Controller",
        "Microsoft:Hyper-V:Synthetic SCSI Controller", "Microsoft:Hyper-V:Synthetic Disk Drive",
        "Microsoft:Hyper-V:Serial Port", "Microsoft:Hyper-V:Serial Port",
        "Microsoft:Hyper-V:Synthetic Ethernet Port"])


def test_a_drive_then_its_disk_are_added_and_removed_as_libvirt_does(cluster: Cluster) -> None:
    vm = define(cluster, ElementName="gen1")  # generation 1: IDE 0 and IDE 1
    version = vm.version_id
    ide0 = (f'\\\\HV-01\\root\\virtualization\\v2:{RASD}.InstanceID="Microsoft:{vm.guid}'
            '\\\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\\\0"')
    added = call(cluster, "AddResourceSettings", AffectedConfiguration=settings_path(vm.guid),
                 ResourceSettings=[instance(RASD, ResourceType=Uint16(17), Parent=ide0,
                                            AddressOnParent="1")])
    assert added.return_value == 0
    (drive,) = added.out["ResultingResourceSettings"]
    assert drive.keybindings["InstanceID"].endswith("\\0\\1\\D")
    drive_text = (f'\\\\HV-01\\root\\virtualization\\v2:{RASD}.InstanceID="'
                  + drive.keybindings["InstanceID"].replace("\\", "\\\\") + '"')
    added = call(cluster, "AddResourceSettings", AffectedConfiguration=settings_path(vm.guid),
                 ResourceSettings=[instance(SASD, Parent=drive_text,
                                            HostResource=["D:\\gen1.vhdx"])])
    assert added.return_value == 0
    (disk,) = added.out["ResultingResourceSettings"]
    assert [(d.location, d.path) for d in vm.disks] == [(1, "D:\\gen1.vhdx")]
    assert vm.version_id > version  # the views of its devices are rendered anew
    assert call(cluster, "RemoveResourceSettings", ResourceSettings=[disk]).return_value == 0
    assert [d.path for d in vm.disks] == [""]
    assert call(cluster, "RemoveResourceSettings", ResourceSettings=[drive]).return_value == 0
    assert vm.disks == []


def rasd_path_text(instance_id: str) -> str:
    """A Parent as libvirt writes it: the host's WMI path with the backslashes doubled."""
    escaped = instance_id.replace("\\", "\\\\")
    return f'\\\\HV-01\\Root\\Virtualization\\V2:{RASD}.InstanceID="{escaped}"'


def add(cluster: Cluster, guid: str, setting: CIMInstance) -> MethodResult:
    return call(cluster, "AddResourceSettings", AffectedConfiguration=settings_path(guid),
                ResourceSettings=[setting])


def test_a_scsi_controller_drive_and_disk_are_added_as_libvirt_defines_them(
        cluster: Cluster) -> None:
    vm = define(cluster, ElementName="lv-01")  # generation 1: no SCSI controller yet
    added = add(cluster, vm.guid, instance(RASD, ResourceType=Uint16(6),
                                           ResourceSubType=SCSI_SUBTYPE))
    assert added.return_value == 0, error_of(cluster, added)
    (controller,) = added.out["ResultingResourceSettings"]
    assert controller.classname == RASD and controller.keybindings["InstanceID"].endswith("\\0")
    added = add(cluster, vm.guid, instance(
        RASD, ResourceType=Uint16(17), ResourceSubType="Microsoft:Hyper-V:Synthetic Disk Drive",
        Parent=rasd_path_text(controller.keybindings["InstanceID"]), AddressOnParent="3"))
    assert added.return_value == 0, error_of(cluster, added)
    (drive,) = added.out["ResultingResourceSettings"]
    # libvirt sends the virtual hard disk as the base class with ResourceType 31.
    added = add(cluster, vm.guid, instance(
        RASD, ResourceType=Uint16(31), ResourceSubType="Microsoft:Hyper-V:Virtual Hard Disk",
        Parent=rasd_path_text(drive.keybindings["InstanceID"]), HostResource=["D:\\lv.vhdx"]))
    assert added.return_value == 0, error_of(cluster, added)
    assert [(d.controller_kind, d.location, d.path) for d in vm.disks] == [
        ("scsi", 3, "D:\\lv.vhdx")]
    assert vm.scsi_controllers == [vm.disks[0].controller_guid]

    # Removing the controller takes its drive and disk along.
    assert call(cluster, "RemoveResourceSettings",
                ResourceSettings=[controller]).return_value == 0
    assert (vm.disks, vm.scsi_controllers) == ([], [])


def test_scsi_controllers_stop_at_four_and_ide_controllers_are_fixed(cluster: Cluster) -> None:
    vm = define(cluster, ElementName="lv-02", VirtualSystemSubType="Microsoft:Hyper-V:SubType:2")
    scsi = instance(RASD, ResourceType=Uint16(6))
    for _ in range(3):  # generation 2 starts with one
        assert add(cluster, vm.guid, scsi).return_value == 0
    refused = add(cluster, vm.guid, scsi)
    assert refused.return_value == DmtfReturnCode.INVALID_PARAMETER
    assert "4 SCSI controllers" in error_of(cluster, refused)["Message"]
    assert len(vm.scsi_controllers or []) == 4
    refused = add(cluster, vm.guid, instance(RASD, ResourceType=Uint16(5)))
    assert refused.return_value == DmtfReturnCode.INVALID_PARAMETER

    gen1 = define(cluster, ElementName="lv-03")
    ide1 = CIMInstanceName(RASD, keybindings={
        "InstanceID": f"Microsoft:{gen1.guid}\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\1"})
    refused = call(cluster, "RemoveResourceSettings", ResourceSettings=[ide1])
    assert refused.return_value == DmtfReturnCode.INVALID_PARAMETER
    assert "IDE controllers cannot be removed" in error_of(cluster, refused)["Message"]

    # A running VM keeps its controllers: invalid state, nothing changed.
    web01 = next(v for v in cluster.world.vms if v.guid == WEB01)
    before = list(web01.disks)
    refused = add(cluster, WEB01, scsi)
    assert refused.return_value == DmtfReturnCode.INVALID_STATE
    assert web01.disks == before and web01.scsi_controllers is None


def test_modify_system_settings_renames_and_sets_the_automatic_actions(
        cluster: Cluster) -> None:
    result = call(cluster, "ModifySystemSettings", SystemSettings=instance(
        "Msvm_VirtualSystemSettingData", InstanceID=f"Microsoft:{WEB01}", ElementName="web-1b",
        Notes=["renamed"], AutomaticShutdownAction=Uint16(4)))
    assert result.return_value == 0
    vm = cluster.vm()
    assert (vm.element_name, vm.notes, vm.automatic_shutdown_action) == (
        "web-1b", ["renamed"], 4)


def test_memory_and_processors_change_while_off_within_the_hosts_limits(
        cluster: Cluster) -> None:
    result = call(cluster, "ModifyResourceSettings", ResourceSettings=[
        instance("Msvm_MemorySettingData", InstanceID=f"Microsoft:{DB01}\\{MEMORY_PART}",
                 DynamicMemoryEnabled=True, VirtualQuantity=Uint64(8192),
                 Reservation=Uint64(2048), Limit=Uint64(32768)),
        instance("Msvm_ProcessorSettingData", InstanceID=f"Microsoft:{DB01}\\{PROCESSOR_PART}\\0",
                 VirtualQuantity=Uint64(16), Limit=Uint64(50000), Weight=Uint64(200))])
    assert result.return_value == 0
    vm = cluster.vm(DB01)
    assert (vm.memory_mb, vm.dynamic_memory, vm.memory_min_mb, vm.memory_max_mb) == (
        8192, True, 2048, 32768)
    assert (vm.processors, vm.processor_limit, vm.processor_weight) == (16, 50000, 200)


def _memory(guid: str, **values: Any) -> CIMInstance:
    return instance("Msvm_MemorySettingData", InstanceID=f"Microsoft:{guid}\\{MEMORY_PART}",
                    **values)


@pytest.mark.parametrize(("method", "params", "code", "reason"), [
    ("ModifyResourceSettings",
     {"ResourceSettings": [_memory(WEB01, VirtualQuantity=Uint64(8192))]},
     DmtfReturnCode.INVALID_STATE, "cannot change while it is not off"),
    ("ModifyResourceSettings",
     {"ResourceSettings": [_memory(DB01, VirtualQuantity=Uint64(8191))]},
     DmtfReturnCode.INVALID_PARAMETER, "multiple of 2"),
    ("ModifyResourceSettings", {"ResourceSettings": [instance(
        "Msvm_ProcessorSettingData", InstanceID=f"Microsoft:{DB01}\\{PROCESSOR_PART}\\0",
        VirtualQuantity=Uint64(64))]},
     DmtfReturnCode.INVALID_PARAMETER, "32 logical processors"),
    ("ModifyResourceSettings", {"ResourceSettings": [instance(
        "Msvm_ProcessorSettingData", InstanceID=f"Microsoft:{DB01}\\{MEMORY_PART}")]},
     DmtfReturnCode.INVALID_PARAMETER, "names the memory"),
    ("ModifyResourceSettings", {"ResourceSettings": [
        _memory(DB01, VirtualQuantity=Uint64(4096)),
        instance("Msvm_VirtualSystemSettingData", InstanceID=f"Microsoft:{DB01}")]},
     DmtfReturnCode.INVALID_PARAMETER, "not one of the resource allocation"),
    ("ModifyResourceSettings", {"ResourceSettings": [MalformedEmbedded("<x", "bad XML")]},
     DmtfReturnCode.INVALID_PARAMETER, "bad XML"),
    ("AddResourceSettings", {"AffectedConfiguration": settings_path(DB01),
                             "ResourceSettings": [instance(NIC_SD), instance(
                                 PORT_SD, HostResource=['Msvm_VirtualEthernetSwitch.'
                                                        'CreationClassName="Msvm_Virtual'
                                                        'EthernetSwitch",Name="NOPE"'])]},
     DmtfReturnCode.INVALID_PARAMETER, "not a virtual switch"),
    ("ModifySystemSettings", {"SystemSettings": instance(
        RASD, InstanceID=f"Microsoft:{DB01}", ElementName="x")},
     DmtfReturnCode.INVALID_PARAMETER, "not an Msvm_VirtualSystemSettingData"),
    ("ModifySystemSettings", {"SystemSettings": instance(
        "Msvm_VirtualSystemSettingData", InstanceID=f"Microsoft:{DB01}",
        VirtualSystemSubType="Microsoft:Hyper-V:SubType:1")},
     DmtfReturnCode.INVALID_PARAMETER, "generation"),
    ("DefineSystem", {"SystemSettings": instance("Msvm_VirtualSystemSettingData",
                                                 Version="1.0")},
     DmtfReturnCode.INVALID_PARAMETER, "configuration version"),
])
def test_refusals_change_nothing_and_explain_themselves(
        cluster: Cluster, method: str, params: dict[str, Any], code: int, reason: str) -> None:
    before = [(vm.guid, vm.version_id, vm.memory_mb, vm.processors, len(vm.network_adapters))
              for vm in cluster.world.vms]
    result = call(cluster, method, **params)
    assert result.return_value == code
    after = [(vm.guid, vm.version_id, vm.memory_mb, vm.processors, len(vm.network_adapters))
             for vm in cluster.world.vms]
    assert after == before
    error = error_of(cluster, result)
    assert reason in error["Message"], error["Message"]
    assert error["MessageID"].isdigit()
    (job,) = cluster.world.jobs
    assert (job.job_state, job.classname) == (10, "Msvm_ConcreteJob")


def test_a_vm_being_migrated_cannot_be_changed(cluster: Cluster) -> None:
    assert cluster.migrate().return_value == 4096
    result = call(cluster, "ModifySystemSettings", SystemSettings=instance(
        "Msvm_VirtualSystemSettingData", InstanceID=f"Microsoft:{WEB01}", ElementName="x"))
    assert result.return_value == DmtfReturnCode.INVALID_STATE
    assert "being migrated" in error_of(cluster, result)["Message"]
    assert cluster.vm().element_name == "web-01"


def test_a_destination_with_fewer_logical_processors_cannot_take_the_vm(
        cluster: Cluster) -> None:
    vm = cluster.vm(DB01)
    small = cluster.world.hosts[1]
    small.logical_processors = vm.processors - 1
    (error,) = processor_count_errors(vm, small)
    assert "logical processors" in error.Message
    assert processor_count_errors(vm, cluster.world.hosts[0]) == []


def test_a_planned_vm_is_reconnected_and_its_disk_moved_after_staging(cluster: Cluster) -> None:
    assert cluster.migrate(migration_type=STAGED).return_value == 4096
    (job,) = cluster.world.jobs
    assert job.due_at is not None
    cluster.clock.moment = job.due_at
    cluster.context()
    (planned,) = [vm for vm in cluster.world.vms if vm.planned]
    hv2 = cluster.world.hosts[1]
    adapter, disk = planned.network_adapters[0], planned.disks[0]
    result = cluster.call(
        ManagementServiceMethods(cluster.timeline),
        service_path(cluster, "HV-02", management=True), "ModifyResourceSettings",
        ResourceSettings=[
            instance(PORT_SD, InstanceID=f"Microsoft:{WEB01}\\{port_setting_part(adapter)}",
                     HostResource=[switch_ref_text(hv2.name, switch_guid(hv2, "Internal"))]),
            instance(SASD, InstanceID=f"Microsoft:{WEB01}\\{disk_setting_part(disk)}",
                     HostResource=["D:\\Planned\\web-01.vhdx"])])
    assert result.return_value == 0
    assert (adapter.switch_name, disk.path) == ("Internal", "D:\\Planned\\web-01.vhdx")
    assert cluster.vm().network_adapters[0].switch_name == "External"  # the source's stays
