"""Association classes: their references, keys and value maps."""

from __future__ import annotations

import pytest
from pywbem import ValueMapping

from tests.support.mof_schema import (
    CLUSTER,
    V2,
    Compiled,
    class_names,
    get_class,
    keys_of,
    qval,
)

# association -> ((ref1, class in v2), (ref2, class in v2)); None = absent from the cluster ns
ASSOCIATIONS = {
    "Msvm_HostedService": (("Antecedent", "CIM_System"), ("Dependent", "CIM_Service")),
    "Msvm_HostedDependency": (
        ("Antecedent", "CIM_ManagedElement"),
        ("Dependent", "CIM_ManagedElement"),
    ),
    "Msvm_SettingsDefineState": (
        ("ManagedElement", "CIM_ManagedElement"),
        ("SettingData", "CIM_SettingData"),
    ),
    "Msvm_ElementSettingData": (
        ("ManagedElement", "CIM_ManagedElement"),
        ("SettingData", "CIM_SettingData"),
    ),
    "Msvm_ElementCapabilities": (
        ("ManagedElement", "CIM_ManagedElement"),
        ("Capabilities", "CIM_Capabilities"),
    ),
    "Msvm_SettingsDefineCapabilities": (
        ("GroupComponent", "CIM_Capabilities"),
        ("PartComponent", "CIM_SettingData"),
    ),
    "Msvm_AffectedJobElement": (
        ("AffectedElement", "CIM_ManagedElement"),
        ("AffectingElement", "CIM_Job"),
    ),
    "Msvm_OwningJobElement": (
        ("OwningElement", "CIM_ManagedElement"),
        ("OwnedElement", "CIM_Job"),
    ),
    "Msvm_ServiceAffectsElement": (
        ("AffectedElement", "CIM_ManagedElement"),
        ("AffectingElement", "CIM_Service"),
    ),
    "Msvm_SystemDevice": (("GroupComponent", "CIM_System"), ("PartComponent", "CIM_LogicalDevice")),
    "Msvm_VirtualSystemSettingDataComponent": (
        ("GroupComponent", "CIM_VirtualSystemSettingData"),
        ("PartComponent", "CIM_ResourceAllocationSettingData"),
    ),
    "Msvm_VirtualSystemMigrationServiceSettingDataComponent": (
        ("GroupComponent", "Msvm_VirtualSystemMigrationServiceSettingData"),
        ("PartComponent", "Msvm_VirtualSystemMigrationNetworkSettingData"),
    ),
    "Msvm_SnapshotOfVirtualSystem": (
        ("Antecedent", "Msvm_ComputerSystem"),
        ("Dependent", "Msvm_VirtualSystemSettingData"),
    ),
    "Msvm_MostCurrentSnapshotInBranch": (
        ("Antecedent", "CIM_ComputerSystem"),
        ("Dependent", "Msvm_VirtualSystemSettingData"),
    ),
    "Msvm_ParentChildSettingData": (
        ("Antecedent", "Msvm_VirtualSystemSettingData"),
        ("Dependent", "Msvm_VirtualSystemSettingData"),
    ),
    "Msvm_ResourceDependentOnResource": (
        ("Antecedent", "CIM_ResourceAllocationSettingData"),
        ("Dependent", "CIM_ResourceAllocationSettingData"),
    ),
    "Msvm_ElementAllocatedFromPool": (
        ("Antecedent", "CIM_ResourcePool"),
        ("Dependent", "CIM_LogicalElement"),
    ),
}


@pytest.mark.parametrize("name", sorted(ASSOCIATIONS))
def test_association_references(compiled: Compiled, name: str) -> None:
    for ns in (V2, CLUSTER):
        if name not in class_names(compiled, ns):
            continue
        cls = get_class(compiled, ns, name)
        assert qval(cls, "Association") is True
        refs = {n: p for n, p in cls.properties.items() if p.type == "reference"}
        expected = dict(ASSOCIATIONS[name])
        assert {n: p.reference_class for n, p in refs.items()} == expected
        assert keys_of(cls) >= set(expected)
        for ref_name in expected:
            assert qval(refs[ref_name], "Override") == ref_name


def test_cluster_conforms_to_profile(compiled: Compiled) -> None:
    assert "Msvm_ClusterV2ElementConformsToProfile" in class_names(compiled, CLUSTER)
    assert "Msvm_ClusterV2ElementConformsToProfile" not in class_names(compiled, V2)
    cls = get_class(compiled, CLUSTER, "Msvm_ClusterV2ElementConformsToProfile")
    assert cls.superclass == "CIM_ElementConformsToProfile"
    assert cls.properties["ConformantStandard"].reference_class == "CIM_RegisteredProfile"
    managed = cls.properties["ManagedElement"]
    assert managed.reference_class == "CIM_ManagedElement"
    assert qval(managed, "MSFT_TargetNamespace") == "root\\HyperVCluster\\v2"
    assert keys_of(cls) == {"ConformantStandard", "ManagedElement"}


@pytest.mark.parametrize(
    "cls_name, prop, mapping",
    [
        (
            "Msvm_ElementSettingData",
            "IsDefault",
            {0: "Unknown", 1: "Is Default", 2: "Is Not Default"},
        ),
        (
            "Msvm_ElementSettingData",
            "IsCurrent",
            {0: "Unknown", 1: "Is Current", 2: "Is Not Current"},
        ),
        ("Msvm_ElementSettingData", "IsNext", {3: "Is Next For Single Use"}),
        ("Msvm_ElementCapabilities", "Characteristics", {2: "Default", 3: "Current"}),
        ("Msvm_SettingsDefineCapabilities", "PropertyPolicy", {0: "Independent", 1: "Correlated"}),
        ("Msvm_SettingsDefineCapabilities", "ValueRole", {0: "Default", 3: "Supported"}),
        ("Msvm_SettingsDefineCapabilities", "ValueRange", {0: "Point", 3: "Increments"}),
        ("Msvm_SettingsDefineCapabilities", "SupportStatement", {0: "Production", 1: "Prerelease"}),
        ("Msvm_AffectedJobElement", "ElementEffects", {2: "Exclusive Use", 5: "Create"}),
        (
            "Msvm_ServiceAffectsElement",
            "ElementEffects",
            {5: "Manages", 10: "Degrades Performance"},
        ),
    ],
)
def test_association_value_maps(
    compiled: Compiled, cls_name: str, prop: str, mapping: dict[int, str]
) -> None:
    vm = ValueMapping.for_property(compiled.conn, V2, cls_name, prop)
    for value, text in mapping.items():
        assert vm.tovalues(value) == text


def test_settings_define_capabilities_defaults(compiled: Compiled) -> None:
    cls = get_class(compiled, V2, "Msvm_SettingsDefineCapabilities")
    assert cls.properties["PropertyPolicy"].value == 0
    assert cls.properties["ValueRole"].value == 3
    assert cls.properties["ValueRange"].value == 0
