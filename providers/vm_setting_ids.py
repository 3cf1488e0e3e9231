"""The names a VM's settings and devices go by: classes, InstanceID and DeviceID parts.

InstanceIDs follow the conventions recorded on real hosts (§12.2): "Microsoft:<VM GUID>\\<device
part>", with fixed device GUIDs for memory, processor and IDE controllers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from providers.base import ref
from providers.computer_system import SWITCH
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
DEVICE_CLASSES = (PROCESSOR, MEMORY, DISK_DRIVE, LOGICAL_DISK, KEYBOARD, SYNTHETIC_DISPLAY,
                  S3_DISPLAY, VIDEO_HEAD, SHUTDOWN_COMPONENT)
SETTING_CLASSES = (RASD, SASD, MEMORY_SD, PROCESSOR_SD, NIC_SD, PORT_SD, SERIAL_PORT_SD)

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


def settings_id(vm: VMRow, part: str | None = None) -> str:
    return f"Microsoft:{vm.guid}" if part is None else f"Microsoft:{vm.guid}\\{part}"


def vssd_ref(vm: VMRow) -> Any:
    return ref(VSSD, InstanceID=settings_id(vm))


def default_scsi_guid(vm: Any) -> str:
    """The SCSI controller a generation 2 VM has before any disk is attached to it."""
    return f"{vm.guid[:8]}-0000-4000-8000-000000000001"


def scsi_controller_guids(vm: Any, drives: Iterable[Any]) -> list[str]:
    """A VM's SCSI controllers, in the order the host lists them.

    A VM whose controllers no resource method has changed has those its drives are on (and a
    generation 2 VM its first one before any drive is attached); otherwise the ones it was
    given, plus (defensively) any a drive is on, so that no drive is left without its parent.
    """
    on_drives: dict[str, str] = {}
    for drive in drives:
        if drive.controller_kind == "scsi":
            on_drives.setdefault(drive.controller_guid.upper(), drive.controller_guid)
    found = [on_drives[key] for key in sorted(on_drives)]
    listed = getattr(vm, "scsi_controllers", None)
    if listed is None:
        return found or ([default_scsi_guid(vm)] if vm.generation == 2 else [])
    known = {guid.upper() for guid in listed}
    return [*listed, *(guid for guid in found if guid.upper() not in known)]


def drive_setting_part(disk: Any) -> str:
    """The part after "Microsoft:<VM GUID>\\" of a disk drive's RASD InstanceID."""
    return f"{disk.controller_guid}\\{disk.controller_number}\\{disk.location}\\D"


def disk_setting_part(disk: Any) -> str:
    """The part after "Microsoft:<VM GUID>\\" of a virtual hard disk's SASD InstanceID."""
    return f"{disk.controller_guid}\\{disk.controller_number}\\{disk.location}\\L"


def port_setting_part(adapter: Any) -> str:
    """The part after "Microsoft:<VM GUID>\\" of a network adapter's connection settings."""
    return f"{adapter.adapter_guid}\\C"


def serial_setting_part(number: int) -> str:
    """The part after "Microsoft:<VM GUID>\\" of COM <number + 1>'s settings."""
    return f"{SERIAL_PART}\\{number}"


def switch_ref_text(host_name: str, guid: str) -> str:
    return (f'\\\\{host_name}\\root\\virtualization\\v2:{SWITCH}.CreationClassName="{SWITCH}",'
            f'Name="{guid}"')
