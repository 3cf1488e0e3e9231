"""root/interop: the namespaces, the object manager and the registered DMTF profiles (DSP1033)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from providers.base import INTEROP, InstanceProvider, ProviderContext, Record, Scope, ref

SERVED_NAMESPACES = ("root/interop", "root/virtualization/v2", "root/HyperVCluster/v2",
                     "root/cimv2")
OBJECT_MANAGER_NAME = "Microsoft:WMI"
# (registered name, version): the DMTF profiles a Hyper-V host implements for what hvsim serves.
PROFILES: tuple[tuple[str, str], ...] = (
    ("Profile Registration", "1.0.0"),
    ("System Virtualization", "1.0.0"),
    ("Virtual System", "1.0.0"),
    ("Virtual System Migration", "1.0.0"),
    ("Resource Allocation", "1.1.0"),
    ("Allocation Capabilities", "1.0.0"),
    ("Job Control", "1.0.0"),
)


def object_manager_keys(scope: Scope) -> dict[str, Any]:
    return {"SystemCreationClassName": "CIM_ComputerSystem", "SystemName": scope.host,
            "CreationClassName": "CIM_ObjectManager", "Name": OBJECT_MANAGER_NAME}


def profile_id(name: str, version: str) -> str:
    return f"DMTF:{name}:{version}"


class NamespaceProvider(InstanceProvider):
    classnames = ("CIM_Namespace",)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for name in SERVED_NAMESPACES:
            keys = {"SystemCreationClassName": "CIM_ComputerSystem", "SystemName": scope.host,
                    "ObjectManagerCreationClassName": "CIM_ObjectManager",
                    "ObjectManagerName": OBJECT_MANAGER_NAME,
                    "CreationClassName": "CIM_Namespace", "Name": name}
            values = {**keys, "ElementName": name, "ClassInfo": 0,
                      "Caption": f"Namespace {name}", "Description": "CIM namespace"}
            # The default binds this iteration's dict; mypy cannot type a lambda's defaults.
            yield Record("CIM_Namespace", keys, "ns", lambda values=values: values)  # type: ignore[misc]


class ObjectManagerProvider(InstanceProvider):
    classnames = ("CIM_ObjectManager",)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        keys = object_manager_keys(scope)
        values = {
            **keys,
            "ElementName": "Microsoft WMI",
            "Caption": "Windows Management Instrumentation",
            "Description": "Windows Management Instrumentation (hvsim)",
            "EnabledState": 2, "RequestedState": 12, "EnabledDefault": 2, "Started": True,
            "OperationalStatus": [2], "StatusDescriptions": ["OK"], "HealthState": 5,
            "GatherStatisticalData": False,
        }
        yield Record("CIM_ObjectManager", keys, "om", lambda: values)


class RegisteredProfileProvider(InstanceProvider):
    classnames = ("CIM_RegisteredProfile",)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for name, version in PROFILES:
            keys = {"InstanceID": profile_id(name, version)}
            values = {**keys, "RegisteredOrganization": 2, "RegisteredName": name,
                      "RegisteredVersion": version, "AdvertiseTypes": [3],
                      "ElementName": name, "Caption": f"DMTF {name} profile"}
            # The default binds this iteration's dict; mypy cannot type a lambda's defaults.
            yield Record("CIM_RegisteredProfile", keys, "rp", lambda values=values: values)  # type: ignore[misc]


class ProfileConformanceProvider(InstanceProvider):
    """The object manager conforms to Profile Registration (how pywbem finds central objects)."""

    classnames = ("CIM_ElementConformsToProfile",)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        keys = {
            "ConformantStandard": ref("CIM_RegisteredProfile",
                                      InstanceID=profile_id("Profile Registration", "1.0.0")),
            "ManagedElement": ref("CIM_ObjectManager", **object_manager_keys(scope)),
        }
        yield Record("CIM_ElementConformsToProfile", keys, "ecp", lambda: dict(keys))
