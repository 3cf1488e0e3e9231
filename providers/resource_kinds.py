"""Which resource of a VM an embedded setting, or an InstanceID part, stands for.

Drives and controllers share Msvm_ResourceAllocationSettingData and are told apart by
ResourceType; every other kind has a class of its own.
"""

from __future__ import annotations

from typing import Any

from pywbem import CIMInstance

from providers.base import Refused, property_value
from providers.return_codes import DmtfReturnCode
from providers.setting_values import optional_int
from providers.vm_draft import VMDraft
from providers.vm_setting_ids import (
    DISPLAY_PART,
    KEYBOARD_PART,
    MEMORY_PART,
    MEMORY_SD,
    NIC_SD,
    PORT_SD,
    PROCESSOR_PART,
    PROCESSOR_SD,
    RASD,
    SASD,
    SERIAL_PORT_SD,
    serial_setting_part,
)

INVALID = DmtfReturnCode.INVALID_PARAMETER
VHD_SUBTYPE = "Microsoft:Hyper-V:Virtual Hard Disk"

KIND_BY_CLASS = {MEMORY_SD.lower(): "memory", PROCESSOR_SD.lower(): "processor",
                 SASD.lower(): "disk", NIC_SD.lower(): "adapter", PORT_SD.lower(): "connection",
                 SERIAL_PORT_SD.lower(): "serial"}
KIND_BY_CLASS_NAMES = (MEMORY_SD, PROCESSOR_SD, SASD, NIC_SD, PORT_SD, SERIAL_PORT_SD)
RESOURCE_TYPES = {"memory": 4, "processor": 3, "disk": 31, "adapter": 10, "connection": 33,
                  "serial": 21, "drive": 17}
CLASS_BY_KIND = {"memory": MEMORY_SD, "processor": PROCESSOR_SD, "disk": SASD,
                 "adapter": NIC_SD, "connection": PORT_SD, "serial": SERIAL_PORT_SD,
                 "drive": RASD, "controller": RASD, "device": RASD}
LABELS = {"memory": "memory", "processor": "processor", "disk": "virtual hard disk",
          "adapter": "network adapter", "connection": "network connection",
          "serial": "serial port", "drive": "disk drive", "controller": "controller",
          "device": "device"}


def kind_of(setting: CIMInstance, what: str) -> str:
    """Which resource an embedded setting describes; a class outside the RASD family, or a
    ResourceType that contradicts the class, is an invalid parameter."""
    lowered = setting.classname.lower()
    resource_type = optional_int(setting, "ResourceType", what)
    if lowered == RASD.lower():
        if resource_type is None:
            raise Refused(INVALID, f"{what}: an {RASD} needs its ResourceType")
        if resource_type == RESOURCE_TYPES["disk"]:
            return _disk_as_rasd(setting, what)
        return {17: "drive", 5: "controller", 6: "controller"}.get(resource_type, "device")
    kind = KIND_BY_CLASS.get(lowered)
    if kind is None:
        known = ", ".join(sorted({*KIND_BY_CLASS_NAMES, RASD}))
        raise Refused(INVALID, f"{what} is an embedded {setting.classname}, not one of the "
                               f"resource allocation setting data classes of Hyper-V ({known})")
    if resource_type is not None and resource_type != RESOURCE_TYPES[kind]:
        raise Refused(INVALID, f"{what}: ResourceType {resource_type} is not that of "
                               f"{setting.classname} ({RESOURCE_TYPES[kind]})")
    return kind


def part_kind(draft: VMDraft, part: str) -> tuple[str, Any]:
    """The resource of the draft an InstanceID part names, and its draft entry (if any)."""
    lowered = part.lower()
    if lowered == MEMORY_PART.lower():
        return "memory", None
    if lowered == f"{PROCESSOR_PART}\\0".lower():
        return "processor", None
    for number in (0, 1):
        if lowered == serial_setting_part(number).lower():
            return "serial", number
    for drive in draft.live_drives():
        if lowered == drive.drive_part.lower():
            return "drive", drive
        if drive.path and lowered == drive.disk_part.lower():
            return "disk", drive
    for adapter in draft.live_adapters():
        if lowered == adapter.nic_part.lower():
            return "adapter", adapter
        if lowered == adapter.port_part.lower():
            return "connection", adapter
    if any(lowered == c.part.lower() for c in draft.controllers()):
        return "controller", None
    if lowered in (KEYBOARD_PART.lower(), DISPLAY_PART.lower()):
        return "device", None
    raise Refused(INVALID, f"{draft.name} has no resource {part!r}")


def _disk_as_rasd(setting: CIMInstance, what: str) -> str:
    """A virtual hard disk described by the base class (ResourceType 31), as libvirt's Hyper-V
    driver sends it: a host reads such a setting by its ResourceSubType."""
    subtype = property_value(setting, "ResourceSubType")
    if subtype in (None, "") or str(subtype).lower() == VHD_SUBTYPE.lower():
        return "disk"
    raise Refused(DmtfReturnCode.NOT_SUPPORTED,
                  f"{what}.ResourceSubType {subtype!r}: hvsim emulates virtual hard disks "
                  f"({VHD_SUBTYPE}), not optical or floppy media")
