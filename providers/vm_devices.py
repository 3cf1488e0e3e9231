"""A VM's configuration as devices: each one's setting data and logical device, from its rows.

Names and InstanceID parts are in providers/vm_setting_ids.py; the records and providers that
serve them are in providers/vm_settings.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from providers import world
from providers.base import ProviderContext, ref
from providers.computer_system import CS, switch_guid
from providers.vm_setting_ids import (
    DISK_DRIVE,
    DISPLAY_PART,
    IDE_PART,
    KEYBOARD,
    KEYBOARD_PART,
    LOGICAL_DISK,
    MEMORY,
    MEMORY_PART,
    MEMORY_SD,
    NIC_SD,
    PORT_SD,
    PROCESSOR,
    PROCESSOR_PART,
    PROCESSOR_SD,
    RASD,
    S3_DISPLAY,
    SASD,
    SERIAL_PORT_SD,
    SHUTDOWN_COMPONENT,
    SHUTDOWN_SERVICE_GUID,
    SYNTHETIC_DISPLAY,
    VIDEO_HEAD,
    disk_setting_part,
    drive_setting_part,
    port_setting_part,
    scsi_controller_guids,
    serial_setting_part,
    settings_id,
    switch_ref_text,
)
from providers.world import VMRow

# The video head's resolution: what the console shows, and the largest thumbnail of it.
SCREEN_WIDTH, SCREEN_HEIGHT = 1024, 768


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
    for controller in scsi_controller_guids(vm, disks):
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

