"""What a host lets a VM be given: Msvm_AllocationCapabilities per resource type and the setting
data that define its Default, Minimum, Maximum and Increment (DSP1043).

Each definition is an instance of the resource's own setting-data class with InstanceID
"Microsoft:Definition\\<GUID>\\<role>" (§12.2), linked to its capabilities by
Msvm_SettingsDefineCapabilities. Clients read them to learn limits, e.g. libvirt's maxvcpus:
`SELECT * FROM Msvm_ProcessorSettingData WHERE InstanceID LIKE 'Microsoft:Definition%Maximum'`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from providers import world
from providers.base import InstanceProvider, ProviderContext, Record, Scope, key_value
from providers.computer_system import host_etag
from providers.vm_setting_ids import (
    IDE_PART,
    MEMORY_PART,
    MEMORY_SD,
    NIC_SD,
    PORT_SD,
    PROCESSOR_PART,
    PROCESSOR_SD,
    RASD,
    SASD,
    SERIAL_PART,
    SERIAL_PORT_SD,
)
from providers.vm_settings import ResourceSettingsProvider
from providers.world import HostRow

ALLOCATION_CAPABILITIES = "Msvm_AllocationCapabilities"
ROLES = ("Default", "Minimum", "Maximum", "Increment")
# CIM_SettingsDefineCapabilities: (ValueRole, ValueRange) per role (DSP1043 §7.3).
ROLE_VALUES = {"Default": (0, 0), "Minimum": (3, 1), "Maximum": (3, 2), "Increment": (3, 3)}
DEFINITION_PREFIX = "microsoft:definition\\"

# Per VM, by host OS (Microsoft's "Plan for Hyper-V scalability" for each release; generation 2).
MAX_VIRTUAL_PROCESSORS = {"Windows Server 2012 R2": 64, "Windows Server 2016": 240,
                          "Windows Server 2019": 240, "Windows Server 2022": 1024,
                          "Windows Server 2025": 2048}
MAX_MEMORY_MB = {"Windows Server 2012 R2": 1 << 20, "Windows Server 2016": 12 << 20,
                 "Windows Server 2019": 12 << 20, "Windows Server 2022": 12 << 20,
                 "Windows Server 2025": 240 << 20}

# The type GUIDs recorded on real hosts (pool IDs "Microsoft:<GUID>\Root"); the adapter and
# connection ones were not recorded, so hvsim derives fixed ones of its own.
_OWN = uuid.UUID("0d5a3c4e-2f61-4b8e-9a7d-6c1e5f3b2a90")
DISK_DRIVE_TYPE = "118C3BE5-0D31-4804-85F0-5C6074ABEA8F"
HARD_DISK_TYPE = "70BB60D2-A9D3-46AA-B654-3DE53004B4F8"
SCSI_TYPE = "BDE5D4D6-E450-46D2-B925-976CA3E989B4"
NIC_TYPE = str(uuid.uuid5(_OWN, "Synthetic Ethernet Port")).upper()
CONNECTION_TYPE = str(uuid.uuid5(_OWN, "Ethernet Connection")).upper()


def _fixed(default: int, minimum: int, maximum: int, increment: int
           ) -> Callable[[HostRow], dict[str, int]]:
    return lambda host: dict(zip(ROLES, (default, minimum, maximum, increment), strict=True))


@dataclass(frozen=True)
class ResourceDefinition:
    label: str
    resource_type: int
    subtype: str
    setting_class: str
    guid: str
    allocation_units: str
    quantities: Callable[[HostRow], dict[str, int]]  # role -> VirtualQuantity
    shared: bool = False

    @property
    def capabilities_id(self) -> str:
        return f"Microsoft:{self.guid}"

    def definition_id(self, role: str) -> str:
        return f"Microsoft:Definition\\{self.guid}\\{role}"


DEFINITIONS: tuple[ResourceDefinition, ...] = (
    ResourceDefinition(
        "Processor", 3, "Microsoft:Hyper-V:Processor", PROCESSOR_SD, PROCESSOR_PART.upper(),
        "percent / 1000",
        lambda host: {"Default": 1, "Minimum": 1, "Increment": 1,
                      "Maximum": MAX_VIRTUAL_PROCESSORS.get(host.os_name, 64)}, shared=True),
    ResourceDefinition(
        "Memory", 4, "Microsoft:Hyper-V:Memory", MEMORY_SD, MEMORY_PART.upper(), "byte * 2^20",
        lambda host: {"Default": 1024, "Minimum": 32, "Increment": 2,
                      "Maximum": MAX_MEMORY_MB.get(host.os_name, 1 << 20)}, shared=True),
    ResourceDefinition("IDE Controller", 5, "Microsoft:Hyper-V:Emulated IDE Controller", RASD,
                       IDE_PART, "count", _fixed(1, 1, 2, 1)),
    ResourceDefinition("SCSI Controller", 6, "Microsoft:Hyper-V:Synthetic SCSI Controller",
                       RASD, SCSI_TYPE, "count", _fixed(1, 1, 4, 1)),
    ResourceDefinition("Synthetic Disk Drive", 17, "Microsoft:Hyper-V:Synthetic Disk Drive",
                       RASD, DISK_DRIVE_TYPE, "count", _fixed(1, 1, 1, 1)),
    ResourceDefinition("Virtual Hard Disk", 31, "Microsoft:Hyper-V:Virtual Hard Disk", SASD,
                       HARD_DISK_TYPE, "count", _fixed(1, 1, 1, 1)),
    ResourceDefinition("Synthetic Ethernet Port", 10, "Microsoft:Hyper-V:Synthetic Ethernet Port",
                       NIC_SD, NIC_TYPE, "count", _fixed(1, 1, 1, 1)),
    ResourceDefinition("Ethernet Connection", 33, "Microsoft:Hyper-V:Ethernet Connection",
                       PORT_SD, CONNECTION_TYPE, "count", _fixed(1, 1, 1, 1)),
    ResourceDefinition("Serial Port", 21, "Microsoft:Hyper-V:Serial Port", SERIAL_PORT_SD,
                       SERIAL_PART, "count", _fixed(1, 1, 1, 1)),
)
_BY_GUID = {d.guid.lower(): d for d in DEFINITIONS}


def capabilities_record(host: HostRow, definition: ResourceDefinition) -> Record:
    keys = {"InstanceID": definition.capabilities_id}

    def values() -> dict[str, Any]:
        return {
            **keys,
            "Caption": "Allocation Capabilities",
            "Description": f"Allocation capabilities of the {definition.label} resource",
            "ElementName": f"{definition.label} Allocation Capabilities",
            "ResourceType": definition.resource_type,
            "OtherResourceType": None,
            "ResourceSubType": definition.subtype,
            "RequestTypesSupported": 3,
            "SharingMode": 3 if definition.shared else 2,
            "SupportedAddStates": [3],
            "SupportedRemoveStates": [3],
        }
    return Record(ALLOCATION_CAPABILITIES, keys, host_etag(host), values)


def definition_record(host: HostRow, definition: ResourceDefinition, role: str) -> Record:
    keys = {"InstanceID": definition.definition_id(role)}

    def values() -> dict[str, Any]:
        quantity = definition.quantities(host)[role]
        return {
            **keys,
            "Caption": definition.label,
            "Description": f"{role} settings of the {definition.label} resource",
            "ElementName": definition.label,
            "ResourceType": definition.resource_type,
            "ResourceSubType": definition.subtype,
            "PoolID": "",
            "AllocationUnits": definition.allocation_units,
            "VirtualQuantityUnits": "count" if definition.resource_type != 4 else "byte * 2^20",
            "VirtualQuantity": quantity,
            "Reservation": 0 if definition.resource_type == 3 else quantity,
            "Limit": 100000 if definition.resource_type == 3 else quantity,
            "Weight": 100 if definition.resource_type == 3 else 0,
            "AutomaticAllocation": True,
            "AutomaticDeallocation": True,
            "ConsumerVisibility": 3,
        }
    return Record(definition.setting_class, keys, host_etag(host), values)


def definition_records(ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
    """The definitions of a setting-data class for the scope's hosts (one host in v2)."""
    for host in world.scope_hosts(ctx, scope):
        for definition in DEFINITIONS:
            if definition.setting_class == classname:
                for role in ROLES:
                    yield definition_record(host, definition, role)


def definition_by_id(ctx: ProviderContext, scope: Scope, classname: str,
                     instance_id: Any) -> Record | None:
    text = str(instance_id or "")
    if not text.lower().startswith(DEFINITION_PREFIX):
        return None
    guid, _, role = text[len(DEFINITION_PREFIX):].partition("\\")
    definition = _BY_GUID.get(guid.lower())
    role = next((r for r in ROLES if r.lower() == role.lower()), "")
    hosts = world.scope_hosts(ctx, scope)
    if definition is None or not role or definition.setting_class != classname or not hosts:
        return None
    return definition_record(hosts[0], definition, role)


class SettingsWithDefinitionsProvider(ResourceSettingsProvider):
    """The RASD-family classes: the host's definitions, then every VM's settings."""

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        yield from definition_records(ctx, scope, classname)
        yield from super().enumerate(ctx, scope, classname)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        instance_id = key_value(keys, "InstanceID")
        if str(instance_id or "").lower().startswith(DEFINITION_PREFIX):
            return definition_by_id(ctx, scope, classname, instance_id)
        return super().get(ctx, scope, classname, keys)


class AllocationCapabilitiesProvider(InstanceProvider):
    classnames = (ALLOCATION_CAPABILITIES,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for host in world.scope_hosts(ctx, scope):
            for definition in DEFINITIONS:
                yield capabilities_record(host, definition)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        wanted = str(key_value(keys, "InstanceID") or "").lower()
        hosts = world.scope_hosts(ctx, scope)
        for definition in DEFINITIONS:
            if hosts and definition.capabilities_id.lower() == wanted:
                return capabilities_record(hosts[0], definition)
        return None
