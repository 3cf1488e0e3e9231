"""Association instances (§14), derived from the world.

Each association is produced either per host (links between singleton service objects) or per
VM. `references()` finds the VM (or host) a source object belongs to and produces only that
object's links, so a traversal from one VM costs the same in a cluster of 10 or 10,000 VMs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pywbem import CIMInstanceName

from providers import world
from providers.base import (
    CLUSTER,
    V2,
    AssociationProvider,
    ProviderContext,
    Record,
    Scope,
    path_identity,
    ref,
)
from providers.capabilities import ALLOCATION_CAPABILITIES, DEFINITIONS, ROLE_VALUES, ROLES
from providers.computer_system import CS, host_keys, is_host_name, vm_keys
from providers.host_services import (
    MIGRATION_CAPABILITIES,
    MIGRATION_NETWORK,
    MIGRATION_SERVICE,
    MIGRATION_SERVICE_SETTINGS,
    MIGRATION_SETTINGS,
    MIGRATION_TEMPLATES,
    VSMS,
    VSMS_CAPABILITIES,
    VSMS_SETTINGS,
    migration_service_keys,
    settings_instance_id,
    switch_service_keys,
    vsms_keys,
)
from providers.interop import profile_ref
from providers.resource_pools import PRIMORDIAL_POOLS, RESOURCE_POOL
from providers.vm_devices import Device, device_ref, setting_ref, vm_devices
from providers.vm_setting_ids import (
    LOGICAL_DISK,
    S3_DISPLAY,
    SETTINGS_ID,
    SYNTHETIC_DISPLAY,
    VIDEO_HEAD,
    vssd_ref,
)
from providers.world import HostRow, VMRow

DISPLAY_CONTROLLERS = (SYNTHETIC_DISPLAY, S3_DISPLAY)


def _link(classname: str, extra: dict[str, Any] | None = None, **refs: CIMInstanceName) -> Record:
    keys: dict[str, Any] = dict(refs)
    values = {**keys, **(extra or {})}
    # An association's content is fully determined by its keys, so its cache tag is constant.
    return Record(classname, keys, "a", lambda: values)


def host_ref(host: HostRow) -> CIMInstanceName:
    return ref(CS, **host_keys(host))


def vm_ref(vm: VMRow) -> CIMInstanceName:
    return ref(vm_keys(vm)["CreationClassName"], **vm_keys(vm))


def owner_vm(ctx: ProviderContext, scope: Scope, source: CIMInstanceName) -> VMRow | None:
    """The VM an object belongs to, found from its keys without scanning."""
    keys = {k.lower(): v for k, v in source.keybindings.items()}
    name = source.classname.lower()
    if name in ("msvm_computersystem", "msvm_plannedcomputersystem"):
        guid = str(keys.get("name") or "")
        if is_host_name(guid):
            return None
        return world.vm_by_guid(ctx, scope, guid, planned=name == "msvm_plannedcomputersystem")
    if "systemname" in keys and "deviceid" in keys:
        system = str(keys["systemname"] or "")
        return None if is_host_name(system) else world.vm_by_guid(ctx, scope, system,
                                                                   planned=False)
    match = SETTINGS_ID.match(str(keys.get("instanceid") or ""))
    if match is not None:
        return world.any_vm_by_guid(ctx, scope, match.group(1))
    return None


class WorldAssociation(AssociationProvider):
    def host_links(self, ctx: ProviderContext, scope: Scope, host: HostRow) -> Iterator[Record]:
        return iter(())

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        return iter(())

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for host in world.scope_hosts(ctx, scope):
            yield from self.host_links(ctx, scope, host)
        for vm in world.all_vms_in_scope(ctx, scope):
            yield from self.vm_links(ctx, scope, vm)

    def references(self, ctx: ProviderContext, scope: Scope, classname: str,
                   source: CIMInstanceName) -> Iterator[Record]:
        vm = owner_vm(ctx, scope, source)
        if vm is not None:
            candidates: Iterator[Record] = self.vm_links(ctx, scope, vm)
        else:
            candidates = self.enumerate(ctx, scope, classname)
        wanted = path_identity(source)
        for record in candidates:
            if any(isinstance(v, CIMInstanceName) and path_identity(v) == wanted
                   for v in record.keys.values()):
                yield record


class HostedServiceProvider(WorldAssociation):
    classnames = ("Msvm_HostedService",)
    namespaces = (V2, CLUSTER)

    def host_links(self, ctx: ProviderContext, scope: Scope, host: HostRow) -> Iterator[Record]:
        services = [vsms_keys(host), migration_service_keys(host)]
        if not scope.cluster_view:
            services.append(switch_service_keys(host))
        for keys in services:
            yield _link("Msvm_HostedService", Antecedent=host_ref(host),
                        Dependent=ref(keys["CreationClassName"], **keys))


class HostedDependencyProvider(WorldAssociation):
    classnames = ("Msvm_HostedDependency",)
    namespaces = (V2, CLUSTER)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        host = world.host_by_id(ctx, vm.host_id)
        yield _link("Msvm_HostedDependency", Antecedent=host_ref(host), Dependent=vm_ref(vm))


class ServiceAffectsElementProvider(WorldAssociation):
    classnames = ("Msvm_ServiceAffectsElement",)
    namespaces = (V2, CLUSTER)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        if vm.planned:
            return
        host = world.host_by_id(ctx, vm.host_id)
        yield _link("Msvm_ServiceAffectsElement", {"ElementEffects": [5]},
                    AffectedElement=vm_ref(vm), AffectingElement=ref(VSMS, **vsms_keys(host)))


class SettingsDefineStateProvider(WorldAssociation):
    classnames = ("Msvm_SettingsDefineState",)
    namespaces = (V2, CLUSTER)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        yield _link("Msvm_SettingsDefineState", ManagedElement=vm_ref(vm), SettingData=vssd_ref(vm))
        if vm.planned or scope.cluster_view:
            return
        for device in vm_devices(ctx, vm):
            if device.device_class is not None and device.setting_class is not None:
                yield _link("Msvm_SettingsDefineState", ManagedElement=device_ref(vm, device),
                            SettingData=setting_ref(vm, device))


class SystemDeviceProvider(WorldAssociation):
    classnames = ("Msvm_SystemDevice",)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        if vm.planned:
            return
        for device in vm_devices(ctx, vm):
            if device.device_class is not None:
                yield _link("Msvm_SystemDevice", GroupComponent=vm_ref(vm),
                            PartComponent=device_ref(vm, device))


class VideoHeadOnControllerProvider(WorldAssociation):
    """A VM's display controller and the video head it drives (libvirt reads the console's
    resolution through it)."""

    classnames = ("Msvm_VideoHeadOnController",)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        if vm.planned:
            return
        devices = vm_devices(ctx, vm)
        controller = next((d for d in devices if d.device_class in DISPLAY_CONTROLLERS), None)
        if controller is None:
            return
        for head in devices:
            if head.device_class == VIDEO_HEAD:
                yield _link("Msvm_VideoHeadOnController", Antecedent=device_ref(vm, controller),
                            Dependent=device_ref(vm, head))


class SettingDataComponentProvider(WorldAssociation):
    classnames = ("Msvm_VirtualSystemSettingDataComponent",)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        for device in vm_devices(ctx, vm):
            if device.setting_class is not None:
                yield _link("Msvm_VirtualSystemSettingDataComponent",
                            GroupComponent=vssd_ref(vm), PartComponent=setting_ref(vm, device))


class ResourceDependencyProvider(WorldAssociation):
    classnames = ("Msvm_ResourceDependentOnResource",)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        devices = vm_devices(ctx, vm)
        by_part: dict[str, Device] = {d.part: d for d in devices if d.setting_class}
        for device in devices:
            parent = by_part.get(device.parent_part or "")
            if parent is not None and device.setting_class is not None:
                yield _link("Msvm_ResourceDependentOnResource",
                            Antecedent=setting_ref(vm, parent), Dependent=setting_ref(vm, device))


class ElementAllocatedFromPoolProvider(WorldAssociation):
    classnames = ("Msvm_ElementAllocatedFromPool",)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        if vm.planned:
            return
        for device in vm_devices(ctx, vm):
            if device.device_class == LOGICAL_DISK:
                pool = ref(RESOURCE_POOL, InstanceID="Microsoft:Primordial\\Virtual Hard Disk")
                yield _link("Msvm_ElementAllocatedFromPool", Antecedent=pool,
                            Dependent=device_ref(vm, device))


def _settings_ref(classname: str, host: HostRow) -> CIMInstanceName:
    return ref(classname, InstanceID=settings_instance_id(host))


class ElementSettingDataProvider(WorldAssociation):
    classnames = ("Msvm_ElementSettingData",)
    namespaces = (V2, CLUSTER)

    def host_links(self, ctx: ProviderContext, scope: Scope, host: HostRow) -> Iterator[Record]:
        flags = {"IsDefault": 2, "IsCurrent": 1, "IsNext": 2}
        yield _link("Msvm_ElementSettingData", flags,
                    ManagedElement=ref(VSMS, **vsms_keys(host)),
                    SettingData=_settings_ref(VSMS_SETTINGS, host))
        if not scope.cluster_view:
            yield _link("Msvm_ElementSettingData", flags,
                        ManagedElement=ref(MIGRATION_SERVICE, **migration_service_keys(host)),
                        SettingData=_settings_ref(MIGRATION_SERVICE_SETTINGS, host))


class ElementCapabilitiesProvider(WorldAssociation):
    classnames = ("Msvm_ElementCapabilities",)

    def host_links(self, ctx: ProviderContext, scope: Scope, host: HostRow) -> Iterator[Record]:
        pools = {resource_type: label for resource_type, _, label, _ in PRIMORDIAL_POOLS}
        for definition in DEFINITIONS:
            label = pools.get(definition.resource_type)
            if label is not None:
                yield _link("Msvm_ElementCapabilities", {"Characteristics": [2]},
                            ManagedElement=ref(RESOURCE_POOL,
                                               InstanceID=f"Microsoft:Primordial\\{label}"),
                            Capabilities=ref(ALLOCATION_CAPABILITIES,
                                             InstanceID=definition.capabilities_id))
        yield _link("Msvm_ElementCapabilities", {"Characteristics": [3]},
                    ManagedElement=ref(MIGRATION_SERVICE, **migration_service_keys(host)),
                    Capabilities=_settings_ref(MIGRATION_CAPABILITIES, host))
        yield _link("Msvm_ElementCapabilities", {"Characteristics": [3]},
                    ManagedElement=ref(VSMS, **vsms_keys(host)),
                    Capabilities=_settings_ref(VSMS_CAPABILITIES, host))


class SettingsDefineCapabilitiesProvider(WorldAssociation):
    classnames = ("Msvm_SettingsDefineCapabilities",)

    def host_links(self, ctx: ProviderContext, scope: Scope, host: HostRow) -> Iterator[Record]:
        for _migration_type, name in MIGRATION_TEMPLATES:
            yield _link("Msvm_SettingsDefineCapabilities",
                        {"PropertyPolicy": 0, "ValueRole": 0, "ValueRange": 0,
                         "SupportStatement": 0},
                        GroupComponent=_settings_ref(MIGRATION_CAPABILITIES, host),
                        PartComponent=ref(MIGRATION_SETTINGS, InstanceID=f"Microsoft:{name}"))
        for definition in DEFINITIONS:
            capabilities = ref(ALLOCATION_CAPABILITIES, InstanceID=definition.capabilities_id)
            for role in ROLES:
                value_role, value_range = ROLE_VALUES[role]
                yield _link("Msvm_SettingsDefineCapabilities",
                            {"PropertyPolicy": 0, "ValueRole": value_role,
                             "ValueRange": value_range, "SupportStatement": 0},
                            GroupComponent=capabilities,
                            PartComponent=ref(definition.setting_class,
                                              InstanceID=definition.definition_id(role)))


class MigrationSettingsComponentProvider(WorldAssociation):
    classnames = ("Msvm_VirtualSystemMigrationServiceSettingDataComponent",)

    def host_links(self, ctx: ProviderContext, scope: Scope, host: HostRow) -> Iterator[Record]:
        for network in world.networks_of(ctx, host):
            yield _link("Msvm_VirtualSystemMigrationServiceSettingDataComponent",
                        GroupComponent=_settings_ref(MIGRATION_SERVICE_SETTINGS, host),
                        PartComponent=ref(MIGRATION_NETWORK, InstanceID=network.instance_id))


class ClusterConformsToProfileProvider(WorldAssociation):
    """Cluster namespace: each VM conforms to the DMTF Virtual System profile in root/interop."""

    classnames = ("Msvm_ClusterV2ElementConformsToProfile",)
    namespaces = (CLUSTER,)

    def vm_links(self, ctx: ProviderContext, scope: Scope, vm: VMRow) -> Iterator[Record]:
        if vm.planned:
            return
        profile = profile_ref(("Virtual System", "1.0.0"))
        yield _link("Msvm_ClusterV2ElementConformsToProfile", ConformantStandard=profile,
                    ManagedElement=vm_ref(vm))
