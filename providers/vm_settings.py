"""A VM's settings (VSSD, RASD family) and logical devices, derived from its rows.

InstanceIDs follow the conventions recorded on real hosts (§12.2): "Microsoft:<VM GUID>\\<device
part>", with fixed device GUIDs for memory, processor and IDE controllers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from providers import world
from providers.base import (
    CLUSTER,
    V2,
    InstanceProvider,
    ProviderContext,
    Record,
    Scope,
    ref,
)
from providers.computer_system import CS, SWITCH, switch_guid, vm_etag
from providers.world import VMRow

VSSD = "Msvm_VirtualSystemSettingData"
RASD = "Msvm_ResourceAllocationSettingData"
SASD = "Msvm_StorageAllocationSettingData"
MEMORY_SD = "Msvm_MemorySettingData"
PROCESSOR_SD = "Msvm_ProcessorSettingData"
NIC_SD = "Msvm_SyntheticEthernetPortSettingData"
PORT_SD = "Msvm_EthernetPortAllocationSettingData"
SERIAL_PORT_SD = "Msvm_SerialPortSettingData"
PROCESSOR = "Msvm_Processor"
MEMORY = "Msvm_Memory"
DISK_DRIVE = "Msvm_DiskDrive"
LOGICAL_DISK = "Msvm_LogicalDisk"
KEYBOARD = "Msvm_Keyboard"
SYNTHETIC_DISPLAY = "Msvm_SyntheticDisplayController"
S3_DISPLAY = "Msvm_S3DisplayController"
VIDEO_HEAD = "Msvm_VideoHead"
SHUTDOWN_COMPONENT = "Msvm_ShutdownComponent"

MEMORY_PART = "4764334d-e001-4176-82ee-5594ec9b530e"
PROCESSOR_PART = "b637f346-6a0e-4dec-af52-bd70cb80a21d"
IDE_PART = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"
SERIAL_PART = "8E3A359F-559A-4B6A-98A9-1690A6100ED7"
KEYBOARD_PART = "DE6CDC86-E1FB-4940-801B-C3C1A26C4DA4\\Keyboard"
# No recording of a real host gives the display controller's device part; this one is
# hvsim's own, fixed so that paths stay stable across restarts and processes.
DISPLAY_PART = "5F2D6D5E-9B3C-4E5A-8E0B-3B5C2F1A9D47"
# The shutdown integration service's class GUID; its DeviceID is "Microsoft:<VM GUID>\<this>".
SHUTDOWN_SERVICE_GUID = "9F8233AC-BE49-4C79-8EE3-E7E1985B2077"
SETTINGS_ID = re.compile(r"^Microsoft:([0-9A-Fa-f-]{36})(?:\\(.*))?$")
# The video head's resolution: what the console shows, and the largest thumbnail of it.
SCREEN_WIDTH, SCREEN_HEIGHT = 1024, 768
DEVICE_CLASSES = (PROCESSOR, MEMORY, DISK_DRIVE, LOGICAL_DISK, KEYBOARD, SYNTHETIC_DISPLAY,
                  S3_DISPLAY, VIDEO_HEAD, SHUTDOWN_COMPONENT)
SETTING_CLASSES = (RASD, SASD, MEMORY_SD, PROCESSOR_SD, NIC_SD, PORT_SD, SERIAL_PORT_SD)


@dataclass
class Device:
    """One entry of a VM's configuration: its setting data and, if any, its logical device.

    A device without setting data of its own (a display controller's video head) has no
    setting_class.
    """

    setting_class: str | None
    part: str  # InstanceID after "Microsoft:<VM GUID>\"
    values: dict[str, Any]
    parent_part: str | None = None
    parent_class: str = RASD
    device_class: str | None = None
    device_part: str | None = None  # DeviceID after "Microsoft:"
    device_values: dict[str, Any] = field(default_factory=dict)


def settings_id(vm: VMRow, part: str | None = None) -> str:
    return f"Microsoft:{vm.guid}" if part is None else f"Microsoft:{vm.guid}\\{part}"


def vssd_ref(vm: VMRow) -> Any:
    return ref(VSSD, InstanceID=settings_id(vm))


def setting_ref(vm: VMRow, device: Device) -> Any:
    return ref(device.setting_class or "", InstanceID=settings_id(vm, device.part))


def device_keys(vm: VMRow, device: Device) -> dict[str, Any]:
    assert device.device_class is not None
    return {"SystemCreationClassName": CS, "SystemName": vm.guid,
            "CreationClassName": device.device_class, "DeviceID": f"Microsoft:{device.device_part}"}


def device_ref(vm: VMRow, device: Device) -> Any:
    return ref(device.device_class or "", **device_keys(vm, device))


def vm_devices(ctx: ProviderContext, vm: VMRow) -> list[Device]:
    key = ("devices", vm.id, vm.version_id)
    if key in ctx.memo:
        return ctx.memo[key]
    devices = [_memory(vm), _processor(vm), *_serial_ports(vm), _keyboard(vm), *_display(vm),
               *_shutdown_component(vm)]
    disks = world.disks_of(ctx, vm)
    if vm.generation == 1:
        for number in (0, 1):
            devices.append(Device(RASD, f"{IDE_PART}\\{number}", {
                "ResourceType": 5, "ResourceSubType": "Microsoft:Hyper-V:Emulated IDE Controller",
                "Caption": "IDE Controller", "ElementName": f"IDE Controller {number}",
                "Address": str(number)}))
    scsi = {d.controller_guid for d in disks if d.controller_kind == "scsi"}
    if vm.generation == 2 and not scsi:
        scsi = {default_scsi_guid(vm)}
    for controller in sorted(scsi):
        devices.append(Device(RASD, f"{controller}\\0", {
            "ResourceType": 6, "ResourceSubType": "Microsoft:Hyper-V:Synthetic SCSI Controller",
            "Caption": "SCSI Controller", "ElementName": "SCSI Controller",
            "VirtualSystemIdentifiers": [f"{{{controller.lower()}}}"]}))
    for disk in disks:
        controller_part = f"{disk.controller_guid}\\{disk.controller_number}"
        drive_part = drive_setting_part(disk)
        disk_part = disk_setting_part(disk)
        devices.append(Device(RASD, drive_part, {
            "ResourceType": 17, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Disk Drive",
            "Caption": "Hard Drive", "ElementName": "Hard Drive",
            "AddressOnParent": str(disk.location),
            # A drive names no host resource: an empty array, which WS-Man writes as no
            # element (clients count the elements before they read the first).
            "HostResource": [],
            "Description": "Settings for the Microsoft Synthetic Disk Drive."},
            parent_part=controller_part, device_class=DISK_DRIVE,
            device_part=drive_part, device_values={
                "ElementName": "Hard Drive", "Caption": "Hard Drive"}))
        if not disk.path:
            continue  # a drive without a virtual hard disk
        devices.append(Device(SASD, disk_part, {
            "ResourceType": 31, "ResourceSubType": "Microsoft:Hyper-V:Virtual Hard Disk",
            "Caption": "Hard Disk Image", "ElementName": "Hard Disk Image",
            "Description": "Settings for the Microsoft Hard Disk Image.",
            "HostResource": [disk.path], "PoolID": "", "Access": 3,
            "AllocationUnits": "count", "VirtualQuantityUnits": "count(fixed size block)",
            "VirtualQuantity": 1, "Limit": 1, "Reservation": 1,
            "HostResourceBlockSize": 1, "VirtualResourceBlockSize": 1,
            "CachingMode": 2, "IgnoreFlushes": False,
            "IOPSAllocationUnits": "count(normalized I/O) / second", "IOPSLimit": 0,
            "IOPSReservation": 0, "PersistentReservationsSupported": False,
            "WriteHardeningMethod": 0},
            parent_part=drive_part, device_class=LOGICAL_DISK, device_part=disk_part,
            device_values={"ElementName": disk.path.rsplit("\\", 1)[-1],
                           "Caption": "Hard Disk Image", "Name": disk.path,
                           "NumberOfBlocks": disk.size_gb * 2 * 1024 * 1024,
                           "BlockSize": 512}))
    for adapter in world.adapters_of(ctx, vm):
        nic_part = adapter.adapter_guid
        devices.append(Device(NIC_SD, nic_part, {
            "ResourceType": 10, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Ethernet Port",
            "Caption": "Virtual Ethernet Port", "ElementName": adapter.element_name,
            "Address": adapter.mac_address, "StaticMacAddress": False,
            "VirtualSystemIdentifiers": [f"{{{adapter.adapter_guid.lower()}}}"]}))
        host = world.host_by_id(ctx, vm.host_id)
        devices.append(Device(PORT_SD, port_setting_part(adapter), {
            "ResourceType": 33, "ResourceSubType": "Microsoft:Hyper-V:Ethernet Connection",
            "Caption": "Ethernet Switch Port Settings",
            "ElementName": "Dynamic Ethernet Switch Port",
            # An adapter that is not connected has no switch (HostResource empty).
            "HostResource": [switch_ref_text(host.name, switch_guid(host, adapter.switch_name))]
            if adapter.switch_name else None,
            "EnabledState": 2 if adapter.switch_name else 3,
            "LastKnownSwitchName": adapter.switch_name or None,
            # Hyper-V leaves the VLAN endpoint mode to the switch port's VLAN settings.
            "DesiredVLANEndpointMode": None, "OtherEndpointMode": None},
            parent_part=nic_part, parent_class=NIC_SD))
    ctx.memo[key] = devices
    return devices


def default_scsi_guid(vm: Any) -> str:
    """The SCSI controller a generation 2 VM has before any disk is attached to it."""
    return f"{vm.guid[:8]}-0000-4000-8000-000000000001"


def drive_setting_part(disk: Any) -> str:
    """The part after "Microsoft:<VM GUID>\\" of a disk drive's RASD InstanceID."""
    return f"{disk.controller_guid}\\{disk.controller_number}\\{disk.location}\\D"


def disk_setting_part(disk: Any) -> str:
    """The part after "Microsoft:<VM GUID>\\" of a virtual hard disk's SASD InstanceID."""
    return f"{disk.controller_guid}\\{disk.controller_number}\\{disk.location}\\L"


def port_setting_part(adapter: Any) -> str:
    """The part after "Microsoft:<VM GUID>\\" of a network adapter's connection settings."""
    return f"{adapter.adapter_guid}\\C"


def switch_ref_text(host_name: str, guid: str) -> str:
    return (f'\\\\{host_name}\\root\\virtualization\\v2:{SWITCH}.CreationClassName="{SWITCH}",'
            f'Name="{guid}"')


def _memory(vm: VMRow) -> Device:
    return Device(MEMORY_SD, MEMORY_PART, {
        "ResourceType": 4, "ResourceSubType": "Microsoft:Hyper-V:Memory",
        "Caption": "Memory", "Description": "Settings for Microsoft Virtual Memory.",
        "ElementName": "Memory", "AllocationUnits": "byte * 2^20",
        "VirtualQuantityUnits": "byte * 2^20", "VirtualQuantity": vm.memory_mb,
        "Reservation": vm.memory_min_mb, "Limit": vm.memory_max_mb, "Weight": 5000,
        "DynamicMemoryEnabled": vm.dynamic_memory, "TargetMemoryBuffer": 20,
        "IsVirtualized": True, "SwapFilesInUse": False, "HugePagesEnabled": False,
        "AutomaticAllocation": True, "AutomaticDeallocation": True, "ConsumerVisibility": 3,
        "PoolID": "", "MaxMemoryBlocksPerNumaNode": 1048576},
        device_class=MEMORY, device_part=f"{MEMORY_PART.upper()}\\0",
        device_values={"ElementName": "Memory", "Caption": "Memory",
                       "BlockSize": 1048576, "NumberOfBlocks": vm.memory_mb})


def _processor(vm: VMRow) -> Device:
    return Device(PROCESSOR_SD, f"{PROCESSOR_PART}\\0", {
        "ResourceType": 3, "ResourceSubType": "Microsoft:Hyper-V:Processor",
        "Caption": "Processor", "Description": "Settings for Microsoft Virtual Processor.",
        "ElementName": "Processor", "AllocationUnits": "percent / 1000",
        "VirtualQuantityUnits": "count", "VirtualQuantity": vm.processors,
        "Reservation": vm.processor_reservation, "Limit": vm.processor_limit,
        "Weight": vm.processor_weight, "ConsumerVisibility": 3, "PoolID": "",
        "LimitProcessorFeatures": vm.limit_processor_features, "LimitCPUID": False,
        "HwThreadsPerCore": 0, "MaxNumaNodesPerSocket": 1, "MaxProcessorsPerNumaNode": 4,
        "CpuGroupId": "00000000-0000-0000-0000-000000000000",
        "ExposeVirtualizationExtensions": False, "EnableHostResourceProtection": False,
        "HideHypervisorPresent": False, "AutomaticAllocation": True,
        "AutomaticDeallocation": True},
        device_class=PROCESSOR, device_part=f"{PROCESSOR_PART.upper()}\\0",
        device_values={"ElementName": "Processor", "Caption": "Processor",
                       "NumberOfEnabledCores": vm.processors})


def _serial_ports(vm: VMRow) -> list[Device]:
    """COM 1 and COM 2, on every VM; no named pipe until a user connects one."""
    return [Device(SERIAL_PORT_SD, serial_setting_part(number), {
        "ResourceType": 21, "ResourceSubType": "Microsoft:Hyper-V:Serial Port",
        "Caption": "COM Port", "Description": "Settings for the Microsoft Virtual Serial Port.",
        "ElementName": f"COM {number + 1}", "Connection": [vm.serial_connections[number]],
        "DebuggerMode": False,
        "AutomaticAllocation": True, "AutomaticDeallocation": True, "ConsumerVisibility": 3,
        "PoolID": "", "VirtualQuantityUnits": "count", "VirtualQuantity": 1, "Limit": 1,
        "Reservation": 1, "Weight": 0, "AllocationUnits": "count"}) for number in (0, 1)]


def serial_setting_part(number: int) -> str:
    """The part after "Microsoft:<VM GUID>\\" of COM <number + 1>'s settings."""
    return f"{SERIAL_PART}\\{number}"


_STATUS_OK = {"Availability": 6, "AdditionalAvailability": [6]}


def _shutdown_component(vm: VMRow) -> list[Device]:
    """Present while the guest runs with its shutdown service enabled (providers.vm_lifecycle
    answers its methods)."""
    if vm.enabled_state != 2 or not vm.shutdown_service:
        return []
    part = f"{vm.guid}\\{SHUTDOWN_SERVICE_GUID}"
    return [Device(None, part, {}, device_class=SHUTDOWN_COMPONENT, device_part=part,
                   device_values={**_STATUS_OK, "InstanceID": f"Microsoft:{part}",
                                  "Caption": "Shutdown", "ElementName": "Shutdown",
                                  "Description": "Microsoft Shutdown Service",
                                  "Name": "Shutdown"})]


def _keyboard(vm: VMRow) -> Device:
    synthetic = vm.generation == 2
    return Device(RASD, KEYBOARD_PART, {
        "ResourceType": 13,
        "ResourceSubType": "Microsoft:Hyper-V:Synthetic Keyboard" if synthetic
        else "Microsoft:Hyper-V:Ps2 Keyboard",
        "Caption": "Keyboard", "ElementName": "Keyboard",
        "Description": "Settings for the Microsoft Virtual Keyboard."},
        device_class=KEYBOARD, device_part=KEYBOARD_PART, device_values={
            **_STATUS_OK, "Caption": "Keyboard", "Description": "Microsoft Virtual Keyboard",
            "ElementName": "Keyboard", "Name": "Keyboard", "IsLocked": False,
            "Layout": "00000409", "NumberOfFunctionKeys": 12, "Password": 5,
            "UnicodeSupported": synthetic})


def _display(vm: VMRow) -> list[Device]:
    """The display controller (synthetic on generation 2, emulated S3 on generation 1) and
    its video head, which has no setting data of its own."""
    synthetic = vm.generation == 2
    label = "Synthetic Display Controller" if synthetic else "S3 Display Controller"
    controller = Device(RASD, DISPLAY_PART, {
        "ResourceType": 24, "ResourceSubType": f"Microsoft:Hyper-V:{label}",
        "Caption": "Video", "ElementName": "Video",
        "Description": f"Settings for the Microsoft {label}."},
        device_class=SYNTHETIC_DISPLAY if synthetic else S3_DISPLAY, device_part=DISPLAY_PART,
        device_values={
            **_STATUS_OK, "Caption": "Display Controller", "ElementName": "Display Controller",
            "Name": "Display Controller", "Description": f"Microsoft {label}",
            "ProtocolSupported": 1, "MaxNumberControlled": 1, "ProtocolDescription": "Video",
            "VideoProcessor": "Synthetic Video Processor" if synthetic else "S3 Trio 32/64",
            "VideoMemoryType": 2, "NumberOfVideoPages": 1024,
            "MaxMemorySupported": 4194304, "AcceleratorCapabilities": [2],
            "CapabilityDescriptions": ["Graphics Accelerator"],
            "VideoArchitecture": None if synthetic else 6})
    head_part = f"{DISPLAY_PART}\\Head\\0"
    head = Device(None, head_part, {}, device_class=VIDEO_HEAD, device_part=head_part,
                  device_values={
                      **_STATUS_OK, "Caption": "Video Head", "ElementName": "Video Head",
                      "Name": "Video Head", "Description": "Microsoft Virtual Video Head",
                      "CurrentBitsPerPixel": 32, "CurrentHorizontalResolution": SCREEN_WIDTH,
                      "CurrentVerticalResolution": SCREEN_HEIGHT, "CurrentRefreshRate": 60,
                      "MinRefreshRate": 60, "MaxRefreshRate": 60, "CurrentScanMode": 4,
                      "CurrentNumberOfRows": 0, "CurrentNumberOfColumns": 0,
                      "CurrentNumberOfColors": 2 ** 32})
    return [controller, head]


# Hyper-V draws a VM's BIOS GUID when it creates the VM and keeps it in the configuration, so
# it survives restarts and travels with the VM (a migration's destination, a planned VM made
# from the same configuration). hvsim derives it rather than storing it: uuid5 over the VM's
# GUID and the cluster seed has all of those properties (a migrated VM keeps its GUID), differs
# between VMs and between worlds seeded differently, and needs no column, schema migration or
# scenario key. The cost is that a scenario cannot pin a particular BIOS GUID.
_BIOS_GUID_NAMESPACE = uuid.UUID("6257c1c6-3037-4474-bba8-a4f1bc47cbca")


def bios_guid(vm_guid: str, seed: int) -> str:
    """`{GUID}` in upper case, as Windows writes BIOSGUID."""
    derived = uuid.uuid5(_BIOS_GUID_NAMESPACE, f"{seed}:{vm_guid.upper()}")
    return "{" + str(derived).upper() + "}"


def vssd_record(ctx: ProviderContext, vm: VMRow) -> Record:
    keys = {"InstanceID": settings_id(vm)}
    seed = int(world.cluster(ctx).seed)

    def values() -> dict[str, Any]:
        kind = "Planned" if vm.planned else "Realized"
        return {
            **keys,
            "Caption": "Virtual Machine Settings",
            "Description": "Active settings for the virtual machine",
            "ElementName": vm.element_name,
            "VirtualSystemIdentifier": vm.guid,
            "VirtualSystemType": f"Microsoft:Hyper-V:System:{kind}",
            "VirtualSystemSubType": f"Microsoft:Hyper-V:SubType:{vm.generation}",
            "Version": vm.config_version,
            "Architecture": "x64",
            "ConfigurationID": vm.guid,
            "BIOSGUID": bios_guid(vm.guid, seed),
            "ConfigurationDataRoot": vm.config_root,
            "ConfigurationFile": f"Virtual Machines\\{vm.guid}.vmcx",
            "SnapshotDataRoot": vm.snapshot_root,
            "SuspendDataRoot": vm.config_root,
            "SwapFileDataRoot": vm.swap_root,
            "LogDataRoot": vm.config_root,
            "GuestStateDataRoot": vm.config_root,
            "GuestStateFile": f"Virtual Machines\\{vm.guid}.vmgs",
            "CreationTime": vm.created_at,
            "Notes": list(vm.notes) or [""],
            "Parent": None,
            "IsSaved": vm.enabled_state == 6,
            "IsAutomaticSnapshot": False,
            "AutomaticStartupAction": vm.automatic_startup_action,
            "AutomaticShutdownAction": vm.automatic_shutdown_action,
            "AutomaticRecoveryAction": 3, "AutomaticCriticalErrorAction": 1,
            "AutomaticSnapshotsEnabled": False,
            "AllowReducedFcRedundancy": False,
            "BootOrder": [2, 1, 3, 0] if vm.generation == 1 else None,
            "SecureBootEnabled": vm.generation == 2,
            "UserSnapshotType": 3,
            "VirtualNumaEnabled": True,
            "LowMmioGapSize": 128, "HighMmioGapSize": 512,
        }
    return Record(VSSD, keys, vm_etag(vm), values)


def setting_record(scope: Scope, vm: VMRow, device: Device) -> Record:
    assert device.setting_class is not None
    keys = {"InstanceID": settings_id(vm, device.part)}

    def values() -> dict[str, Any]:
        result = {**device.values, **keys}
        if device.parent_part is not None:
            instance_id = settings_id(vm, device.parent_part).replace("\\", "\\\\")
            result["Parent"] = (f"\\\\{scope.host}\\root\\virtualization\\v2:"
                                f'{device.parent_class}.InstanceID="{instance_id}"')
        return result
    return Record(device.setting_class, keys, vm_etag(vm), values)


def device_record(vm: VMRow, device: Device) -> Record:
    keys = device_keys(vm, device)

    def values() -> dict[str, Any]:
        return {**device.device_values, **keys, "EnabledState": 2, "HealthState": 5,
                "OperationalStatus": [2], "StatusDescriptions": ["OK"],
                "RequestedState": 12, "EnabledDefault": 2}
    return Record(device.device_class or "", keys, vm_etag(vm), values)


def vm_from_settings_id(ctx: ProviderContext, scope: Scope,
                        instance_id: Any) -> tuple[VMRow, str | None] | None:
    match = SETTINGS_ID.match(str(instance_id or ""))
    if match is None:
        return None
    vm = world.any_vm_by_guid(ctx, scope, match.group(1))
    return None if vm is None else (vm, match.group(2))


class VirtualSystemSettingsProvider(InstanceProvider):
    classnames = (VSSD,)
    namespaces = (V2, CLUSTER)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for vm in world.all_vms_in_scope(ctx, scope):
            yield vssd_record(ctx, vm)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        found = vm_from_settings_id(ctx, scope, _instance_id(keys))
        if found is None or found[1] is not None:
            return None
        return vssd_record(ctx, found[0])


class ResourceSettingsProvider(InstanceProvider):
    classnames = SETTING_CLASSES

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for vm in world.all_vms_in_scope(ctx, scope):
            for device in vm_devices(ctx, vm):
                if device.setting_class == classname:
                    yield setting_record(scope, vm, device)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        found = vm_from_settings_id(ctx, scope, _instance_id(keys))
        if found is None or found[1] is None:
            return None
        vm, part = found[0], found[1]  # indexed: keeps the narrowing of found[1] above
        for device in vm_devices(ctx, vm):
            if device.setting_class == classname and device.part.lower() == part.lower():
                return setting_record(scope, vm, device)
        return None


class LogicalDeviceProvider(InstanceProvider):
    classnames = DEVICE_CLASSES

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for vm in world.vms_in_scope(ctx, scope, planned=False):
            for device in vm_devices(ctx, vm):
                if device.device_class == classname:
                    yield device_record(vm, device)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        lowered = {k.lower(): v for k, v in keys.items()}
        vm = world.vm_by_guid(ctx, scope, str(lowered.get("systemname") or ""), planned=False)
        if vm is None:
            return None
        wanted = str(lowered.get("deviceid") or "").lower()
        for device in vm_devices(ctx, vm):
            if device.device_class == classname and \
                    f"microsoft:{device.device_part}".lower() == wanted:
                return device_record(vm, device)
        return None


def _instance_id(keys: Mapping[str, Any]) -> Any:
    for key, value in keys.items():
        if key.lower() == "instanceid":
            return value
    return None
