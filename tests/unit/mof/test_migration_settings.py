"""The migration setting data, service settings, capabilities and compatibility vector."""

from __future__ import annotations

from pywbem import ValueMapping

from tests.support.mof_schema import (
    V2,
    Compiled,
    get_class,
    qval,
)


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
