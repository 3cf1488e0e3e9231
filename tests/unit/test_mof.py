"""Compile the hvsim MOF class definitions and check them against the reference.

The reference is docs/hyperv-reference.md (sections 1-14, 17).
Each namespace manifest under mof/namespaces/ is compiled into a pywbem_mock
repository, the way the emulator's loader does it.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from pywbem import CIMClass, CIMMethod, CIMParameter, CIMProperty, ValueMapping
from pywbem_mock import FakedWBEMConnection

from mof import MOF_DIR

V2 = "root/virtualization/v2"
CLUSTER = "root/HyperVCluster/v2"
INTEROP = "root/interop"
CIMV2 = "root/cimv2"

MANIFESTS = {
    V2: MOF_DIR / "namespaces" / "root_virtualization_v2.mof",
    CLUSTER: MOF_DIR / "namespaces" / "root_hypervcluster_v2.mof",
    INTEROP: MOF_DIR / "namespaces" / "root_interop.mof",
    CIMV2: MOF_DIR / "namespaces" / "root_cimv2.mof",
}

EXPECTED_CLASS_COUNTS = {V2: 109, CLUSTER: 77, INTEROP: 19, CIMV2: 25}

INCLUDE_RE = re.compile(r'^\s*#pragma\s+include\s*\(\s*"([^"]+)"\s*\)', re.MULTILINE)

FAMILY_B = ["0", "4096", *[str(n) for n in range(32768, 32779)]]
FAMILY_B_JOB = ["0", *[str(n) for n in range(32768, 32779)]]

# What a qualifier can sit on.
CIMElement: TypeAlias = CIMClass | CIMProperty | CIMMethod | CIMParameter
# A method parameter as the reference describes it: name, CIM type, referenced or embedded
# class, array or not, and direction.
ParamShape: TypeAlias = tuple[str, str, str | None, bool, str]


@dataclass
class Compiled:
    conn: FakedWBEMConnection
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def compiled() -> Compiled:
    """All three namespaces, compiled into one mock repository."""
    conn = FakedWBEMConnection()
    seconds: dict[str, float] = {}
    for ns, manifest in MANIFESTS.items():
        if ns not in conn.cimrepository.namespaces:  # the mock starts with root/cimv2
            conn.add_namespace(ns)
        start = time.perf_counter()
        # Raises MOFCompileError on the first error, so returning means zero errors.
        conn.compile_mof_file(str(manifest), namespace=ns, search_paths=[str(MOF_DIR)])
        seconds[ns] = time.perf_counter() - start
    return Compiled(conn, seconds)


def get_class(compiled: Compiled, ns: str, name: str) -> CIMClass:
    return compiled.conn.GetClass(
        name, namespace=ns, LocalOnly=False, IncludeQualifiers=True, IncludeClassOrigin=True
    )


def class_names(compiled: Compiled, ns: str) -> set[str]:
    return set(compiled.conn.EnumerateClassNames(namespace=ns, DeepInheritance=True))


def all_classes(compiled: Compiled, ns: str) -> list[CIMClass]:
    return [get_class(compiled, ns, name) for name in sorted(class_names(compiled, ns))]


def keys_of(cls: CIMClass) -> set[str]:
    return {
        name
        for name, prop in cls.properties.items()
        if "Key" in prop.qualifiers and prop.qualifiers["Key"].value
    }


# Qualifier values are whatever the MOF declares (bool, str, list of str, ...).
def qval(element: CIMElement, name: str, default: object = None) -> Any:
    qual = element.qualifiers.get(name)
    return default if qual is None else qual.value


def direction(param: CIMParameter) -> str:
    """'in', 'out' or 'inout', using the declared defaults (In true, Out false)."""
    is_in = qval(param, "In", True)
    is_out = qval(param, "Out", False)
    return {(True, False): "in", (False, True): "out", (True, True): "inout"}[(is_in, is_out)]


def superclass_chain(compiled: Compiled, ns: str, name: str) -> list[str]:
    chain = []
    cls = get_class(compiled, ns, name)
    while cls.superclass:
        chain.append(cls.superclass)
        cls = get_class(compiled, ns, cls.superclass)
    return chain


def included_class_names(manifest: Path) -> set[str]:
    return {Path(inc).stem for inc in INCLUDE_RE.findall(manifest.read_text())} - {"qualifiers"}


# --------------------------------------------------------------------------- compilation


def test_all_namespaces_compile(compiled: Compiled) -> None:
    for ns in MANIFESTS:
        assert compiled.seconds[ns] > 0
        print(f"{ns}: {len(class_names(compiled, ns))} classes in {compiled.seconds[ns]:.2f}s")


@pytest.mark.parametrize("ns", list(MANIFESTS))
def test_class_counts(compiled: Compiled, ns: str) -> None:
    assert len(class_names(compiled, ns)) == EXPECTED_CLASS_COUNTS[ns]


@pytest.mark.parametrize("ns", list(MANIFESTS))
def test_namespace_holds_exactly_the_manifest(compiled: Compiled, ns: str) -> None:
    """Nothing was pulled in implicitly from the search path, nothing is missing."""
    assert class_names(compiled, ns) == included_class_names(MANIFESTS[ns])


def test_every_mof_file_is_used() -> None:
    used = set()
    for manifest in MANIFESTS.values():
        includes = INCLUDE_RE.findall(manifest.read_text())
        used |= {(manifest.parent / inc).resolve() for inc in includes}
    files = {p.resolve() for p in MOF_DIR.rglob("*.mof") if p.parent.name != "namespaces"}
    assert files - used == set()


def test_one_class_per_file_named_after_it() -> None:
    for path in MOF_DIR.rglob("*.mof"):
        if path.parent.name == "namespaces" or path.name == "qualifiers.mof":
            continue
        declared = re.findall(r"^class\s+(\w+)", path.read_text(), re.MULTILINE)
        assert declared == [path.stem], path


def test_no_instances(compiled: Compiled) -> None:
    for ns in MANIFESTS:
        for cls in all_classes(compiled, ns):
            if cls.superclass is None and "Abstract" not in cls.qualifiers:
                assert compiled.conn.EnumerateInstanceNames(cls.classname, namespace=ns) == []


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


# --------------------------------------------------------------------------- associations

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


# --------------------------------------------------------------------------- migration service

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


def describe_params(method: CIMMethod) -> list[ParamShape]:
    out: list[ParamShape] = []
    for p in method.parameters.values():
        target = p.reference_class if p.type == "reference" else qval(p, "EmbeddedInstance")
        out.append((p.name, p.type, target, p.is_array, direction(p)))
    return out


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


# --------------------------------------------------------------------------- value maps


def test_migration_type_value_map(compiled: Compiled) -> None:
    for cls_name in ("Msvm_VirtualSystemMigrationSettingData", "Msvm_MigrationJob"):
        prop = get_class(compiled, V2, cls_name).properties["MigrationType"]
        assert {"32768", "32769", "32770", "32771", "32772"} <= set(qval(prop, "ValueMap"))
        vm = ValueMapping.for_property(compiled.conn, V2, cls_name, "MigrationType")
        assert [vm.tovalues(n) for n in range(32768, 32773)] == [
            "VirtualSystem",
            "Storage",
            "Staged",
            "VirtualSystemAndStorage",
            "StorageDeepCheck",
        ]
        assert vm.tovalues(0) == "Unknown"
    msd = get_class(compiled, V2, "Msvm_VirtualSystemMigrationSettingData")
    assert qval(msd.properties["MigrationType"], "Override") == "MigrationType"
    base = get_class(compiled, V2, "CIM_VirtualSystemMigrationSettingData")
    base_vm = ValueMapping.for_property(
        compiled.conn, V2, "CIM_VirtualSystemMigrationSettingData", "MigrationType"
    )
    assert base_vm.tovalues(2) == "Live"
    assert "32768" not in qval(base.properties["MigrationType"], "ValueMap")


def test_transport_type_and_cpu_capping(compiled: Compiled) -> None:
    vm = ValueMapping.for_property(
        compiled.conn, V2, "Msvm_VirtualSystemMigrationSettingData", "TransportType"
    )
    assert vm.tovalues(5) == "TCP"
    assert vm.tovalues(32768) == "SMB"
    vm = ValueMapping.for_property(
        compiled.conn, V2, "Msvm_VirtualSystemMigrationSettingData", "CPUCappingMagnitude"
    )
    assert [vm.tovalues(n) for n in (0, 1, 2)] == ["Normal", "Low", "High"]


def test_migration_setting_data_properties(compiled: Compiled) -> None:
    props = get_class(compiled, V2, "Msvm_VirtualSystemMigrationSettingData").properties
    writable = {
        "MigrationType",
        "TransportType",
        "RetainVhdCopiesOnSource",
        "EnableCompression",
        "DestinationIPAddressList",
        "DestinationPlannedVirtualSystemId",
        "UnmanagedVhds",
        "RemoveSourceUnmanagedVhds",
        "AvoidRemovingVHDs",
        "CPUCappingMagnitude",
        "CancelIfBlackoutThresholdExceeded",
        "AllowOverwriteExistingFile",
        "AdvancedOptions",
        "EnableVhdCompression",
    }
    for name in writable:
        assert qval(props[name], "Write") is True, name
    for name in ("Priority", "Bandwidth", "BandwidthUnit", "OtherTransportType", "InstanceID"):
        assert not qval(props[name], "Write", False), name
    assert qval(props["UnmanagedVhds"], "HyperVEmbeddedInstance") == "Msvm_MoveUnmanagedVhd"
    assert qval(props["UnmanagedVhds"], "ArrayType") == "Indexed"
    assert "BandwidthReservation" not in props


def test_service_setting_data(compiled: Compiled) -> None:
    cls = get_class(compiled, V2, "Msvm_VirtualSystemMigrationServiceSettingData")
    vm = ValueMapping.for_property(
        compiled.conn, V2, "Msvm_VirtualSystemMigrationServiceSettingData", "AuthenticationType"
    )
    assert (vm.tovalues(0), vm.tovalues(1)) == ("CredSSP", "Kerberos")
    assert cls.properties["EnableCompression"].value is True
    assert cls.properties["EnableSmbTransport"].value is False
    assert qval(cls.properties["EnableSmbTransport"], "Write") is True


def test_capabilities_value_maps(compiled: Compiled) -> None:
    conn = compiled.conn
    cls = "Msvm_VirtualSystemMigrationCapabilities"
    vm = ValueMapping.for_property(conn, V2, cls, "AsynchronousMethodsSupported")
    assert vm.tovalues(32768) == "CheckVirtualSystemIsMigratableSupported"
    assert vm.tovalues(2) == "MigrateVirtualSystemToHostSupported"
    vm = ValueMapping.for_property(conn, V2, cls, "SynchronousMethodsSupported")
    assert vm.tovalues(5) == "CheckVirtualSystemIsMigratableToSystemSupported"
    vm = ValueMapping.for_property(conn, V2, cls, "DestinationHostFormatsSupported")
    assert [vm.tovalues(n) for n in (2, 3, 4)] == [
        "DomainNameFormatSupported",
        "IPv4DottedDecimalFormatSupported",
        "IPv6TextFormatSupported",
    ]


def test_compatibility_vector(compiled: Compiled) -> None:
    cls = get_class(compiled, V2, "Msvm_CompatibilityVector")
    assert cls.superclass is None
    assert {n: p.type for n, p in cls.properties.items()} == {
        "VectorId": "uint32",
        "CompareOperation": "uint32",
        "CompatibilityInfo": "uint64",
    }
    vm = ValueMapping.for_property(compiled.conn, V2, cls.classname, "CompareOperation")
    assert vm.tovalues(2) == "Subset"
    assert vm.tovalues(9) == "Divisible"


@pytest.mark.parametrize(
    "cls_name, prop, mapping",
    [
        (
            "Msvm_ComputerSystem",
            "EnabledState",
            {
                2: "Enabled",
                3: "Disabled",
                6: "Enabled but Offline",
                9: "Quiesce",
                10: "Starting",
                32773: "Saving",
                32776: "Pausing",
                32777: "Resuming",
            },
        ),
        ("Msvm_ComputerSystem", "RequestedState", {12: "Not Applicable", 11: "Reset"}),
        ("Msvm_ComputerSystem", "OperationalStatus", {2: "OK", 32774: "Migrating Virtual Machine"}),
        (
            "Msvm_ComputerSystem",
            "HealthState",
            {5: "OK", 20: "Major failure", 25: "Critical failure"},
        ),
        ("Msvm_ComputerSystem", "EnhancedSessionModeState", {2: "Allowed and available"}),
        ("Msvm_VirtualSystemMigrationService", "EnabledState", {2: "Enabled"}),
        (
            "Msvm_VirtualSystemMigrationService",
            "OperatingStatus",
            {9: "Migrating", 10: "Emigrating", 11: "Immigrating"},
        ),
        ("Msvm_VirtualSystemMigrationService", "CommunicationStatus", {2: "Communication OK"}),
        ("Msvm_VirtualSystemMigrationService", "DetailedStatus", {0: "Not Available"}),
        ("Msvm_VirtualSystemMigrationService", "PrimaryStatus", {3: "Error"}),
        ("Msvm_VirtualSystemMigrationService", "TransitioningToState", {12: "Not Applicable"}),
        ("Msvm_VirtualSystemMigrationService", "EnabledDefault", {2: "Enabled", 7: "No Default"}),
        ("Msvm_VirtualSystemMigrationService", "AvailableRequestedStates", {11: "Reset"}),
        (
            "Msvm_MigrationJob",
            "JobState",
            {7: "Completed", 10: "Exception", 32768: "Completed with Warnings"},
        ),
        ("Msvm_ConcreteJob", "JobState", {4: "Running", 32768: "Completed with Warnings"}),
        (
            "Msvm_MigrationJob",
            "JobType",
            {
                300: "Creating Remote Virtual Machine",
                306: "Moving Virtual Machine and Storage",
                307: "Moving Storage",
            },
        ),
        (
            "Msvm_ConcreteJob",
            "JobType",
            {
                12: "Start Virtual Machine",
                141: "Realizing Virtual Machine",
                260: "Mount or Dismount Assignable Device",
            },
        ),
        ("Msvm_MigrationJob", "RecoveryAction", {2: "Do Not Continue"}),
        (
            "Msvm_MigrationJob",
            "RunDayOfWeek",
            {-7: "-Saturday", 0: "ExactDayOfMonth", 7: "Saturday"},
        ),
        ("Msvm_MigrationJob", "LocalOrUtcTime", {2: "UTC Time"}),
        (
            "Msvm_Error",
            "ErrorType",
            {2: "Communications Error", 7: "Security Error", 10: "Unsupported Operation Error"},
        ),
        ("Msvm_Error", "PerceivedSeverity", {2: "Low", 5: "Fatal"}),
        (
            "Msvm_Error",
            "ProbableCause",
            {
                5: "Connection Establishment Error",
                33: "Out of Memory",
                38: "Processor Problem (Internal Machine Error)",
                40: "Queue Size Exceeded",
                58: "Version Mismatch",
                79: "Identifier Duplication",
                117: "Authentication Failure",
                130: "Unexpected Information",
            },
        ),
        ("Msvm_Error", "ErrorSourceFormat", {2: "CIMObjectHandle"}),
        (
            "Msvm_Error",
            "CIMStatusCode",
            {1: "CIM_ERR_FAILED", 6: "CIM_ERR_NOT_FOUND", 20: "CIM_ERR_NAMESPACE_NOT_EMPTY"},
        ),
        (
            "Msvm_StorageAllocationSettingData",
            "ResourceType",
            {31: "Logical Disk", 17: "Disk Drive"},
        ),
        (
            "Msvm_ResourceAllocationSettingData",
            "ResourceType",
            {33: "Ethernet Connection", 6: "Parallel SCSI HBA"},
        ),
        ("Msvm_StorageAllocationSettingData", "Access", {3: "Read/Write Supported"}),
        ("Msvm_StorageAllocationSettingData", "HostExtentNameFormat", {12: "OS Device Name"}),
        ("Msvm_StorageAllocationSettingData", "CachingMode", {4: "Cache Sharable Parents"}),
        ("Msvm_StorageAllocationSettingData", "WriteHardeningMethod", {3: "WriteCacheDisabled"}),
        ("Msvm_ResourceAllocationSettingData", "ConsumerVisibility", {3: "Virtualized"}),
        ("Msvm_ResourceAllocationSettingData", "MappingBehavior", {5: "Hard Affinity"}),
        (
            "Msvm_ProcessorSettingData",
            "LimitProcessorFeaturesMode",
            {1: "ClusterNodeCommonFeatures"},
        ),
        ("Msvm_VirtualSystemSettingData", "AutomaticStartupAction", {2: "None"}),
        ("Msvm_VirtualSystemSettingData", "AutomaticShutdownAction", {3: "Save State"}),
        ("Msvm_VirtualSystemSettingData", "AutomaticRecoveryAction", {4: "Revert to Snapshot"}),
        ("Msvm_VirtualSystemSettingData", "UserSnapshotType", {5: "Test"}),
        ("Msvm_VirtualSystemSettingData", "NetworkBootPreferredProtocol", {4097: "IPv6"}),
        ("Msvm_ResourcePool", "ResourceType", {31: "Logical Disk"}),
        ("Msvm_EthernetPortAllocationSettingData", "EnabledState", {2: "Enabled", 3: "Disabled"}),
    ],
)
def test_property_value_maps(
    compiled: Compiled, cls_name: str, prop: str, mapping: dict[int, str]
) -> None:
    vm = ValueMapping.for_property(compiled.conn, V2, cls_name, prop)
    for value, text in mapping.items():
        assert vm.tovalues(value) == text, value


@pytest.mark.parametrize(
    "cls_name, method, param, mapping",
    [
        (
            "Msvm_VirtualSystemMigrationService",
            "RequestStateChange",
            "RequestedState",
            {2: "Enabled", 11: "Reset"},
        ),
        (
            "Msvm_ComputerSystem",
            "RequestStateChange",
            "RequestedState",
            {2: "Enabled", 6: "Offline", 9: "Quiesce", 32776: "Pausing"},
        ),
        ("Msvm_MigrationJob", "RequestStateChange", "RequestedState", {4: "Terminate", 5: "Kill"}),
        ("Msvm_ConcreteJob", "RequestStateChange", "RequestedState", {2: "Start", 6: "Service"}),
        (
            "Msvm_VirtualSystemManagementService",
            "GetSummaryInformation",
            "RequestedInformation",
            {
                4: "NumberOfProcessors",
                100: "EnabledState",
                103: "MemoryUsage",
                105: "UpTime",
                132: "OtherEnabledState",
            },
        ),
    ],
)
def test_parameter_value_maps(
    compiled: Compiled, cls_name: str, method: str, param: str, mapping: dict[int, str]
) -> None:
    vm = ValueMapping.for_parameter(compiled.conn, V2, cls_name, method, param)
    for value, text in mapping.items():
        assert vm.tovalues(value) == text, value


def _ranges(valuemap: list[str]) -> list[tuple[int, int]]:
    out = []
    for entry in valuemap:
        if ".." in entry:
            lo, hi = entry.split("..")
            if lo and hi:
                out.append((int(lo), int(hi)))
        else:
            out.append((int(entry), int(entry)))
    return out


def _value_mapped_elements(
    cls: CIMClass,
) -> Iterator[tuple[CIMProperty | CIMMethod | CIMParameter, tuple[str, ...]]]:
    for prop in cls.properties.values():
        yield prop, ("property", prop.name)
    for meth in cls.methods.values():
        yield meth, ("method", meth.name)
        for param in meth.parameters.values():
            yield param, ("parameter", meth.name, param.name)


INTEGER_TYPES = {"uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32", "sint64"}


@pytest.mark.parametrize("ns", list(MANIFESTS))
def test_all_value_maps_are_consistent(compiled: Compiled, ns: str) -> None:
    """Every ValueMap has a matching Values list, parses, and has no overlaps."""
    checked = 0
    for cls in all_classes(compiled, ns):
        for element, where in _value_mapped_elements(cls):
            valuemap = qval(element, "ValueMap")
            values = qval(element, "Values")
            if valuemap is None and values is None:
                continue
            label = (cls.classname, *where)
            element_type = getattr(element, "type", None) or element.return_type
            if element_type not in INTEGER_TYPES:
                # DSP0004: a string ValueMap may stand alone (e.g. Status, StartMode).
                assert element_type == "string" and valuemap is not None, label
                assert values is None or len(values) == len(valuemap), label
                continue
            assert valuemap is not None and values is not None, label
            assert len(valuemap) == len(values), label
            ranges = sorted(_ranges(valuemap))
            for (_, hi), (lo, _) in itertools.pairwise(ranges):
                assert hi < lo, label
            if where[0] == "property":
                ValueMapping.for_property(compiled.conn, ns, cls.classname, where[1])
            elif where[0] == "method":
                ValueMapping.for_method(compiled.conn, ns, cls.classname, where[1])
            else:
                ValueMapping.for_parameter(compiled.conn, ns, cls.classname, *where[1:])
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("ns", [V2, CLUSTER])
def test_embedded_instance_classes_exist(compiled: Compiled, ns: str) -> None:
    names = {n.lower() for n in class_names(compiled, ns)}
    for cls in all_classes(compiled, ns):
        for element, where in _value_mapped_elements(cls):
            for qname in ("EmbeddedInstance", "HyperVEmbeddedInstance"):
                target = qval(element, qname)
                if target is None:
                    continue
                if qname == "HyperVEmbeddedInstance" and ns == CLUSTER:
                    continue
                assert target.lower() in names, (cls.classname, *where, target)


# --------------------------------------------------------------------------- jobs and errors


@pytest.mark.parametrize("name", ["Msvm_ConcreteJob", "Msvm_MigrationJob"])
def test_job_methods(compiled: Compiled, name: str) -> None:
    for ns in (V2, CLUSTER):
        cls = get_class(compiled, ns, name)
        assert {"GetError", "GetErrorEx", "RequestStateChange", "KillJob"} <= set(cls.methods)
        assert describe_params(cls.methods["GetError"]) == [
            ("Error", "string", "Msvm_Error", False, "out")
        ]
        assert describe_params(cls.methods["GetErrorEx"]) == [
            ("Errors", "string", "Msvm_Error", True, "out")
        ]
        assert describe_params(cls.methods["RequestStateChange"]) == [
            ("RequestedState", "uint16", None, False, "in"),
            ("TimeoutPeriod", "datetime", None, False, "in"),
        ]
        assert describe_params(cls.methods["KillJob"]) == [
            ("DeleteOnKill", "boolean", None, False, "in")
        ]
        assert qval(cls.methods["GetErrorEx"], "ValueMap") == FAMILY_B_JOB


def test_job_return_families(compiled: Compiled) -> None:
    mig = get_class(compiled, V2, "Msvm_MigrationJob").methods
    conc = get_class(compiled, V2, "Msvm_ConcreteJob").methods
    assert qval(mig["RequestStateChange"], "ValueMap") == FAMILY_B_JOB
    # Msvm_ConcreteJob.RequestStateChange keeps the Family A (RSC) codes of the v2 doc.
    assert "4097" in qval(conc["RequestStateChange"], "ValueMap")
    assert qval(mig["KillJob"], "ValueMap") == qval(conc["KillJob"], "ValueMap")
    assert "7" in qval(mig["KillJob"], "ValueMap")


def test_job_properties(compiled: Compiled) -> None:
    mig = get_class(compiled, V2, "Msvm_MigrationJob").properties
    conc = get_class(compiled, V2, "Msvm_ConcreteJob").properties
    for name in (
        "MigrationType",
        "VirtualSystemName",
        "DestinationHost",
        "NewSystemSettingData",
        "NewResourceSettingData",
    ):
        assert name in mig and name not in conc, name
    assert mig["NewResourceSettingData"].is_array
    for props in (mig, conc):
        for name in (
            "Cancellable",
            "ErrorSummaryDescription",
            "JobType",
            "JobState",
            "ErrorCode",
            "ErrorDescription",
            "PercentComplete",
            "Name",
        ):
            assert name in props, name
        for name in (
            "DeleteOnCompletion",
            "TimeBeforeRemoval",
            "Priority",
            "JobRunTimes",
            "RunMonth",
            "RunDay",
            "RunDayOfWeek",
            "RunStartInterval",
            "LocalOrUtcTime",
            "UntilTime",
            "Notify",
            "ScheduledStartTime",
        ):
            assert qval(props[name], "Write") is True, name
        for name in ("JobState", "ErrorCode", "PercentComplete", "StartTime", "Cancellable"):
            assert not qval(props[name], "Write", False), name
        assert str(props["TimeBeforeRemoval"].value) == "00000000000500.000000:000"
        assert qval(props["Name"], "Required") is True
        assert props["PercentComplete"].type == "uint16"
        assert props["RunDay"].type == "sint8"


def test_error_class(compiled: Compiled) -> None:
    for ns in (V2, CLUSTER):
        cls = get_class(compiled, ns, "Msvm_Error")
        assert keys_of(cls) == set()
        assert qval(cls.properties["MessageID"], "Required") is True
        assert cls.properties["MessageArguments"].is_array
        assert cls.properties["CIMStatusCode"].type == "uint32"
        assert cls.properties["ErrorSource"].type == "string"


# --------------------------------------------------------------------------- other classes


def test_vssd_properties(compiled: Compiled) -> None:
    props = get_class(compiled, V2, "Msvm_VirtualSystemSettingData").properties
    for name in (
        "ConfigurationDataRoot",
        "SnapshotDataRoot",
        "SwapFileDataRoot",
        "Version",
        "VirtualSystemType",
        "VirtualSystemIdentifier",
        "Architecture",
    ):
        assert props[name].type == "string", name
        assert not qval(props[name], "Write", False), name
    for name in (
        "AllowReducedFcRedundancy",
        "BootOrder",
        "SecureBootEnabled",
        "UserSnapshotType",
        "AutomaticCriticalErrorAction",
        "VirtualNumaEnabled",
    ):
        assert qval(props[name], "Write") is True, name
    # Server 23H2 additions.
    for name in (
        "WatchdogEnabled",
        "Vtl2AddressRangeSize",
        "NumaNodeTopologyArray",
        "GuestStateIsolationType",
        "FirmwareParameters",
    ):
        assert name in props, name
    assert props["Notes"].is_array


def test_processor_and_memory_setting_data(compiled: Compiled) -> None:
    proc = get_class(compiled, V2, "Msvm_ProcessorSettingData").properties
    assert proc["LimitProcessorFeatures"].type == "boolean"
    assert proc["HwThreadsPerCore"].type == "uint64"
    mem = get_class(compiled, V2, "Msvm_MemorySettingData").properties
    assert mem["DynamicMemoryEnabled"].type == "boolean"
    assert mem["TargetMemoryBuffer"].type == "uint32"


def test_ethernet_port_allocation_names_the_switch(compiled: Compiled) -> None:
    cls = get_class(compiled, V2, "Msvm_EthernetPortAllocationSettingData")
    assert cls.superclass == "CIM_EthernetPortAllocationSettingData"
    assert cls.properties["HostResource"].is_array
    assert "LastKnownSwitchName" in cls.properties
    nic = get_class(compiled, V2, "Msvm_SyntheticEthernetPortSettingData")
    assert nic.superclass == "CIM_EthernetPortAllocationSettingData"


def test_management_service_methods(compiled: Compiled) -> None:
    expected = {
        "DestroySystem",
        "DefineSystem",
        "DefinePlannedSystem",
        "ModifySystemSettings",
        "AddResourceSettings",
        "ModifyResourceSettings",
        "RemoveResourceSettings",
        "ValidatePlannedSystem",
        "RealizePlannedSystem",
        "ImportSystemDefinition",
        "ExportSystemDefinition",
        "GetSummaryInformation",
        "FormatError",
    }
    for ns, planned in ((V2, "Msvm_PlannedComputerSystem"), (CLUSTER, "CIM_ComputerSystem")):
        methods = get_class(compiled, ns, "Msvm_VirtualSystemManagementService").methods
        assert expected <= set(methods)
        assert describe_params(methods["RealizePlannedSystem"]) == [
            ("PlannedSystem", "reference", planned, False, "in"),
            ("ResultingSystem", "reference", "CIM_ComputerSystem", False, "out"),
            ("Job", "reference", "CIM_ConcreteJob", False, "out"),
        ]
        assert describe_params(methods["ImportSystemDefinition"]) == [
            ("SystemDefinitionFile", "string", None, False, "in"),
            ("SnapshotFolder", "string", None, False, "in"),
            ("GenerateNewSystemIdentifier", "boolean", None, False, "in"),
            ("ImportedSystem", "reference", planned, False, "out"),
            ("Job", "reference", "CIM_ConcreteJob", False, "out"),
        ]
        assert describe_params(methods["GetSummaryInformation"]) == [
            ("SettingData", "reference", "CIM_VirtualSystemSettingData", True, "in"),
            ("RequestedInformation", "uint32", None, True, "in"),
            ("SummaryInformation", "string", "Msvm_SummaryInformationBase", True, "out"),
        ]
        assert describe_params(methods["FormatError"]) == [
            ("Errors", "string", "Msvm_Error", True, "in"),
            ("ErrorMessage", "string", None, False, "out"),
        ]
        assert describe_params(methods["DestroySystem"]) == [
            ("AffectedSystem", "reference", "CIM_ComputerSystem", False, "in"),
            ("Job", "reference", "CIM_ConcreteJob", False, "out"),
        ]
        assert describe_params(methods["ModifyResourceSettings"]) == [
            ("ResourceSettings", "string", "CIM_ResourceAllocationSettingData", True, "in"),
            (
                "ResultingResourceSettings",
                "reference",
                "CIM_ResourceAllocationSettingData",
                True,
                "out",
            ),
            ("Job", "reference", "CIM_ConcreteJob", False, "out"),
        ]
        assert "32779" in qval(methods["ValidatePlannedSystem"], "ValueMap")
        assert qval(methods["RealizePlannedSystem"], "ValueMap") == FAMILY_B
        # Family A for the CIM_ methods.
        assert qval(methods["DestroySystem"], "ValueMap")[:6] == ["0", "1", "2", "3", "4", "5"]


# --------------------------------------------------------------------------- cluster namespace

# Reference section 1: classes marked "no" for root\HyperVCluster\v2.
SECTION_1_ABSENT = {
    "Msvm_VirtualSystemMigrationSettingData",
    "Msvm_VirtualSystemMigrationCapabilities",
    "Msvm_VirtualSystemMigrationServiceSettingData",
    "Msvm_VirtualSystemMigrationNetworkSettingData",
    "Msvm_VirtualSystemMigrationServiceSettingDataComponent",
    "Msvm_CompatibilityVector",
    "Msvm_MoveUnmanagedVhd",
    "Msvm_PlannedComputerSystem",
    "Msvm_ResourceAllocationSettingData",
    "Msvm_StorageAllocationSettingData",
    "Msvm_MemorySettingData",
    "Msvm_ProcessorSettingData",
    "Msvm_ElementCapabilities",
    "Msvm_SettingsDefineCapabilities",
    "Msvm_SystemDevice",
    "Msvm_VirtualSystemSettingDataComponent",
}
# Reference section 14.1, "Cluster ns" column "no" (not listed in section 1).
SECTION_14_ABSENT = {"Msvm_ResourceDependentOnResource", "Msvm_ElementAllocatedFromPool"}
# Not covered by section 1 and not in the generated Server 2019 cluster schema.
OUT_OF_SECTION_1_ABSENT = {
    "Msvm_VirtualEthernetSwitch",
    "Msvm_SyntheticEthernetPortSettingData",
    "Msvm_EthernetPortAllocationSettingData",
    "Msvm_VirtualSystemManagementCapabilities",
    "Msvm_ResourcePool",
    "Msvm_Processor",
    "Msvm_Memory",
    "Msvm_DiskDrive",
    "Msvm_LogicalDisk",
    "Msvm_SerialPortSettingData",
    "Msvm_AllocationCapabilities",
    "Msvm_Keyboard",
    "Msvm_ShutdownComponent",
    "Msvm_SyntheticDisplayController",
    "Msvm_S3DisplayController",
    "Msvm_VideoHead",
    "Msvm_VirtualEthernetSwitchManagementService",
}
# Reference section 1: classes marked "yes" for root\HyperVCluster\v2.
SECTION_1_PRESENT = {
    "CIM_VirtualSystemMigrationService",
    "Msvm_VirtualSystemMigrationService",
    "CIM_VirtualSystemMigrationSettingData",
    "CIM_VirtualSystemMigrationCapabilities",
    "CIM_ConcreteJob",
    "Msvm_ConcreteJob",
    "Msvm_MigrationJob",
    "CIM_Error",
    "Msvm_Error",
    "Msvm_ComputerSystem",
    "Msvm_VirtualSystemSettingData",
    "CIM_ResourceAllocationSettingData",
    "CIM_StorageAllocationSettingData",
    "Msvm_VirtualSystemManagementService",
    "Msvm_VirtualSystemManagementServiceSettingData",
    "Msvm_HostedService",
    "Msvm_HostedDependency",
    "Msvm_SettingsDefineState",
    "Msvm_ElementSettingData",
    "Msvm_AffectedJobElement",
    "Msvm_OwningJobElement",
    "Msvm_ServiceAffectsElement",
    "Msvm_ClusterV2ElementConformsToProfile",
    # CIM_ parents that exist where the Msvm_ association does not.
    "CIM_ElementCapabilities",
    "CIM_SettingsDefineCapabilities",
    "CIM_SystemDevice",
    "CIM_VirtualSystemSettingDataComponent",
}


def test_cluster_lacks_exactly_the_absent_classes(compiled: Compiled) -> None:
    v2 = class_names(compiled, V2)
    cluster = class_names(compiled, CLUSTER)
    assert v2 >= SECTION_1_ABSENT
    assert not SECTION_1_ABSENT & cluster
    assert cluster >= SECTION_1_PRESENT
    missing_msvm = {n for n in v2 - cluster if n.startswith("Msvm_")}
    assert missing_msvm == SECTION_1_ABSENT | SECTION_14_ABSENT | OUT_OF_SECTION_1_ABSENT
    assert {n for n in v2 - cluster if not n.startswith("Msvm_")} == set()
    assert cluster - v2 == {
        "Msvm_ClusterV2ElementConformsToProfile",
        "CIM_RegisteredProfile",
        "CIM_ElementConformsToProfile",
    }


@pytest.mark.parametrize(
    "name",
    [
        "Msvm_ComputerSystem",
        "Msvm_VirtualSystemSettingData",
        "Msvm_ConcreteJob",
        "Msvm_MigrationJob",
        "Msvm_Error",
        "CIM_VirtualSystemMigrationSettingData",
        "Msvm_VirtualSystemManagementServiceSettingData",
    ],
)
def test_shared_classes_have_identical_properties(compiled: Compiled, name: str) -> None:
    def shape(ns: str) -> dict[str, tuple[str, bool]]:
        cls = get_class(compiled, ns, name)
        return {n: (p.type, p.is_array) for n, p in cls.properties.items()}

    assert shape(V2) == shape(CLUSTER)


def test_migration_service_properties_identical_in_cluster(compiled: Compiled) -> None:
    v2 = get_class(compiled, V2, "Msvm_VirtualSystemMigrationService")
    cluster = get_class(compiled, CLUSTER, "Msvm_VirtualSystemMigrationService")
    assert v2.properties == cluster.properties


# --------------------------------------------------------------------------- interop


def test_registered_profile_organization(compiled: Compiled) -> None:
    cls = get_class(compiled, INTEROP, "CIM_RegisteredProfile")
    prop = cls.properties["RegisteredOrganization"]
    assert qval(prop, "ValueMap")
    assert qval(prop, "Values")
    vm = ValueMapping.for_property(
        compiled.conn, INTEROP, "CIM_RegisteredProfile", "RegisteredOrganization"
    )
    assert vm.tovalues(1) == "Other"
    assert vm.tovalues(2) == "DMTF"
    assert vm.tovalues(11) == "SNIA"
    assert vm.tovalues(32768) == "Vendor Specific"
    assert keys_of(cls) == {"InstanceID"}
    for name in ("RegisteredName", "RegisteredVersion", "OtherRegisteredOrganization"):
        assert cls.properties[name].type == "string"
    vm = ValueMapping.for_property(
        compiled.conn, INTEROP, "CIM_RegisteredProfile", "AdvertiseTypes"
    )
    assert [vm.tovalues(n) for n in (1, 2, 3)] == ["Other", "Not Advertised", "SLP"]


def test_interop_classes(compiled: Compiled) -> None:
    assert class_names(compiled, INTEROP) >= {
        "CIM_ObjectManager",
        "CIM_WBEMService",
        "CIM_Namespace",
        "CIM_RegisteredProfile",
        "CIM_ElementConformsToProfile",
        "CIM_ReferencedProfile",
    }
    assert superclass_chain(compiled, INTEROP, "CIM_ObjectManager")[:2] == [
        "CIM_WBEMService",
        "CIM_Service",
    ]
    ectp = get_class(compiled, INTEROP, "CIM_ElementConformsToProfile")
    assert ectp.properties["ConformantStandard"].reference_class == "CIM_RegisteredProfile"
    ref = get_class(compiled, INTEROP, "CIM_ReferencedProfile")
    assert ref.properties["Antecedent"].reference_class == "CIM_RegisteredProfile"
    assert ref.properties["Dependent"].reference_class == "CIM_RegisteredProfile"
    assert superclass_chain(compiled, INTEROP, "Msvm_StandaloneV2ElementConformsToProfile")[:2] \
        == ["Msvm_ElementConformsToProfile", "CIM_ElementConformsToProfile"]
    hyperv = get_class(compiled, INTEROP, "Msvm_ElementConformsToProfile")
    assert hyperv.properties["ConformantStandard"].reference_class == "Msvm_RegisteredProfile"


@pytest.mark.parametrize("classname", ["Msvm_EthernetPortAllocationSettingData",
                                       "Msvm_SyntheticEthernetPortSettingData"])
def test_ethernet_port_settings_have_the_vlan_endpoint_properties(compiled: Compiled,
                                                                  classname: str) -> None:
    # Both derive from CIM_EthernetPortAllocationSettingData on a host; libvirt's Hyper-V
    # driver binds both properties and rejects an adapter without them.
    cls = get_class(compiled, V2, classname)
    assert {"DesiredVLANEndpointMode", "OtherEndpointMode"} <= set(cls.properties)
    assert superclass_chain(compiled, V2, classname)[0] == "CIM_EthernetPortAllocationSettingData"


def test_qualifier_declarations(compiled: Compiled) -> None:
    for ns in MANIFESTS:
        declared = {q.name for q in compiled.conn.EnumerateQualifiers(namespace=ns)}
        assert {
            "Key",
            "Override",
            "EmbeddedInstance",
            "EmbeddedObject",
            "ValueMap",
            "Values",
            "Write",
            "Abstract",
            "Association",
            "Aggregation",
            "Aggregate",
            "Experimental",
            "Version",
            "Dynamic",
            "Provider",
            "Locale",
            "UUID",
            "HyperVEmbeddedInstance",
            "MSFT_TargetNamespace",
            "Static",
            "Amendment",
            "In",
            "Out",
        } <= declared
