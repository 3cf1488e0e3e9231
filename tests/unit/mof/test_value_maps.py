"""ValueMap/Values pairs: the reference's values, and consistency across every class."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from pywbem import CIMClass, CIMMethod, CIMParameter, CIMProperty, ValueMapping

from tests.support.mof_schema import (
    CLUSTER,
    MANIFESTS,
    V2,
    Compiled,
    all_classes,
    class_names,
    qval,
)


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
