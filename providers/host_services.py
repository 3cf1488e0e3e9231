"""What the per-host services share: their class names, key bindings, the one-instance-per-host
provider shape and the service status properties. Each service's own instances and methods
live in its file: management_service.py, switch_service.py, migration/migration_service.py."""

from __future__ import annotations

import abc
import ipaddress
from collections.abc import Iterator
from typing import Any

from providers import world
from providers.base import InstanceProvider, ProviderContext, Record, Scope
from providers.computer_system import CS
from providers.world import HostRow

VSMS = "Msvm_VirtualSystemManagementService"
VSMS_SETTINGS = "Msvm_VirtualSystemManagementServiceSettingData"
VSMS_CAPABILITIES = "Msvm_VirtualSystemManagementCapabilities"
MIGRATION_SERVICE = "Msvm_VirtualSystemMigrationService"
MIGRATION_SERVICE_SETTINGS = "Msvm_VirtualSystemMigrationServiceSettingData"
MIGRATION_NETWORK = "Msvm_VirtualSystemMigrationNetworkSettingData"
MIGRATION_CAPABILITIES = "Msvm_VirtualSystemMigrationCapabilities"
MIGRATION_SETTINGS = "Msvm_VirtualSystemMigrationSettingData"
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
    """MigrationServiceListenerIPAddressList as §2.2 derives it from the migration networks.

    Shared by the migration service's instance and the destination checks of a migration."""
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


def service_status(started: bool) -> dict[str, Any]:
    """The CIM_Service state properties of a running or stopped service."""
    return {
        "EnabledState": 2 if started else 3, "RequestedState": 12, "EnabledDefault": 2,
        "HealthState": 5, "OperationalStatus": [2] if started else [10],
        "StatusDescriptions": ["OK"] if started else ["Stopped"],
        "Started": started, "StartMode": None,
    }
