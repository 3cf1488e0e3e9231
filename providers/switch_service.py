"""Msvm_VirtualEthernetSwitchManagementService: one per host, so clients that walk a host's
services find it; its methods answer their own "Not Supported" (providers/unsupported.py)."""

from __future__ import annotations

from typing import Any

from providers.base import ProviderContext, Record
from providers.computer_system import host_etag
from providers.host_services import (
    SWITCH_SERVICE,
    PerHostProvider,
    service_status,
    switch_service_keys,
)
from providers.world import HostRow


class SwitchManagementServiceProvider(PerHostProvider):
    classnames = (SWITCH_SERVICE,)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = switch_service_keys(host)

        def values() -> dict[str, Any]:
            return {
                **keys, **service_status(True),
                "Caption": "Virtual Networking Management Service",
                "Description": "Provides Hyper-V Networking WMI management",
                "ElementName": "Hyper-V Networking Management Service",
                "InstanceID": None,
            }
        return Record(SWITCH_SERVICE, keys, host_etag(host), values)
