"""Msvm_ComputerSystem (hosts and VMs), Msvm_PlannedComputerSystem, Msvm_VirtualEthernetSwitch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from providers import world
from providers.base import CLUSTER, V2, InstanceProvider, ProviderContext, Record, Scope, key_value
from providers.vm_states import (
    RUNNING,
    WORKER_STATES,
    available_requested_states,
    on_time_ms,
)
from providers.world import HostRow, VMRow

CS = "Msvm_ComputerSystem"
PLANNED = "Msvm_PlannedComputerSystem"
SWITCH = "Msvm_VirtualEthernetSwitch"

# OperationalStatus[1] while a VM is migrating (§10.4); descriptions are what PowerShell shows.
STATUS_TEXT = {2: "Operating normally", 3: "Degraded", 5: "Predictive failure",
               11: "In service", 32774: "Migrating"}
ON_TIME_BUCKET_SECONDS = 30
# A VM GUID and a host name can never be confused: host names are at most 15 characters.
GUID_LENGTH = 36


def host_etag(host: HostRow) -> str:
    return f"h{host.id}.{host.version_id}"


def vm_etag(vm: VMRow) -> str:
    return f"v{vm.id}.{vm.version_id}"


def host_keys(host: HostRow) -> dict[str, Any]:
    return {"CreationClassName": CS, "Name": host.name}


def vm_keys(vm: VMRow) -> dict[str, Any]:
    return {"CreationClassName": PLANNED if vm.planned else CS, "Name": vm.guid}


def switch_guid(host: HostRow, switch_name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{host.name}/{switch_name}".lower())).upper()


def host_record(host: HostRow) -> Record:
    def values() -> dict[str, Any]:
        return {
            **host_keys(host),
            "Caption": "Hosting Computer System",
            "Description": "Microsoft Hosting Computer System",
            "ElementName": host.name,
            "EnabledState": 2, "RequestedState": 12, "EnabledDefault": 2,
            "HealthState": 5, "OperationalStatus": [2], "StatusDescriptions": ["OK"],
            "Dedicated": [0], "ResetCapability": 1,
            "NumberOfNumaNodes": host.numa_nodes,
            "InstallDate": host.installed_at,
            "PrimaryOwnerName": None,
            "OtherIdentifyingInfo": [host.fqdn],
            "IdentifyingDescriptions": ["FQDN"],
        }
    return Record(CS, host_keys(host), host_etag(host), values)


def vm_record(ctx: ProviderContext, vm: VMRow) -> Record:
    now = ctx.now()
    expires = None
    if vm.running_since is not None and vm.enabled_state == RUNNING:
        # Uptime moves with the clock; bucketing keeps the record cacheable between reads.
        # Uptime is taken at the start of the bucket (never before the VM started), so it is
        # the same for every read that shares the bucket's cache tag.
        bucket = int(now.timestamp()) // ON_TIME_BUCKET_SECONDS
        etag = f"{vm_etag(vm)}.{bucket}"
        expires = float((bucket + 1) * ON_TIME_BUCKET_SECONDS)
        bucket_start = datetime.fromtimestamp(bucket * ON_TIME_BUCKET_SECONDS, UTC)
        on_time = on_time_ms(vm, max(bucket_start, vm.running_since))
    else:
        # Paused or changing state: the uptime banked so far does not move.
        etag, on_time = vm_etag(vm), on_time_ms(vm, now)

    def values() -> dict[str, Any]:
        common = {
            **vm_keys(vm),
            "ElementName": vm.element_name,
            "InstallDate": vm.created_at,
            "EnabledState": vm.enabled_state,
            "HealthState": vm.health_state,
            "OperationalStatus": list(vm.operational_status),
            "StatusDescriptions": [STATUS_TEXT.get(s, "Unknown") for s in vm.operational_status],
            "OperatingStatus": vm.operating_status,
            "TimeOfLastStateChange": vm.state_changed_at,
            "TimeOfLastConfigurationChange": vm.created_at,
            "OnTimeInMilliseconds": on_time,
            "ProcessID": (4000 + vm.id * 4) if vm.enabled_state in WORKER_STATES
            and not vm.planned else None,
            "NumberOfNumaNodes": 1,
        }
        if vm.planned:
            return {
                **common,
                "Caption": "Planned Virtual Machine",
                "Description": "Microsoft Planned Virtual Machine",
                "EnabledDefault": vm.enabled_state,
                "RequestedState": 12,
            }
        return {
            **common,
            "Caption": "Virtual Machine",
            "Description": "Microsoft Virtual Machine",
            "RequestedState": vm.requested_state,
            "EnabledDefault": 2,
            "AvailableRequestedStates": available_requested_states(vm.enabled_state),
            "Dedicated": [0],
            "ResetCapability": 1,
            "EnhancedSessionModeState": 6 if vm.enabled_state == 2 else 3,
            "ReplicationState": 0, "ReplicationHealth": 0, "ReplicationMode": 0,
            "FailedOverReplicationType": 0, "LastReplicationType": 0,
        }
    return Record(PLANNED if vm.planned else CS, vm_keys(vm), etag, values, expires)


def switch_record(host: HostRow, switch_name: str) -> Record:
    keys = {"CreationClassName": SWITCH, "Name": switch_guid(host, switch_name)}

    def values() -> dict[str, Any]:
        return {
            **keys,
            "Caption": "Virtual Switch", "Description": "Microsoft Virtual Switch",
            "ElementName": switch_name, "EnabledState": 2, "RequestedState": 12,
            "EnabledDefault": 2, "HealthState": 5, "OperationalStatus": [2],
            "StatusDescriptions": ["OK"],
        }
    return Record(SWITCH, keys, host_etag(host), values)


def is_host_name(name: str) -> bool:
    return len(name) < GUID_LENGTH


class ComputerSystemProvider(InstanceProvider):
    classnames = (CS,)
    namespaces = (V2, CLUSTER)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for host in world.scope_hosts(ctx, scope):
            yield host_record(host)
        for vm in world.vms_in_scope(ctx, scope, planned=False):
            yield vm_record(ctx, vm)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        name = str(key_value(keys, "Name") or "")
        if str(key_value(keys, "CreationClassName") or "").lower() != CS.lower():
            return None
        if is_host_name(name):
            host = world.host_named(ctx, name)
            if host is None or not world.in_scope(ctx, scope, host):
                return None
            return host_record(host)
        vm = world.vm_by_guid(ctx, scope, name, planned=False)
        return vm_record(ctx, vm) if vm is not None else None


class PlannedComputerSystemProvider(InstanceProvider):
    classnames = (PLANNED,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for vm in world.vms_in_scope(ctx, scope, planned=True):
            yield vm_record(ctx, vm)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        if str(key_value(keys, "CreationClassName") or "").lower() != PLANNED.lower():
            return None
        vm = world.vm_by_guid(ctx, scope, str(key_value(keys, "Name") or ""), planned=True)
        return vm_record(ctx, vm) if vm is not None else None


class VirtualSwitchProvider(InstanceProvider):
    classnames = (SWITCH,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for host in world.scope_hosts(ctx, scope):
            for switch_name in host.virtual_switches:
                yield switch_record(host, switch_name)

