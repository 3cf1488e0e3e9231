"""The providers of a VM's settings (VSSD, RASD family) and logical devices, and their records.

What each VM has is built in providers/vm_devices.py, under the names of
providers/vm_setting_ids.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from providers import world
from providers.base import (
    CLUSTER,
    V2,
    InstanceProvider,
    ProviderContext,
    Record,
    Scope,
)
from providers.computer_system import vm_etag
from providers.vm_devices import Device, device_keys, vm_devices
from providers.vm_setting_ids import (
    DEVICE_CLASSES,
    SETTING_CLASSES,
    SETTINGS_ID,
    VSSD,
    settings_id,
)
from providers.world import VMRow

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
