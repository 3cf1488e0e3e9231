"""root/interop: the namespaces, the object manager and the registered DMTF profiles (DSP1033)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pywbem import CIMInstanceName

from providers import world
from providers.base import (
    INTEROP,
    V2,
    AssociationProvider,
    InstanceProvider,
    ProviderContext,
    Record,
    Scope,
    ref,
)
from providers.computer_system import CS, host_keys
from providers.host_services import migration_service_keys

SERVED_NAMESPACES = ("root/interop", "root/virtualization/v2", "root/HyperVCluster/v2",
                     "root/cimv2")
OBJECT_MANAGER_NAME = "Microsoft:WMI"
REGISTERED = "CIM_RegisteredProfile"
HYPERV_REGISTERED = "Msvm_RegisteredProfile"
# WMI's own profile (the object manager's Profile Registration) is a CIM_RegisteredProfile; the
# DMTF profiles Hyper-V implements are Msvm_RegisteredProfile, as on a real host's root/interop.
OWN_PROFILE = ("Profile Registration", "1.0.0")
SYSTEM_VIRTUALIZATION = ("System Virtualization", "1.0.0")
MIGRATION_PROFILE = ("Virtual System Migration", "1.0.0")
# (registered name, version): the DMTF profiles a Hyper-V host implements for what hvsim serves.
PROFILES: tuple[tuple[str, str], ...] = (
    SYSTEM_VIRTUALIZATION,
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


def profile_ref(profile: tuple[str, str], classname: str = HYPERV_REGISTERED) -> CIMInstanceName:
    """A registered profile's path in root/interop, for references from other namespaces."""
    return CIMInstanceName(classname, keybindings={"InstanceID": profile_id(*profile)},
                           namespace=INTEROP)


class RegisteredProfileProvider(InstanceProvider):
    classnames = (REGISTERED, HYPERV_REGISTERED)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for name, version in PROFILES if classname == HYPERV_REGISTERED else (OWN_PROFILE,):
            keys = {"InstanceID": profile_id(name, version)}
            values = {**keys, "RegisteredOrganization": 2, "RegisteredName": name,
                      "RegisteredVersion": version, "AdvertiseTypes": [3],
                      "ElementName": name, "Caption": f"DMTF {name} profile"}
            # The default binds this iteration's dict; mypy cannot type a lambda's defaults.
            yield Record(classname, keys, "rp", lambda values=values: values)  # type: ignore[misc]


class ReferencedProfileProvider(AssociationProvider):
    """System Virtualization (DSP1042) references the other Hyper-V profiles it builds on."""

    classnames = ("Msvm_ReferencedProfile",)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        dependent = ref(HYPERV_REGISTERED, InstanceID=profile_id(*SYSTEM_VIRTUALIZATION))
        for profile in PROFILES:
            if profile == SYSTEM_VIRTUALIZATION:
                continue
            keys = {"Antecedent": ref(HYPERV_REGISTERED, InstanceID=profile_id(*profile)),
                    "Dependent": dependent}
            yield Record(classname, keys, "rfp", lambda keys=keys: dict(keys))  # type: ignore[misc]


class HostConformsToProfileProvider(AssociationProvider):
    """The endpoint's host conforms to System Virtualization, its migration service to Virtual
    System Migration: the central instances profile discovery finds (in root/virtualization/v2)."""

    classnames = ("Msvm_StandaloneV2ElementConformsToProfile",)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = world.host_named(ctx, scope.host)
        if host is None:
            return
        central = (
            (SYSTEM_VIRTUALIZATION, CIMInstanceName(CS, keybindings=host_keys(host),
                                                    namespace=V2)),
            (MIGRATION_PROFILE, CIMInstanceName("Msvm_VirtualSystemMigrationService",
                                                keybindings=migration_service_keys(host),
                                                namespace=V2)),
        )
        for profile, element in central:
            keys = {"ConformantStandard": ref(HYPERV_REGISTERED, InstanceID=profile_id(*profile)),
                    "ManagedElement": element}
            yield Record(classname, keys, "ecp", lambda keys=keys: dict(keys))  # type: ignore[misc]


class ProfileConformanceProvider(InstanceProvider):
    """The object manager conforms to Profile Registration (how pywbem finds central objects)."""

    classnames = ("CIM_ElementConformsToProfile",)
    namespaces = (INTEROP,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        keys = {
            "ConformantStandard": ref(REGISTERED, InstanceID=profile_id(*OWN_PROFILE)),
            "ManagedElement": ref("CIM_ObjectManager", **object_manager_keys(scope)),
        }
        yield Record("CIM_ElementConformsToProfile", keys, "ecp", lambda: dict(keys))
