"""Msvm_ResourcePool: each host's primordial processor, memory and virtual-hard-disk pools."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from providers import world
from providers.base import InstanceProvider, ProviderContext, Record, Scope
from providers.computer_system import host_etag
from providers.world import HostRow

RESOURCE_POOL = "Msvm_ResourcePool"
PRIMORDIAL_POOLS: tuple[tuple[int, str, str, str], ...] = (
    (3, "Microsoft:Hyper-V:Processor", "Processor", "percent / 1000"),
    (4, "Microsoft:Hyper-V:Memory", "Memory", "byte * 2^20"),
    (31, "Microsoft:Hyper-V:Virtual Hard Disk", "Virtual Hard Disk", "count"),
)


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
