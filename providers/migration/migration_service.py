"""Msvm_VirtualSystemMigrationService: its instances (the service, its settings, its migration
networks, its capabilities and the migration-setting templates) and its fifteen methods
(reference §2.3-§2.13): one table, whose handlers live by responsibility in moves.py,
compatibility.py and host_settings.py.

Two return-code families (§0.3): methods Msvm_ declares answer with Hyper-V codes (32773
invalid parameter, 32775 invalid state, ...); the three it inherits from
CIM_VirtualSystemMigrationService answer with DMTF codes (4, 5, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from providers import world
from providers.base import CLUSTER, V2, InstanceProvider, ProviderContext, Record, Scope
from providers.computer_system import host_etag
from providers.host_services import (
    MIGRATION_CAPABILITIES,
    MIGRATION_NETWORK,
    MIGRATION_SERVICE,
    MIGRATION_SERVICE_SETTINGS,
    MIGRATION_SETTINGS,
    MIGRATION_TEMPLATES,
    PerHostProvider,
    listener_addresses,
    migration_service_keys,
    service_status,
    settings_instance_id,
)
from providers.method_table import HostServiceMethods
from providers.migration import compatibility
from providers.migration.host_settings import HostSettings
from providers.migration.job_timeline import JobTimeline
from providers.migration.moves import MigrationMoves, log
from providers.world import HostRow


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
                **keys, **service_status(host.migration_service_started),
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


class MigrationServiceMethods(HostServiceMethods):
    classnames = (MIGRATION_SERVICE,)
    namespaces = (V2, CLUSTER)
    log = log

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline
        moves, settings = MigrationMoves(timeline), HostSettings(timeline)
        super().__init__({
            "migratevirtualsystemtohost": moves.migrate_to_host,
            "migratevirtualsystemtosystem": moves.migrate_to_system,
            "checkvirtualsystemismigratable": moves.check_migratable,
            "checkvirtualsystemismigratabletohost": moves.check_to_host,
            "checkvirtualsystemismigratabletosystem": moves.check_to_system,
            "getsystemcompatibilityinfo": compatibility.get_compatibility_info,
            "checksystemcompatibilityinfo": compatibility.check_compatibility_info,
            "getsystemcompatibilityvectors": compatibility.get_compatibility_vectors,
            "addnetworksettings": settings.add_networks,
            "modifynetworksettings": settings.modify_networks,
            "removenetworksettings": settings.remove_networks,
            "modifyservicesettings": settings.modify_service_settings,
            "requeststatechange": settings.request_state_change,
            "startservice": settings.start_service,
            "stopservice": settings.stop_service,
        })
