"""The parameter block of a migration request, read from its embedded instances (§5, §12.8).

NULL properties mean "the default" (§5.1). A template's `__PATH` is dropped before this point
(the instance is a copy, never a change to the template).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from pywbem import CIMInstance

from providers.base import MalformedEmbedded, property_value

VIRTUAL_SYSTEM, STORAGE, STAGED, VIRTUAL_SYSTEM_AND_STORAGE, STORAGE_DEEP_CHECK = (
    32768, 32769, 32770, 32771, 32772)
MIGRATION_TYPE_NAMES = {
    VIRTUAL_SYSTEM: "VirtualSystem", STORAGE: "Storage", STAGED: "Staged",
    VIRTUAL_SYSTEM_AND_STORAGE: "VirtualSystemAndStorage",
    STORAGE_DEEP_CHECK: "StorageDeepCheck",
}
TCP, SMB = 5, 32768
SETTING_CLASSES = ("Msvm_VirtualSystemMigrationSettingData",
                   "CIM_VirtualSystemMigrationSettingData")
SYSTEM_SETTING_CLASSES = ("Msvm_VirtualSystemSettingData", "CIM_VirtualSystemSettingData")
DISK_SETTING_CLASSES = ("Msvm_StorageAllocationSettingData", "CIM_StorageAllocationSettingData",
                        "Msvm_ResourceAllocationSettingData",
                        "CIM_ResourceAllocationSettingData")


class InvalidRequest(ValueError):
    """A parameter is unusable: Family B 32773 (Family A 4)."""


@dataclass
class UnmanagedVhd:
    source: str
    destination: str


@dataclass
class MigrationRequest:
    migration_type: int
    transport: int = TCP
    compression: bool | None = None
    destination_addresses: list[str] | None = None
    planned_system_id: str | None = None
    retain_vhd_copies: bool = False
    avoid_removing_vhds: bool = False
    allow_overwrite: bool = False
    cancel_if_blackout_exceeded: bool = False
    cpu_capping: int = 0
    bandwidth_percent: int | None = None
    unmanaged_vhds: list[UnmanagedVhd] = field(default_factory=list)
    remove_source_unmanaged_vhds: bool = False
    # New data roots (NewSystemSettingData): configuration, snapshots, smart paging.
    roots: dict[str, str] = field(default_factory=dict)
    # Disk SASD InstanceID (lower case) -> new path ("" lets the destination choose).
    disk_paths: dict[str, str] = field(default_factory=dict)
    # What the job shows in NewSystemSettingData / NewResourceSettingData.
    system_text: str | None = None
    resource_texts: list[str] = field(default_factory=list)



def _instance(value: Any, what: str, classes: tuple[str, ...]) -> CIMInstance:
    if isinstance(value, MalformedEmbedded):
        raise InvalidRequest(f"{what} is not a valid embedded instance: {value.reason}")
    if not isinstance(value, CIMInstance):
        raise InvalidRequest(f"{what} must be an embedded instance")
    if value.classname.lower() not in {c.lower() for c in classes}:
        raise InvalidRequest(f"{what} must be an instance of {classes[0]}, not "
                             f"{value.classname}")
    return value


def _int(instance: CIMInstance, name: str, default: int) -> int:
    value = property_value(instance, name)
    return default if value is None else int(value)


def _bool(instance: CIMInstance, name: str) -> bool:
    return bool(property_value(instance, name))


def parse_migration_settings(value: Any) -> MigrationRequest:
    if value is None:
        raise InvalidRequest("MigrationSettingData is required")
    settings = _instance(value, "MigrationSettingData", SETTING_CLASSES)
    migration_type = property_value(settings, "MigrationType")
    if migration_type is None or int(migration_type) not in MIGRATION_TYPE_NAMES:
        raise InvalidRequest(f"MigrationType {migration_type} is not one of "
                             f"{', '.join(str(t) for t in MIGRATION_TYPE_NAMES)}")
    transport = _int(settings, "TransportType", TCP)
    if transport not in (TCP, SMB):
        raise InvalidRequest(f"TransportType {transport} is not supported: use 5 (TCP) or "
                             "32768 (SMB)")
    cpu_capping = _int(settings, "CPUCappingMagnitude", 0)
    if cpu_capping not in (0, 1, 2):
        raise InvalidRequest(f"CPUCappingMagnitude {cpu_capping} is not one of 0, 1, 2")
    addresses = property_value(settings, "DestinationIPAddressList")
    for address in addresses or []:
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            raise InvalidRequest(f"DestinationIPAddressList: {address!r} is not an IP "
                                 "address") from None
    planned = property_value(settings, "DestinationPlannedVirtualSystemId")
    request = MigrationRequest(
        migration_type=int(migration_type), transport=transport,
        compression=property_value(settings, "EnableCompression"),
        destination_addresses=[str(a) for a in addresses] if addresses else None,
        planned_system_id=str(planned).strip("{}") if planned else None,
        retain_vhd_copies=_bool(settings, "RetainVhdCopiesOnSource"),
        avoid_removing_vhds=_bool(settings, "AvoidRemovingVHDs"),
        allow_overwrite=_bool(settings, "AllowOverwriteExistingFile"),
        cancel_if_blackout_exceeded=_bool(settings, "CancelIfBlackoutThresholdExceeded"),
        cpu_capping=cpu_capping,
        remove_source_unmanaged_vhds=_bool(settings, "RemoveSourceUnmanagedVhds"),
    )
    request.bandwidth_percent = _bandwidth_percent(settings)
    for index, item in enumerate(property_value(settings, "UnmanagedVhds") or []):
        request.unmanaged_vhds.append(_unmanaged_vhd(item, index))
    return request


def _bandwidth_percent(settings: CIMInstance) -> int | None:
    bandwidth = property_value(settings, "Bandwidth")
    if bandwidth in (None, 0):
        return None
    unit = str(property_value(settings, "BandwidthUnit") or "percent").strip().lower()
    if unit != "percent":
        raise InvalidRequest(f"BandwidthUnit {unit!r} is not supported; use \"percent\"")
    if not 1 <= int(bandwidth) <= 100:
        raise InvalidRequest(f"Bandwidth {bandwidth} percent is not between 1 and 100")
    return int(bandwidth)


def _unmanaged_vhd(item: Any, index: int) -> UnmanagedVhd:
    if isinstance(item, str):
        raise InvalidRequest(f"UnmanagedVhds[{index}] is not a parsed embedded instance")
    vhd = _instance(item, f"UnmanagedVhds[{index}]", ("Msvm_MoveUnmanagedVhd",))
    source = property_value(vhd, "VhdSourcePath")
    destination = property_value(vhd, "VhdDestinationPath")
    if not source or not destination:
        raise InvalidRequest(f"UnmanagedVhds[{index}] needs VhdSourcePath and "
                             "VhdDestinationPath")
    return UnmanagedVhd(str(source), str(destination))


def apply_system_settings(request: MigrationRequest, value: Any) -> None:
    if value is None:
        return
    system = _instance(value, "NewSystemSettingData", SYSTEM_SETTING_CLASSES)
    for name in ("ConfigurationDataRoot", "SnapshotDataRoot", "SwapFileDataRoot"):
        root = property_value(system, name)
        if root is not None:
            if not _looks_like_path(str(root)):
                raise InvalidRequest(f"NewSystemSettingData.{name} {root!r} is not an "
                                     "absolute path")
            request.roots[name] = str(root)
    request.system_text = system.tocimxmlstr()


def apply_resource_settings(request: MigrationRequest, values: Any) -> None:
    if not values:
        return
    for index, value in enumerate(values):
        what = f"NewResourceSettingData[{index}]"
        disk = _instance(value, what, DISK_SETTING_CLASSES)
        instance_id = property_value(disk, "InstanceID")
        if not instance_id:
            raise InvalidRequest(f"{what} has no InstanceID naming the disk it moves")
        resource = property_value(disk, "HostResource")
        if isinstance(resource, list):
            path = str(resource[0]) if resource and resource[0] is not None else ""
        else:
            path = "" if resource is None else str(resource)
        if path and not _looks_like_path(path):
            raise InvalidRequest(f"{what}.HostResource {path!r} is not an absolute path")
        key = str(instance_id).lower()
        if key in request.disk_paths:
            raise InvalidRequest(f"{what} names disk {instance_id} a second time")
        request.disk_paths[key] = path
        request.resource_texts.append(disk.tocimxmlstr())


def _looks_like_path(text: str) -> bool:
    return (len(text) >= 3 and text[0].isalpha() and text[1:3] in (":\\", ":/")) \
        or text.startswith("\\\\")
