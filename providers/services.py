"""Per-host service objects: management and migration services, their settings, capabilities."""

from __future__ import annotations

import abc
import ipaddress
from collections.abc import Iterator
from typing import Any

from providers import world
from providers.base import CLUSTER, V2, InstanceProvider, ProviderContext, Record, Scope
from providers.computer_system import CS, host_etag
from providers.world import HostRow

VSMS = "Msvm_VirtualSystemManagementService"
VSMS_SETTINGS = "Msvm_VirtualSystemManagementServiceSettingData"
VSMS_CAPABILITIES = "Msvm_VirtualSystemManagementCapabilities"
MIGRATION_SERVICE = "Msvm_VirtualSystemMigrationService"
MIGRATION_SERVICE_SETTINGS = "Msvm_VirtualSystemMigrationServiceSettingData"
MIGRATION_NETWORK = "Msvm_VirtualSystemMigrationNetworkSettingData"
MIGRATION_CAPABILITIES = "Msvm_VirtualSystemMigrationCapabilities"
MIGRATION_SETTINGS = "Msvm_VirtualSystemMigrationSettingData"
RESOURCE_POOL = "Msvm_ResourcePool"
SWITCH_SERVICE = "Msvm_VirtualEthernetSwitchManagementService"

# One migration-setting template per MigrationType (§5.1); the InstanceID form was recorded
# on a real host for VirtualSystemAndStorage.
MIGRATION_TEMPLATES: tuple[tuple[int, str], ...] = (
    (32768, "VirtualSystem"),
    (32769, "Storage"),
    (32770, "Staged"),
    (32771, "VirtualSystemAndStorage"),
    (32772, "StorageDeepCheck"),
)
PRIMORDIAL_POOLS: tuple[tuple[int, str, str, str], ...] = (
    (3, "Microsoft:Hyper-V:Processor", "Processor", "percent / 1000"),
    (4, "Microsoft:Hyper-V:Memory", "Memory", "byte * 2^20"),
    (31, "Microsoft:Hyper-V:Virtual Hard Disk", "Virtual Hard Disk", "count"),
)


def service_keys(host: HostRow, classname: str, name: str) -> dict[str, Any]:
    return {"CreationClassName": classname, "Name": name,
            "SystemCreationClassName": CS, "SystemName": host.name}


def vsms_keys(host: HostRow) -> dict[str, Any]:
    return service_keys(host, VSMS, "vmms")


def migration_service_keys(host: HostRow) -> dict[str, Any]:
    return service_keys(host, MIGRATION_SERVICE, "migrationwmi")


def switch_service_keys(host: HostRow) -> dict[str, Any]:
    return service_keys(host, SWITCH_SERVICE, "nvspwmi")


def settings_instance_id(host: HostRow) -> str:
    return f"Microsoft:{host.name}"


def listener_addresses(host: HostRow, networks: list[Any]) -> list[str] | None:
    """MigrationServiceListenerIPAddressList as §2.2 derives it from the migration networks."""
    if not host.migration_enabled or not networks:
        return None
    if any(n.prefix_length == 0 for n in networks):
        return list(host.ip_addresses) or None
    chosen: list[str] = []
    for network in sorted(networks, key=lambda n: n.metric):
        subnet = ipaddress.ip_network(f"{network.subnet}/{network.prefix_length}", strict=False)
        for text in host.ip_addresses:
            address = ipaddress.ip_address(text)
            if address.version == subnet.version and address in subnet and text not in chosen:
                chosen.append(text)
    return chosen or None


class PerHostProvider(InstanceProvider):
    """A class with one instance per host in scope (services, their settings, capabilities)."""

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for host in world.scope_hosts(ctx, scope):
            yield self.record(ctx, host)

    @abc.abstractmethod
    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        """The host's instance."""


def _service_status(started: bool) -> dict[str, Any]:
    return {
        "EnabledState": 2 if started else 3, "RequestedState": 12, "EnabledDefault": 2,
        "HealthState": 5, "OperationalStatus": [2] if started else [10],
        "StatusDescriptions": ["OK"] if started else ["Stopped"],
        "Started": started, "StartMode": None,
    }


class ManagementServiceProvider(PerHostProvider):
    classnames = (VSMS,)
    namespaces = (V2, CLUSTER)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = vsms_keys(host)

        def values() -> dict[str, Any]:
            return {
                **keys, **_service_status(True),
                "Caption": "Virtual System Management Service",
                "Description": "Service for creating, manipulating, and managing virtual "
                               "machines",
                "ElementName": "Hyper-V Virtual System Management Service",
                "StatusDescriptions": ["The service is running normally"],
            }
        return Record(VSMS, keys, host_etag(host), values)


class SwitchManagementServiceProvider(PerHostProvider):
    classnames = (SWITCH_SERVICE,)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = switch_service_keys(host)

        def values() -> dict[str, Any]:
            return {
                **keys, **_service_status(True),
                "Caption": "Virtual Networking Management Service",
                "Description": "Provides Hyper-V Networking WMI management",
                "ElementName": "Hyper-V Networking Management Service",
                "InstanceID": None,
            }
        return Record(SWITCH_SERVICE, keys, host_etag(host), values)


class ManagementServiceSettingsProvider(PerHostProvider):
    classnames = (VSMS_SETTINGS,)
    namespaces = (V2, CLUSTER)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = {"InstanceID": settings_instance_id(host)}

        def values() -> dict[str, Any]:
            return {
                **keys,
                "Caption": "Hyper-V Virtual System Management Service Setting Data",
                "Description": "Settings for the Hyper-V Virtual System Management Service",
                "ElementName": "Hyper-V Virtual System Management Service Setting Data",
                "DefaultExternalDataRoot": host.default_external_data_root,
                "DefaultVirtualHardDiskPath": host.default_vhd_path,
                "NumaSpanningEnabled": True,
                "EnhancedSessionModeEnabled": False,
                "PrimaryOwnerName": None,
                "PrimaryOwnerContact": None,
            }
        return Record(VSMS_SETTINGS, keys, host_etag(host), values)


class ManagementCapabilitiesProvider(PerHostProvider):
    classnames = (VSMS_CAPABILITIES,)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = {"InstanceID": settings_instance_id(host)}

        def values() -> dict[str, Any]:
            return {
                **keys,
                "Caption": "Virtual System Management Capabilities",
                "Description": "Capabilities of the Hyper-V Virtual System Management Service",
                "ElementName": "Hyper-V Virtual System Management Capabilities",
            }
        return Record(VSMS_CAPABILITIES, keys, host_etag(host), values)


class MigrationServiceProvider(PerHostProvider):
    classnames = (MIGRATION_SERVICE,)
    namespaces = (V2, CLUSTER)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = migration_service_keys(host)
        networks = list(world.networks_of(ctx, host))
        live, storage = world.active_job_counts(ctx, host)
        etag = ".".join([host_etag(host), f"{live}-{storage}",
                         *(f"{n.id}-{n.version_id}" for n in networks)])

        def values() -> dict[str, Any]:
            return {
                **keys, **_service_status(host.migration_service_started),
                "Caption": "Hyper-V Migration Service",
                "Description": "Hyper-V Migration Service",
                "ElementName": "Hyper-V Migration Service",
                "InstanceID": None,
                "ActiveVirtualSystemMigrationCount": live,
                "ActiveStorageMigrationCount": storage,
                "MigrationServiceListenerIPAddressList": listener_addresses(host, networks),
            }
        return Record(MIGRATION_SERVICE, keys, etag, values)


class MigrationServiceSettingsProvider(PerHostProvider):
    classnames = (MIGRATION_SERVICE_SETTINGS,)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = {"InstanceID": settings_instance_id(host)}

        def values() -> dict[str, Any]:
            return {
                **keys,
                "Caption": "Virtual System Migration Service Setting Data",
                "Description": "Settings of the Hyper-V virtual system migration service",
                "ElementName": "Virtual System Migration Service Setting Data",
                "EnableVirtualSystemMigration": host.migration_enabled,
                "MaximumActiveVirtualSystemMigration": host.max_active_vm_migrations,
                "MaximumActiveStorageMigration": host.max_active_storage_migrations,
                "AuthenticationType": host.migration_auth_type,
                "EnableCompression": host.migration_compression,
                "EnableSmbTransport": host.migration_smb,
            }
        return Record(MIGRATION_SERVICE_SETTINGS, keys, host_etag(host), values)


def network_record(network: Any) -> Record:
    keys = {"InstanceID": network.instance_id}

    def values() -> dict[str, Any]:
        return {
            **keys,
            "Caption": "Virtual System Migration Network Setting Data",
            "Description": "A network on which this host accepts incoming migrations",
            "ElementName": f"{network.subnet}/{network.prefix_length}",
            "SubnetNumber": network.subnet,
            "PrefixLength": network.prefix_length,
            "Metric": network.metric,
            "Tags": list(network.tags),
        }
    return Record(MIGRATION_NETWORK, keys, f"n{network.id}.{network.version_id}", values)


class MigrationNetworkProvider(InstanceProvider):
    classnames = (MIGRATION_NETWORK,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for host in world.scope_hosts(ctx, scope):
            for network in world.networks_of(ctx, host):
                yield network_record(network)


class MigrationCapabilitiesProvider(PerHostProvider):
    classnames = (MIGRATION_CAPABILITIES,)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = {"InstanceID": settings_instance_id(host)}

        def values() -> dict[str, Any]:
            return {
                **keys,
                "Caption": "Migration Capabilities",
                "Description": "Virtual System Migration Capabilities",
                "ElementName": "Virtual System Migration Capabilities",
                "AsynchronousMethodsSupported": [2, 32768],
                "SynchronousMethodsSupported": [4, 5],
                "DestinationHostFormatsSupported": [2, 3, 4],
            }
        return Record(MIGRATION_CAPABILITIES, keys, host_etag(host), values)


def template_record(migration_type: int, name: str) -> Record:
    keys = {"InstanceID": f"Microsoft:{name}"}

    def values() -> dict[str, Any]:
        # Only these are set on a real template; every other property is NULL (§5.1).
        return {
            **keys,
            "Caption": "Migration Setting Data",
            "Description": "Virtual System Migration Setting Data",
            "MigrationType": migration_type,
            "TransportType": 5 if migration_type != 32769 else None,
        }
    return Record(MIGRATION_SETTINGS, keys, "t", values)


class MigrationTemplateProvider(InstanceProvider):
    classnames = (MIGRATION_SETTINGS,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        if world.scope_hosts(ctx, scope):
            for migration_type, name in MIGRATION_TEMPLATES:
                yield template_record(migration_type, name)


def pool_record(host: HostRow, resource_type: int, subtype: str, label: str, units: str) -> Record:
    keys = {"InstanceID": f"Microsoft:Primordial\\{label}"}

    def values() -> dict[str, Any]:
        return {
            **keys,
            "Caption": f"{label} Resource Pool", "Description": f"Primordial {label} pool",
            "ElementName": label, "PoolID": "", "Primordial": True,
            "ResourceType": resource_type, "ResourceSubType": subtype,
            "AllocationUnits": units, "HealthState": 5, "OperationalStatus": [2],
            "StatusDescriptions": ["OK"], "EnabledState": 2, "RequestedState": 12,
            "Capacity": host.memory_mb if resource_type == 4 else (
                host.logical_processors * 100000 if resource_type == 3 else None),
        }
    return Record(RESOURCE_POOL, keys, host_etag(host), values)


class ResourcePoolProvider(InstanceProvider):
    classnames = (RESOURCE_POOL,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for host in world.scope_hosts(ctx, scope):
            for resource_type, subtype, label, units in PRIMORDIAL_POOLS:
                yield pool_record(host, resource_type, subtype, label, units)
