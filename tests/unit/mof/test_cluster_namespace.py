"""root/HyperVCluster/v2 holds exactly the reference's subset of root/virtualization/v2."""

from __future__ import annotations

import pytest

from tests.support.mof_schema import (
    CLUSTER,
    V2,
    Compiled,
    class_names,
    get_class,
)

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
    "Msvm_VideoHeadOnController",
    "Msvm_ShutdownComponent",
    "Msvm_SyntheticDisplayController",
    "Msvm_S3DisplayController",
    "Msvm_VideoHead",
    "Msvm_VirtualEthernetSwitchManagementService",
    # named by the management services' methods; the Server 2019 cluster schema lacks them
    "Msvm_FeatureSettingData",
    "Msvm_EthernetSwitchPortFeatureSettingData",
    "Msvm_SystemComponentSettingData",
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
    "CIM_VideoHeadOnController",
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
