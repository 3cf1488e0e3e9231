"""The migration service's own settings: its migration networks (Add/Modify/Remove
NetworkSettings), ModifyServiceSettings and starting or stopping it (reference §2.11-§2.13)."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from pywbem import CIMInstance, CIMInstanceName

from providers.base import (
    MalformedEmbedded,
    MethodCall,
    MethodResult,
    ProviderContext,
    Refused,
    Scope,
    key_value,
    property_value,
)
from providers.host_services import MIGRATION_NETWORK, settings_instance_id
from providers.migration.job_timeline import JobTimeline
from providers.return_codes import DmtfReturnCode, ReturnCode
from storage.models import Host


class HostSettings:
    """Handlers of the settings methods; a change that frees slots starts queued jobs."""

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline

    def add_networks(self, ctx: ProviderContext, call: MethodCall, host: Host
                      ) -> MethodResult:
        self._require_settings_class(call.scope)
        values = call.param("NetworkSettings")
        if not values:
            raise Refused(ReturnCode.INVALID_PARAMETER, "NetworkSettings is required")
        existing = {(n.subnet.lower(), n.prefix_length) for n in host.networks}
        for index, value in enumerate(values):
            subnet, prefix, metric, tags = _network(value, index)
            if (subnet.lower(), prefix) in existing:
                raise Refused(ReturnCode.INVALID_PARAMETER,
                              f"NetworkSettings[{index}]: {subnet}/{prefix} already exists")
            existing.add((subnet.lower(), prefix))
            ctx.uow.hosts.add_network(
                host, instance_id=f"Microsoft:{str(uuid.uuid4()).upper()}", subnet=subnet,
                prefix_length=prefix, metric=metric if metric is not None else 0,
                tags=tags if tags is not None else ["Microsoft:UserManaged"])
        return MethodResult(ReturnCode.COMPLETED, {"Job": None})

    def modify_networks(self, ctx: ProviderContext, call: MethodCall, host: Host
                         ) -> MethodResult:
        self._require_settings_class(call.scope)
        values = call.param("NetworkSettings")
        if not values:
            raise Refused(ReturnCode.INVALID_PARAMETER, "NetworkSettings is required")
        by_id = {n.instance_id.lower(): n for n in host.networks}
        changes = []
        for index, value in enumerate(values):
            subnet, prefix, metric, tags = _network(value, index)
            instance_id = str(property_value(value, "InstanceID") or "")
            network = by_id.get(instance_id.lower())
            if network is None:
                raise Refused(ReturnCode.INVALID_PARAMETER,
                              f"NetworkSettings[{index}]: no migration "
                              f"network {instance_id!r} on {host.name}")
            changes.append((network, subnet, prefix, metric, tags))
        # Checked before anything is written: a refused call must leave the networks as they
        # were (the unit of work is committed whatever the method answers).
        subnets = {n.instance_id.lower(): (n.subnet.lower(), n.prefix_length)
                   for n in host.networks}
        subnets.update({n.instance_id.lower(): (subnet.lower(), prefix)
                        for n, subnet, prefix, _, _ in changes})
        if len(set(subnets.values())) != len(subnets):
            raise Refused(ReturnCode.INVALID_PARAMETER,
                          "two migration networks would have the same subnet")
        for network, subnet, prefix, metric, tags in changes:
            network.subnet, network.prefix_length = subnet, prefix
            if metric is not None:
                network.metric = metric
            if tags is not None:
                network.tags = tags
        return MethodResult(ReturnCode.COMPLETED, {"Job": None})

    def remove_networks(self, ctx: ProviderContext, call: MethodCall, host: Host
                         ) -> MethodResult:
        self._require_settings_class(call.scope)
        paths = call.param("NetworkSettings")
        if not paths:
            raise Refused(ReturnCode.INVALID_PARAMETER, "NetworkSettings is required")
        by_id = {n.instance_id.lower(): n for n in host.networks}
        doomed = []
        for index, path in enumerate(paths):
            instance_id = str(key_value(path.keybindings, "InstanceID") or "") \
                if isinstance(path, CIMInstanceName) else ""
            if not isinstance(path, CIMInstanceName) or \
                    path.classname.lower() != MIGRATION_NETWORK.lower() or \
                    instance_id.lower() not in by_id:
                raise Refused(ReturnCode.INVALID_PARAMETER,
                              f"NetworkSettings[{index}] is not a migration network of {host.name}")
            doomed.append(by_id[instance_id.lower()])
        for network in doomed:
            ctx.uow.hosts.remove_network(host, network)
        return MethodResult(ReturnCode.COMPLETED, {"Job": None})

    def modify_service_settings(self, ctx: ProviderContext, call: MethodCall, host: Host
                                 ) -> MethodResult:
        value = call.param("ServiceSettingData")
        if isinstance(value, MalformedEmbedded):
            raise Refused(ReturnCode.INVALID_PARAMETER, f"ServiceSettingData: {value.reason}")
        if not isinstance(value, CIMInstance) or value.classname.lower() not in (
                "msvm_virtualsystemmigrationservicesettingdata", "cim_settingdata"):
            raise Refused(ReturnCode.INVALID_PARAMETER,
                          "ServiceSettingData must be an embedded "
                          "Msvm_VirtualSystemMigrationServiceSettingData")
        instance_id = property_value(value, "InstanceID")
        if instance_id and str(instance_id).lower() != settings_instance_id(host).lower():
            raise Refused(ReturnCode.INVALID_PARAMETER,
                          f"ServiceSettingData.InstanceID {instance_id!r} "
                          f"is not the settings of {host.name}")
        limits = {}
        for name in ("MaximumActiveVirtualSystemMigration", "MaximumActiveStorageMigration"):
            limit = property_value(value, name)
            if limit is not None:
                if not 1 <= int(limit) <= 512:
                    raise Refused(ReturnCode.INVALID_PARAMETER, f"{name} must be between 1 and 512")
                limits[name] = int(limit)
        authentication = property_value(value, "AuthenticationType")
        if authentication is not None and int(authentication) not in (0, 1):
            raise Refused(ReturnCode.INVALID_PARAMETER,
                          "AuthenticationType must be 0 (CredSSP) or 1 (Kerberos)")
        for name, attribute in (("EnableVirtualSystemMigration", "migration_enabled"),
                                ("EnableCompression", "migration_compression"),
                                ("EnableSmbTransport", "migration_smb")):
            flag = property_value(value, name)
            if flag is not None:
                setattr(host, attribute, bool(flag))
        if authentication is not None:
            host.migration_auth_type = int(authentication)
        if "MaximumActiveVirtualSystemMigration" in limits:
            host.max_active_vm_migrations = limits["MaximumActiveVirtualSystemMigration"]
        if "MaximumActiveStorageMigration" in limits:
            host.max_active_storage_migrations = limits["MaximumActiveStorageMigration"]
        ctx.uow.flush()
        self.timeline.start_queued(ctx.uow, host.id, ctx.now())
        return MethodResult(ReturnCode.COMPLETED, {"Job": None})

    @staticmethod
    def _require_settings_class(scope: Scope) -> None:
        if scope.cluster_view:
            # Msvm_VirtualSystemMigrationNetworkSettingData does not exist there (§2.13).
            raise Refused(ReturnCode.NOT_SUPPORTED,
                          "migration networks are managed in root/virtualization/v2")

    def request_state_change(self, ctx: ProviderContext, call: MethodCall, host: Host
                              ) -> MethodResult:
        requested = call.param("RequestedState")
        if requested is None:
            return MethodResult(DmtfReturnCode.NOT_SUPPORTED, {"Job": None})
        if int(requested) == 2:
            return self.start_service(ctx, call, host)
        if int(requested) == 3:
            return self.stop_service(ctx, call, host)
        return MethodResult(DmtfReturnCode.NOT_SUPPORTED, {"Job": None})

    def start_service(self, ctx: ProviderContext, call: MethodCall, host: Host
                       ) -> MethodResult:
        if not host.migration_service_started:
            host.migration_service_started = True
            ctx.uow.flush()
            self.timeline.start_queued(ctx.uow, host.id, ctx.now())
        return MethodResult(ReturnCode.COMPLETED, {"Job": None} if _has_job(call) else {})

    def stop_service(self, ctx: ProviderContext, call: MethodCall, host: Host
                      ) -> MethodResult:
        host.migration_service_started = False
        return MethodResult(ReturnCode.COMPLETED, {"Job": None} if _has_job(call) else {})


def _network(value: Any, index: int) -> tuple[str, int, int | None, list[str] | None]:
    what = f"NetworkSettings[{index}]"
    if isinstance(value, MalformedEmbedded):
        raise Refused(ReturnCode.INVALID_PARAMETER, f"{what}: {value.reason}")
    if not isinstance(value, CIMInstance) or \
            value.classname.lower() != MIGRATION_NETWORK.lower():
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"{what} must be an embedded {MIGRATION_NETWORK}")
    subnet, prefix = property_value(value, "SubnetNumber"), property_value(value, "PrefixLength")
    if subnet is None or prefix is None:
        raise Refused(ReturnCode.INVALID_PARAMETER, f"{what} needs SubnetNumber and PrefixLength")
    try:
        network = ipaddress.ip_network(f"{subnet}/{int(prefix)}", strict=True)
    except ValueError as error:
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"{what}: {subnet}/{prefix} is not a subnet: {error}") from None
    metric = property_value(value, "Metric")
    tags = property_value(value, "Tags")
    text = str(subnet) if str(subnet) in ("::0", "0.0.0.0") else str(network.network_address)
    return text, network.prefixlen, None if metric is None else int(metric), \
        None if tags is None else [str(t) for t in tags]


def _has_job(call: MethodCall) -> bool:
    return call.method.lower() == "requeststatechange"
