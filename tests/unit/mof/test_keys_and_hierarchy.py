"""Key properties and superclass chains (reference sections 1-13)."""

from __future__ import annotations

import pytest

from tests.support.mof_schema import (
    CLUSTER,
    INTEROP,
    V2,
    Compiled,
    get_class,
    keys_of,
    qval,
    superclass_chain,
)

# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "name, keys",
    [
        ("Msvm_ComputerSystem", {"CreationClassName", "Name"}),
        ("Msvm_PlannedComputerSystem", {"CreationClassName", "Name"}),
        ("Msvm_VirtualEthernetSwitch", {"CreationClassName", "Name"}),
        (
            "Msvm_VirtualSystemMigrationService",
            {"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
        ),
        (
            "Msvm_VirtualSystemManagementService",
            {"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
        ),
        ("Msvm_MigrationJob", {"InstanceID"}),
        ("Msvm_ConcreteJob", {"InstanceID"}),
        ("Msvm_VirtualSystemSettingData", {"InstanceID"}),
        ("Msvm_VirtualSystemMigrationSettingData", {"InstanceID"}),
        ("Msvm_VirtualSystemMigrationServiceSettingData", {"InstanceID"}),
        ("Msvm_VirtualSystemMigrationNetworkSettingData", {"InstanceID"}),
        ("Msvm_VirtualSystemMigrationCapabilities", {"InstanceID"}),
        ("Msvm_ResourceAllocationSettingData", {"InstanceID"}),
        ("Msvm_StorageAllocationSettingData", {"InstanceID"}),
        ("Msvm_MemorySettingData", {"InstanceID"}),
        ("Msvm_ProcessorSettingData", {"InstanceID"}),
        ("Msvm_EthernetPortAllocationSettingData", {"InstanceID"}),
        ("Msvm_ResourcePool", {"InstanceID"}),
        (
            "Msvm_DiskDrive",
            {"SystemCreationClassName", "SystemName", "CreationClassName", "DeviceID"},
        ),
        ("Msvm_Error", set()),
        ("Msvm_CompatibilityVector", set()),
        ("Msvm_SummaryInformation", set()),
    ],
)
def test_keys(compiled: Compiled, name: str, keys: set[str]) -> None:
    assert keys_of(get_class(compiled, V2, name)) == keys


def test_every_setting_data_is_keyed_by_instance_id(compiled: Compiled) -> None:
    for ns in (V2, CLUSTER):
        for name in compiled.conn.EnumerateClassNames(
            namespace=ns, ClassName="CIM_SettingData", DeepInheritance=True
        ):
            assert keys_of(get_class(compiled, ns, name)) == {"InstanceID"}, name


def test_every_service_has_the_four_service_keys(compiled: Compiled) -> None:
    for ns in (V2, CLUSTER, INTEROP):
        for name in compiled.conn.EnumerateClassNames(
            namespace=ns, ClassName="CIM_Service", DeepInheritance=True
        ):
            assert keys_of(get_class(compiled, ns, name)) == {
                "CreationClassName",
                "Name",
                "SystemCreationClassName",
                "SystemName",
            }, name


def test_namespace_keys(compiled: Compiled) -> None:
    assert keys_of(get_class(compiled, INTEROP, "CIM_Namespace")) == {
        "SystemCreationClassName",
        "SystemName",
        "ObjectManagerCreationClassName",
        "ObjectManagerName",
        "CreationClassName",
        "Name",
    }


# --------------------------------------------------------------------------- hierarchy


def test_storage_allocation_is_not_a_msvm_rasd(compiled: Compiled) -> None:
    chain = superclass_chain(compiled, V2, "Msvm_StorageAllocationSettingData")
    assert chain == [
        "CIM_StorageAllocationSettingData",
        "CIM_ResourceAllocationSettingData",
        "CIM_SettingData",
        "CIM_ManagedElement",
    ]
    assert "Msvm_ResourceAllocationSettingData" not in chain
    msvm_rasd_subclasses = compiled.conn.EnumerateClassNames(
        namespace=V2, ClassName="Msvm_ResourceAllocationSettingData", DeepInheritance=True
    )
    assert "Msvm_StorageAllocationSettingData" not in msvm_rasd_subclasses
    cim_rasd_subclasses = compiled.conn.EnumerateClassNames(
        namespace=V2, ClassName="CIM_ResourceAllocationSettingData", DeepInheritance=True
    )
    assert {
        "Msvm_StorageAllocationSettingData",
        "Msvm_ResourceAllocationSettingData",
        "Msvm_MemorySettingData",
        "Msvm_ProcessorSettingData",
        "Msvm_SyntheticEthernetPortSettingData",
        "Msvm_EthernetPortAllocationSettingData",
    } <= set(cim_rasd_subclasses)


def test_job_classes_are_siblings(compiled: Compiled) -> None:
    for ns in (V2, CLUSTER):
        for name in ("Msvm_ConcreteJob", "Msvm_MigrationJob"):
            assert get_class(compiled, ns, name).superclass == "CIM_ConcreteJob"
        assert (
            compiled.conn.EnumerateClassNames(
                namespace=ns, ClassName="Msvm_ConcreteJob", DeepInheritance=True
            )
            == []
        )
    assert "Abstract" in get_class(compiled, V2, "CIM_ConcreteJob").qualifiers


COMPUTER_SYSTEM_CHAIN = [
    "CIM_ComputerSystem",
    "CIM_System",
    "CIM_EnabledLogicalElement",
    "CIM_LogicalElement",
    "CIM_ManagedSystemElement",
    "CIM_ManagedElement",
]


@pytest.mark.parametrize(
    "name, chain",
    [
        (
            "Msvm_VirtualSystemMigrationService",
            [
                "CIM_VirtualSystemMigrationService",
                "CIM_Service",
                "CIM_EnabledLogicalElement",
                "CIM_LogicalElement",
                "CIM_ManagedSystemElement",
                "CIM_ManagedElement",
            ],
        ),
        (
            "Msvm_VirtualSystemMigrationSettingData",
            ["CIM_VirtualSystemMigrationSettingData", "CIM_SettingData", "CIM_ManagedElement"],
        ),
        (
            "Msvm_VirtualSystemMigrationCapabilities",
            ["CIM_VirtualSystemMigrationCapabilities", "CIM_Capabilities", "CIM_ManagedElement"],
        ),
        ("Msvm_CompatibilityVector", []),
        ("Msvm_Error", ["CIM_Error"]),
        ("Msvm_MoveUnmanagedVhd", ["CIM_ManagedElement"]),
        ("Msvm_PlannedComputerSystem", COMPUTER_SYSTEM_CHAIN),
        ("Msvm_VirtualEthernetSwitch", COMPUTER_SYSTEM_CHAIN),
        ("Msvm_ComputerSystem", COMPUTER_SYSTEM_CHAIN),
        (
            "Msvm_SummaryInformation",
            ["Msvm_SummaryInformationBase", "CIM_View", "CIM_ManagedElement"],
        ),
        (
            "Msvm_ResourcePool",
            [
                "CIM_ResourcePool",
                "CIM_LogicalElement",
                "CIM_ManagedSystemElement",
                "CIM_ManagedElement",
            ],
        ),
    ],
)
def test_superclass_chains(compiled: Compiled, name: str, chain: list[str]) -> None:
    assert superclass_chain(compiled, V2, name) == chain


@pytest.mark.parametrize(
    "name, qualifiers",
    [
        (
            "CIM_VirtualSystemMigrationService",
            {"Experimental": True, "Abstract": True, "Version": "2.17.0"},
        ),
        (
            "CIM_VirtualSystemMigrationSettingData",
            {"Experimental": True, "Abstract": True, "Version": "2.20.0"},
        ),
        (
            "CIM_VirtualSystemMigrationCapabilities",
            {"Experimental": True, "Abstract": True, "Version": "2.17.0"},
        ),
        ("CIM_ConcreteJob", {"Abstract": True, "Version": "2.22.0"}),
    ],
)
def test_cim_class_qualifiers(
    compiled: Compiled, name: str, qualifiers: dict[str, bool | str]
) -> None:
    cls = get_class(compiled, V2, name)
    for qname, value in qualifiers.items():
        assert qval(cls, qname) == value, qname
