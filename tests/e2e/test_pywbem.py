"""pywbem against a live `hvsim serve` with the demo cluster: discovery, instances, associations
(every traversal of reference §14.4), WQL, pull operations and error codes."""

from __future__ import annotations

import pytest
import pywbem
from pywbem import CIMClassName, CIMError, CIMInstanceName

from tests.support.server import HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e
V2 = "root/virtualization/v2"
CLUSTER = "root/HyperVCluster/v2"
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"


@pytest.fixture(scope="module")
def conn(demo_server: HvsimServer) -> pywbem.WBEMConnection:
    return wbem_connection(demo_server.url("HV-01"), V2)


@pytest.fixture(scope="module")
def conn2(demo_server: HvsimServer) -> pywbem.WBEMConnection:
    return wbem_connection(demo_server.url("HV-02"), V2)


def vm_path(guid: str = WEB01) -> CIMInstanceName:
    return CIMInstanceName("Msvm_ComputerSystem", namespace=V2,
                           keybindings={"CreationClassName": "Msvm_ComputerSystem", "Name": guid})


def service(conn: pywbem.WBEMConnection) -> pywbem.CIMInstance:
    (svc,) = conn.EnumerateInstances("Msvm_VirtualSystemMigrationService")
    return svc


def test_wbemserver_discovers_namespaces_brand_and_profiles(conn: pywbem.WBEMConnection) -> None:
    server = pywbem.WBEMServer(conn)
    assert server.interop_ns == "root/interop"
    assert {ns.lower() for ns in server.namespaces} >= {"root/interop", V2, CLUSTER.lower()}
    assert server.brand
    profiles = server.get_selected_profiles(registered_org="DMTF")
    names = {p["RegisteredName"] for p in profiles}
    assert {"Virtual System Migration", "System Virtualization"} <= names


def test_each_endpoint_shows_its_own_host(conn: pywbem.WBEMConnection,
                                          conn2: pywbem.WBEMConnection) -> None:
    names1 = {i["ElementName"] for i in conn.EnumerateInstances("Msvm_ComputerSystem")}
    names2 = {i["ElementName"] for i in conn2.EnumerateInstances("Msvm_ComputerSystem")}
    assert names1 == {"HV-01", "web-01", "web-02", "db-01"}
    assert names2 == {"HV-02", "app-01", "build-01", "legacy-01"}


def test_cluster_namespace_shows_every_node(demo_server: HvsimServer) -> None:
    cluster = wbem_connection(demo_server.url("HV-02"), CLUSTER)
    instances = cluster.EnumerateInstances("Msvm_ComputerSystem")
    assert len(instances) == 8
    assert len(cluster.EnumerateInstances("Msvm_VirtualSystemMigrationService")) == 2
    with pytest.raises(CIMError) as info:
        cluster.EnumerateInstances("Msvm_VirtualSystemMigrationSettingData")
    assert info.value.status_code == pywbem.CIM_ERR_INVALID_CLASS


def test_vm_states_and_identity(conn: pywbem.WBEMConnection,
                                conn2: pywbem.WBEMConnection) -> None:
    vm = conn.GetInstance(vm_path())
    assert vm["ElementName"] == "web-01"
    assert vm["EnabledState"] == 2 and vm["Caption"] == "Virtual Machine"
    assert vm["Description"] == "Microsoft Virtual Machine"
    states = {i["ElementName"]: i["EnabledState"]
              for i in conn2.EnumerateInstances("Msvm_ComputerSystem")}
    assert states == {"HV-02": 2, "app-01": 6, "build-01": 9, "legacy-01": 3}


def test_get_instance_with_property_list(conn: pywbem.WBEMConnection) -> None:
    vm = conn.GetInstance(vm_path(), PropertyList=["ElementName", "EnabledState"])
    assert set(vm.properties) == {"ElementName", "EnabledState"}


def test_missing_instance_is_not_found(conn: pywbem.WBEMConnection) -> None:
    with pytest.raises(CIMError) as info:
        conn.GetInstance(vm_path("00000000-0000-0000-0000-000000000000"))
    assert info.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_vm_of_other_host_is_not_visible(conn2: pywbem.WBEMConnection) -> None:
    with pytest.raises(CIMError) as info:
        conn2.GetInstance(vm_path())
    assert info.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_migration_service_and_settings_through_associations(
        conn: pywbem.WBEMConnection) -> None:
    (host,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem "
                                    "WHERE Description = 'Microsoft Hosting Computer System'")
    services = conn.Associators(host.path, AssocClass="Msvm_HostedService",
                                ResultClass="Msvm_VirtualSystemMigrationService")
    assert [s["Name"] for s in services] == ["migrationwmi"]
    svc = services[0]
    assert svc["SystemName"] == "HV-01"
    assert svc["MigrationServiceListenerIPAddressList"] == ["10.0.0.11"]
    # MS sample: migrationService.GetRelated("Msvm_VirtualSystemMigrationServiceSettingData")
    (settings,) = conn.Associators(svc.path,
                                   ResultClass="Msvm_VirtualSystemMigrationServiceSettingData")
    assert settings["EnableVirtualSystemMigration"] is True
    assert settings["MaximumActiveVirtualSystemMigration"] == 2
    # older os-win: associators(wmi_association_class='Msvm_ElementSettingData', ...)
    assert conn.Associators(svc.path, AssocClass="Msvm_ElementSettingData",
                            ResultClass="Msvm_VirtualSystemMigrationServiceSettingData")
    networks = conn.Associators(settings.path,
                                ResultClass="Msvm_VirtualSystemMigrationNetworkSettingData")
    assert [(n["SubnetNumber"], n["PrefixLength"]) for n in networks] == [("10.0.0.0", 24)]
    refs = conn.References(svc.path, ResultClass="Msvm_ElementSettingData")
    assert refs and refs[0]["IsCurrent"] == 1


def test_templates_through_capabilities(conn: pywbem.WBEMConnection) -> None:
    svc = service(conn)
    (caps,) = conn.Associators(svc.path, AssocClass="Msvm_ElementCapabilities",
                               ResultClass="Msvm_VirtualSystemMigrationCapabilities")
    templates = conn.Associators(caps.path, AssocClass="Msvm_SettingsDefineCapabilities",
                                 ResultClass="Msvm_VirtualSystemMigrationSettingData")
    assert sorted(t["MigrationType"] for t in templates) == [32768, 32769, 32770, 32771, 32772]


def test_vm_settings_and_disks(conn: pywbem.WBEMConnection) -> None:
    # MS sample: vm.GetRelated(VSSD, Msvm_SettingsDefineState, Role ManagedElement, ResultRole
    # SettingData); then vssd.GetRelated(SASD, Msvm_VirtualSystemSettingDataComponent).
    (vssd,) = conn.Associators(vm_path(), AssocClass="Msvm_SettingsDefineState",
                               ResultClass="Msvm_VirtualSystemSettingData",
                               Role="ManagedElement", ResultRole="SettingData")
    assert vssd["InstanceID"] == f"Microsoft:{WEB01}"
    assert vssd["VirtualSystemType"] == "Microsoft:Hyper-V:System:Realized"
    disks = conn.Associators(vssd.path, AssocClass="Msvm_VirtualSystemSettingDataComponent",
                             ResultClass="Msvm_StorageAllocationSettingData")
    assert [d["HostResource"] for d in disks] == [
        ["C:\\ClusterStorage\\Volume1\\web-01\\web-01.vhdx"]]
    assert disks[0]["ResourceType"] == 31
    # Role mismatch finds nothing.
    assert conn.Associators(vm_path(), AssocClass="Msvm_SettingsDefineState",
                            Role="SettingData") == []
    names = conn.AssociatorNames(vm_path(), AssocClass="Msvm_HostedDependency")
    assert [n["Name"] for n in names] == ["HV-01"]


def test_wql_dialect(conn: pywbem.WBEMConnection) -> None:
    by_name = conn.ExecQuery("WQL", 'select * from msvm_computersystem where ElementName="web-01"')
    assert [i["Name"] for i in by_name] == [WEB01]
    staged = conn.ExecQuery("WQL", "select * from Msvm_VirtualSystemMigrationSettingData "
                                   "where MigrationType = '32770'")
    assert [t["InstanceID"] for t in staged] == ["Microsoft:Staged"]
    disks = conn.ExecQuery("WQL", "SELECT * FROM Msvm_StorageAllocationSettingData WHERE "
                                  f"InstanceID LIKE 'Microsoft:{WEB01}%'")
    assert len(disks) == 1
    rasds = conn.ExecQuery("WQL", "SELECT * FROM CIM_ResourceAllocationSettingData WHERE "
                                  f"InstanceID LIKE 'Microsoft:{WEB01}%'")
    assert {r.classname for r in rasds} >= {"Msvm_StorageAllocationSettingData",
                                           "Msvm_ResourceAllocationSettingData",
                                           "Msvm_MemorySettingData"}
    partial = conn.ExecQuery("WQL", "SELECT ElementName FROM Msvm_ComputerSystem "
                                    "WHERE EnabledState = 3")
    assert [p["ElementName"] for p in partial] == ["db-01"]
    assert partial[0].path["Name"]
    assoc = conn.ExecQuery("WQL", f"ASSOCIATORS OF {{Msvm_ComputerSystem.CreationClassName="
                                  f"'Msvm_ComputerSystem',Name='{WEB01}'}} WHERE AssocClass = "
                                  "Msvm_SettingsDefineState ResultClass = "
                                  "Msvm_VirtualSystemSettingData")
    assert [a["ElementName"] for a in assoc] == ["web-01"]


def test_bad_query_is_invalid_query(conn: pywbem.WBEMConnection) -> None:
    with pytest.raises(CIMError) as info:
        conn.ExecQuery("WQL", "SELECT * FROM WHERE")
    assert info.value.status_code == pywbem.CIM_ERR_INVALID_QUERY
    with pytest.raises(CIMError) as info:
        conn.ExecQuery("CQL", "SELECT * FROM Msvm_ComputerSystem")
    assert info.value.status_code == pywbem.CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED


def test_pull_operations(conn: pywbem.WBEMConnection) -> None:
    result = conn.OpenEnumerateInstances("Msvm_ComputerSystem", MaxObjectCount=1)
    seen = [i["Name"] for i in result.instances]
    assert not result.eos
    context = result.context
    while not result.eos:
        result = conn.PullInstancesWithPath(context, MaxObjectCount=1)
        seen.extend(i["Name"] for i in result.instances)
        context = result.context
    assert len(seen) == 4
    opened = conn.OpenEnumerateInstancePaths("Msvm_ComputerSystem", MaxObjectCount=0)
    conn.CloseEnumeration(opened.context)
    with pytest.raises(CIMError) as info:
        conn.PullInstancePaths(opened.context, MaxObjectCount=10)
    assert info.value.status_code == pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT
    assert len(list(conn.IterEnumerateInstances("Msvm_ComputerSystem", MaxObjectCount=2))) == 4
    query = conn.OpenQueryInstances("WQL", "SELECT * FROM Msvm_ComputerSystem", MaxObjectCount=10)
    assert query.eos and len(query.instances) == 4


def test_class_model(conn: pywbem.WBEMConnection) -> None:
    klass = conn.GetClass("Msvm_VirtualSystemMigrationService", LocalOnly=False,
                          IncludeQualifiers=True)
    assert len(klass.methods) >= 15
    assert "MigrateVirtualSystemToHost" in klass.methods
    names = conn.EnumerateClassNames(ClassName="CIM_ConcreteJob", DeepInheritance=True)
    assert {"Msvm_ConcreteJob", "Msvm_MigrationJob"} <= set(names)
    assert conn.GetQualifier("Key").name == "Key"


def test_operation_errors(conn: pywbem.WBEMConnection) -> None:
    cases = [
        (lambda: conn.EnumerateInstances("Msvm_ComputerSystem", namespace="root/nope"),
         pywbem.CIM_ERR_INVALID_NAMESPACE),
        (lambda: conn.EnumerateInstances("Msvm_NoSuchClass"), pywbem.CIM_ERR_INVALID_CLASS),
        (lambda: conn.InvokeMethod("MigrateVirtualSystemToHost", service(conn).path,
                                   Bogus="x"), pywbem.CIM_ERR_INVALID_PARAMETER),
        (lambda: conn.InvokeMethod("MigrateVirtualSystemToHost", service(conn).path,
                                   ComputerSystem="not a path"), pywbem.CIM_ERR_INVALID_PARAMETER),
        (lambda: conn.InvokeMethod("NoSuchMethod", service(conn).path),
         pywbem.CIM_ERR_METHOD_NOT_FOUND),
        (lambda: conn.DeleteInstance(vm_path()), pywbem.CIM_ERR_NOT_SUPPORTED),
        (lambda: conn.ModifyInstance(conn.GetInstance(vm_path())), pywbem.CIM_ERR_NOT_SUPPORTED),
        (lambda: conn.CreateInstance(pywbem.CIMInstance("Msvm_ComputerSystem")),
         pywbem.CIM_ERR_NOT_SUPPORTED),
        (lambda: conn.GetInstance(CIMInstanceName("Msvm_ComputerSystem", namespace=V2,
                                                  keybindings={"Name": WEB01})),
         pywbem.CIM_ERR_INVALID_PARAMETER),
        (lambda: conn.Associators(CIMClassName("Msvm_NoSuchClass", namespace=V2)),
         pywbem.CIM_ERR_INVALID_PARAMETER),
    ]
    for call, code in cases:
        with pytest.raises(CIMError) as info:
            call()
        assert info.value.status_code == code, info.value


def test_association_operations_on_a_missing_class_are_invalid_parameters(
        conn: pywbem.WBEMConnection) -> None:
    # DSP0200 lists CIM_ERR_INVALID_PARAMETER for a source, AssocClass or ResultClass that does
    # not exist (pywbem_mock agrees); GetInstance/EnumerateInstances keep CIM_ERR_INVALID_CLASS.
    missing_source = CIMInstanceName("Msvm_NoSuchClass", namespace=V2, keybindings={"Name": "x"})
    cases = [
        lambda: conn.Associators(missing_source),
        lambda: conn.AssociatorNames(missing_source),
        lambda: conn.References(missing_source),
        lambda: conn.ReferenceNames(missing_source),
        lambda: conn.Associators(vm_path(), AssocClass="Msvm_NoSuchAssociation"),
        lambda: conn.AssociatorNames(vm_path(), AssocClass="Msvm_NoSuchAssociation"),
        lambda: conn.Associators(vm_path(), ResultClass="Msvm_SerialPortNowhere"),
        lambda: conn.AssociatorNames(vm_path(), ResultClass="Msvm_SerialPortNowhere"),
        lambda: conn.References(vm_path(), ResultClass="Msvm_NoSuchAssociation"),
        lambda: conn.ReferenceNames(vm_path(), ResultClass="Msvm_NoSuchAssociation"),
        lambda: conn.Associators(CIMClassName("Msvm_ComputerSystem", namespace=V2),
                                 ResultClass="Msvm_NoSuchClass"),
        lambda: conn.OpenAssociatorInstances(vm_path(), AssocClass="Msvm_NoSuchAssociation"),
        lambda: conn.OpenReferenceInstancePaths(missing_source),
        lambda: conn.ExecQuery("WQL", "ASSOCIATORS OF {Msvm_ComputerSystem.CreationClassName="
                                      f"'Msvm_ComputerSystem',Name='{WEB01}'}} WHERE "
                                      "ResultClass = Msvm_NoSuchClass"),
    ]
    for call in cases:
        with pytest.raises(CIMError) as info:
            call()
        assert info.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER, info.value
        assert "does not exist" in info.value.status_description
    for call in (lambda: conn.GetInstance(missing_source),
                 lambda: conn.EnumerateInstances("Msvm_NoSuchClass")):
        with pytest.raises(CIMError) as info:
            call()
        assert info.value.status_code == pywbem.CIM_ERR_INVALID_CLASS


@pytest.mark.parametrize(("namespace", "classname"), [
    ("root/virtualization/v2", "Msvm_NoSuchClass"),
    (CLUSTER, "Msvm_NoSuchClass"),
    # A class of the host's namespace that the cluster namespace does not have.
    (CLUSTER, "Msvm_VirtualSystemMigrationSettingData"),
])
def test_get_class_of_a_class_the_namespace_lacks_is_not_found(
        demo_server: HvsimServer, namespace: str, classname: str) -> None:
    # DSP0200: GetClass answers CIM_ERR_NOT_FOUND (INVALID_CLASS is for instance operations).
    connection = wbem_connection(demo_server.url("HV-01"), namespace)
    with pytest.raises(CIMError) as info:
        connection.GetClass(classname)
    assert info.value.status_code == pywbem.CIM_ERR_NOT_FOUND, info.value
    assert "does not exist" in info.value.status_description


def test_expired_pull_context(conn: pywbem.WBEMConnection) -> None:
    import time

    opened = conn.OpenEnumerateInstancePaths("Msvm_ComputerSystem", MaxObjectCount=1,
                                             OperationTimeout=1)
    assert not opened.eos
    time.sleep(1.5)
    with pytest.raises(CIMError) as info:
        conn.PullInstancePaths(opened.context, MaxObjectCount=1)
    assert info.value.status_code == pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT
    assert "expired" in info.value.status_description
    with pytest.raises(CIMError) as info:
        conn.OpenEnumerateInstances("Msvm_ComputerSystem", OperationTimeout=0)
    assert info.value.status_code == pywbem.CIM_ERR_INVALID_OPERATION_TIMEOUT
