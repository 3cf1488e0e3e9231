"""Msvm_VirtualSystemMigrationService: its 15 methods, their return codes, its properties."""

from __future__ import annotations

import pytest
from pywbem import ValueMapping

from tests.support.mof_schema import (
    CLUSTER,
    FAMILY_B,
    V2,
    Compiled,
    ParamShape,
    describe_params,
    get_class,
    qval,
)

# method -> [(parameter, type, reference class or EmbeddedInstance class, is_array, direction)]
MIGRATION_METHODS_V2: dict[str, list[ParamShape]] = {
    "MigrateVirtualSystemToHost": [
        ("ComputerSystem", "reference", "CIM_ComputerSystem", False, "in"),
        ("DestinationHost", "string", None, False, "in"),
        ("MigrationSettingData", "string", "Msvm_VirtualSystemMigrationSettingData", False, "in"),
        ("NewSystemSettingData", "string", "Msvm_VirtualSystemSettingData", False, "in"),
        ("NewResourceSettingData", "string", "CIM_ResourceAllocationSettingData", True, "in"),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
    ],
    "CheckVirtualSystemIsMigratable": [
        ("ComputerSystem", "reference", "CIM_ComputerSystem", False, "in"),
        ("DestinationHost", "string", None, False, "in"),
        ("MigrationSettingData", "string", "Msvm_VirtualSystemMigrationSettingData", False, "in"),
        ("NewSystemSettingData", "string", "Msvm_VirtualSystemSettingData", False, "in"),
        ("NewResourceSettingData", "string", "CIM_ResourceAllocationSettingData", True, "in"),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
    ],
    "MigrateVirtualSystemToSystem": [
        ("ComputerSystem", "reference", "CIM_ComputerSystem", False, "in"),
        ("DestinationSystem", "reference", "CIM_System", False, "in"),
        ("MigrationSettingData", "string", "CIM_VirtualSystemMigrationSettingData", False, "in"),
        ("NewSystemSettingData", "string", "CIM_VirtualSystemSettingData", False, "in"),
        ("NewResourceSettingData", "string", "CIM_ResourceAllocationSettingData", True, "in"),
        ("NewComputerSystem", "reference", "CIM_ComputerSystem", False, "out"),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
    ],
    "CheckVirtualSystemIsMigratableToHost": [
        ("ComputerSystem", "reference", "CIM_ComputerSystem", False, "in"),
        ("DestinationHost", "string", None, False, "in"),
        ("MigrationSettingData", "string", "CIM_VirtualSystemMigrationSettingData", False, "in"),
        ("NewSystemSettingData", "string", "CIM_VirtualSystemSettingData", False, "in"),
        ("NewResourceSettingData", "string", "CIM_ResourceAllocationSettingData", True, "in"),
        ("IsMigratable", "boolean", None, False, "out"),
    ],
    "CheckVirtualSystemIsMigratableToSystem": [
        ("ComputerSystem", "reference", "CIM_ComputerSystem", False, "in"),
        ("DestinationSystem", "reference", "CIM_System", False, "in"),
        ("MigrationSettingData", "string", "CIM_VirtualSystemMigrationSettingData", False, "in"),
        ("NewSystemSettingData", "string", "CIM_VirtualSystemSettingData", False, "in"),
        ("NewResourceSettingData", "string", "CIM_ResourceAllocationSettingData", True, "in"),
        ("IsMigratable", "boolean", None, False, "out"),
    ],
    "GetSystemCompatibilityInfo": [
        ("ComputerSystem", "reference", "CIM_ComputerSystem", False, "in"),
        ("CompatibilityInfo", "uint8", None, True, "out"),
    ],
    "CheckSystemCompatibilityInfo": [
        ("CompatibilityInfo", "uint8", None, True, "in"),
        ("Reasons", "string", "Msvm_Error", True, "out"),
    ],
    "GetSystemCompatibilityVectors": [
        ("ComputerSystem", "reference", "CIM_ComputerSystem", False, "in"),
        ("CompatibilityVectors", "string", "Msvm_CompatibilityVector", True, "out"),
    ],
    "AddNetworkSettings": [
        ("NetworkSettings", "string", "Msvm_VirtualSystemMigrationNetworkSettingData", True, "in"),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
    ],
    "ModifyNetworkSettings": [
        ("NetworkSettings", "string", "Msvm_VirtualSystemMigrationNetworkSettingData", True, "in"),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
    ],
    "RemoveNetworkSettings": [
        (
            "NetworkSettings",
            "reference",
            "Msvm_VirtualSystemMigrationNetworkSettingData",
            True,
            "in",
        ),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
    ],
    "ModifyServiceSettings": [
        (
            "ServiceSettingData",
            "string",
            "Msvm_VirtualSystemMigrationServiceSettingData",
            False,
            "in",
        ),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
    ],
    "RequestStateChange": [
        ("RequestedState", "uint16", None, False, "in"),
        ("Job", "reference", "CIM_ConcreteJob", False, "out"),
        ("TimeoutPeriod", "datetime", None, False, "in"),
    ],
    "StartService": [],
    "StopService": [],
}

# Classes absent from the cluster namespace are replaced by their CIM_ parent there.
CLUSTER_SUBSTITUTES: dict[str | None, str | None] = {
    "Msvm_VirtualSystemMigrationSettingData": "CIM_VirtualSystemMigrationSettingData",
    "Msvm_VirtualSystemMigrationNetworkSettingData": "CIM_SettingData",
    "Msvm_VirtualSystemMigrationServiceSettingData": "CIM_SettingData",
    "Msvm_CompatibilityVector": None,  # EmbeddedObject
}


def test_migration_service_has_15_methods(compiled: Compiled) -> None:
    for ns in (V2, CLUSTER):
        cls = get_class(compiled, ns, "Msvm_VirtualSystemMigrationService")
        assert set(cls.methods) == set(MIGRATION_METHODS_V2)
        assert len(cls.methods) == 15
        assert all(m.return_type == "uint32" for m in cls.methods.values())


@pytest.mark.parametrize("method", sorted(MIGRATION_METHODS_V2))
def test_migration_method_signature_v2(compiled: Compiled, method: str) -> None:
    cls = get_class(compiled, V2, "Msvm_VirtualSystemMigrationService")
    assert describe_params(cls.methods[method]) == MIGRATION_METHODS_V2[method]


@pytest.mark.parametrize("method", sorted(MIGRATION_METHODS_V2))
def test_migration_method_signature_cluster(compiled: Compiled, method: str) -> None:
    cls = get_class(compiled, CLUSTER, "Msvm_VirtualSystemMigrationService")
    expected = [
        (name, cim_type, CLUSTER_SUBSTITUTES.get(target, target), is_array, way)
        for name, cim_type, target, is_array, way in MIGRATION_METHODS_V2[method]
    ]
    assert describe_params(cls.methods[method]) == expected
    if method == "GetSystemCompatibilityVectors":
        assert qval(cls.methods[method].parameters["CompatibilityVectors"], "EmbeddedObject")


@pytest.mark.parametrize(
    "method, family",
    [
        ("MigrateVirtualSystemToHost", FAMILY_B),
        ("CheckVirtualSystemIsMigratable", FAMILY_B),
        ("GetSystemCompatibilityInfo", FAMILY_B),
        ("CheckSystemCompatibilityInfo", [*FAMILY_B, "32784"]),
        ("GetSystemCompatibilityVectors", FAMILY_B),
        ("AddNetworkSettings", FAMILY_B),
        ("ModifyNetworkSettings", FAMILY_B),
        ("RemoveNetworkSettings", FAMILY_B),
        ("ModifyServiceSettings", FAMILY_B),
        ("RequestStateChange", ["0", "1"]),
        ("StartService", ["0", "1"]),
        ("StopService", ["0", "1"]),
    ],
)
def test_migration_method_return_codes(compiled: Compiled, method: str, family: list[str]) -> None:
    for ns in (V2, CLUSTER):
        m = get_class(compiled, ns, "Msvm_VirtualSystemMigrationService").methods[method]
        assert qval(m, "ValueMap") == family
        assert len(qval(m, "Values")) == len(family)


@pytest.mark.parametrize(
    "method",
    [
        "MigrateVirtualSystemToSystem",
        "CheckVirtualSystemIsMigratableToHost",
        "CheckVirtualSystemIsMigratableToSystem",
    ],
)
def test_inherited_cim_migration_methods_use_family_a(compiled: Compiled, method: str) -> None:
    m = get_class(compiled, V2, "Msvm_VirtualSystemMigrationService").methods[method]
    vm = ValueMapping.for_method(compiled.conn, V2, "Msvm_VirtualSystemMigrationService", method)
    assert vm.tovalues(4) == "Invalid Parameter"
    assert vm.tovalues(5) == "Invalid State"
    assert m.qualifiers["ValueMap"].value[:7] == ["0", "1", "2", "3", "4", "5", "6"]


def test_check_system_compatibility_not_compatible(compiled: Compiled) -> None:
    vm = ValueMapping.for_method(
        compiled.conn, V2, "Msvm_VirtualSystemMigrationService", "CheckSystemCompatibilityInfo"
    )
    assert vm.tovalues(32784) == "Not compatible"
    assert vm.tovalues(32773) == "Invalid parameter"


def test_migration_service_properties(compiled: Compiled) -> None:
    cls = get_class(compiled, V2, "Msvm_VirtualSystemMigrationService")
    props = cls.properties
    assert props["ActiveVirtualSystemMigrationCount"].type == "uint32"
    assert props["ActiveStorageMigrationCount"].type == "uint32"
    assert props["MigrationServiceListenerIPAddressList"].type == "string"
    assert props["MigrationServiceListenerIPAddressList"].is_array
    assert props["EnabledState"].type == "uint16"
