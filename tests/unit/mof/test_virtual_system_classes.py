"""Virtual system settings, resource settings and the management service."""

from __future__ import annotations

import pytest

from tests.support.mof_schema import (
    CLUSTER,
    FAMILY_B,
    V2,
    Compiled,
    describe_params,
    get_class,
    qval,
    superclass_chain,
)


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


@pytest.mark.parametrize(
    "classname", ["Msvm_EthernetPortAllocationSettingData", "Msvm_SyntheticEthernetPortSettingData"]
)
def test_ethernet_port_settings_have_the_vlan_endpoint_properties(
    compiled: Compiled, classname: str
) -> None:
    # Both derive from CIM_EthernetPortAllocationSettingData on a host; libvirt's Hyper-V
    # driver binds both properties and rejects an adapter without them.
    cls = get_class(compiled, V2, classname)
    assert {"DesiredVLANEndpointMode", "OtherEndpointMode"} <= set(cls.properties)
    assert superclass_chain(compiled, V2, classname)[0] == "CIM_EthernetPortAllocationSettingData"
