"""The device, switch, capability and interop classes inventory tools read (issue 16 items 3 and
6), through pywbem against the demo cluster, and one of them over WS-Management (pypsrp)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import pywbem
from pywbem import CIMInstanceName

from tests.support.server import DEMO_SCENARIO, WMI_V2, HvsimServer, wbem_connection, wsman_client

pytestmark = pytest.mark.e2e
V2 = "root/virtualization/v2"
INTEROP = "root/interop"
ENUM_NS = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN_NS = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO},
                     workdir=tmp_path_factory.mktemp("devices")) as started:
        yield started


@pytest.fixture(scope="module")
def conn(server: HvsimServer) -> pywbem.WBEMConnection:
    return wbem_connection(server.url("HV-01"), V2)


def vm_named(conn: pywbem.WBEMConnection, name: str) -> pywbem.CIMInstance:
    (vm,) = conn.ExecQuery("WQL", f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'")
    return vm


def settings_of(conn: pywbem.WBEMConnection, name: str) -> pywbem.CIMInstance:
    (vssd,) = conn.Associators(vm_named(conn, name).path, AssocClass="Msvm_SettingsDefineState",
                               ResultClass="Msvm_VirtualSystemSettingData")
    return vssd


def test_serial_ports_as_libvirt_asks_for_them(conn: pywbem.WBEMConnection) -> None:
    vssd = settings_of(conn, "web-01")
    query = (f"ASSOCIATORS OF {{Msvm_VirtualSystemSettingData.InstanceID="
             f"'{vssd['InstanceID']}'}} WHERE ResultClass = Msvm_SerialPortSettingData")
    ports = conn.ExecQuery("WQL", query)
    assert sorted(p["ElementName"] for p in ports) == ["COM 1", "COM 2"]
    for port in ports:
        assert port.classname == "Msvm_SerialPortSettingData"
        assert port["ResourceType"] == 21 and list(port["Connection"]) == [""]
        assert port["DebuggerMode"] is False
        assert port["InstanceID"].startswith(vssd["InstanceID"] + "\\")


@pytest.mark.parametrize(("name", "display"), [("web-01", "Msvm_SyntheticDisplayController"),
                                               ("db-01", "Msvm_SyntheticDisplayController")])
def test_devices_of_a_generation_2_vm(conn: pywbem.WBEMConnection, name: str,
                                      display: str) -> None:
    vm = vm_named(conn, name)
    devices = conn.Associators(vm.path, AssocClass="Msvm_SystemDevice")
    by_class: dict[str, list[pywbem.CIMInstance]] = {}
    for device in devices:
        by_class.setdefault(device.classname, []).append(device)
    assert {"Msvm_Keyboard", display, "Msvm_VideoHead", "Msvm_Processor", "Msvm_Memory"} \
        <= set(by_class)
    (keyboard,) = by_class["Msvm_Keyboard"]
    assert keyboard["SystemName"] == vm["Name"] and keyboard["Layout"] == "00000409"
    (head,) = by_class["Msvm_VideoHead"]
    assert head["CurrentHorizontalResolution"] == 1024
    # One Msvm_DiskDrive per attached disk, each with the RASD that defines it.
    drives = by_class.get("Msvm_DiskDrive", [])
    disks = conn.ExecQuery("WQL", "SELECT * FROM Msvm_StorageAllocationSettingData WHERE "
                                  f"InstanceID LIKE 'Microsoft:{vm['Name']}%'")
    assert len(drives) == len(disks) >= 1
    (keyboard_settings,) = conn.Associators(keyboard.path, AssocClass="Msvm_SettingsDefineState")
    assert keyboard_settings["ResourceSubType"] == "Microsoft:Hyper-V:Synthetic Keyboard"
    # A video head has no setting data of its own.
    assert conn.Associators(head.path, AssocClass="Msvm_SettingsDefineState") == []


def test_a_generation_1_vm_has_the_emulated_s3_display(server: HvsimServer) -> None:
    conn = wbem_connection(server.url("HV-02"), V2)
    vm = vm_named(conn, "legacy-01")
    devices = conn.Associators(vm.path, AssocClass="Msvm_SystemDevice")
    names = {d.classname for d in devices}
    assert "Msvm_S3DisplayController" in names
    assert "Msvm_SyntheticDisplayController" not in names
    components = conn.Associators(settings_of(conn, "legacy-01").path,
                                  AssocClass="Msvm_VirtualSystemSettingDataComponent")
    subtypes = {c["ResourceSubType"] for c in components}
    assert {"Microsoft:Hyper-V:S3 Display Controller", "Microsoft:Hyper-V:Ps2 Keyboard",
            "Microsoft:Hyper-V:Serial Port"} <= subtypes


def test_port_settings_carry_the_vlan_endpoint_properties(conn: pywbem.WBEMConnection) -> None:
    (port, *_) = conn.EnumerateInstances("Msvm_EthernetPortAllocationSettingData")
    assert "DesiredVLANEndpointMode" in port.properties
    assert "OtherEndpointMode" in port.properties


def test_switches_are_the_ones_the_adapters_name(conn: pywbem.WBEMConnection) -> None:
    switches = conn.EnumerateInstances("Msvm_VirtualEthernetSwitch")
    assert {s["ElementName"] for s in switches} == {"External", "Internal"}
    by_guid = {s["Name"].upper(): s["ElementName"] for s in switches}
    connected = [p for p in conn.EnumerateInstances("Msvm_EthernetPortAllocationSettingData")
                 if p["HostResource"]]  # an adapter that is not connected names no switch
    assert connected
    for port in connected:
        (target,) = port["HostResource"]
        guid = target.split(',Name="')[1].rstrip('"').upper()
        assert by_guid[guid] == port["LastKnownSwitchName"]
    (host,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem WHERE "
                                    "Caption = 'Hosting Computer System'")
    (service,) = conn.Associators(host.path, AssocClass="Msvm_HostedService",
                                  ResultClass="Msvm_VirtualEthernetSwitchManagementService")
    assert service["Name"] == "nvspwmi" and service["SystemName"] == "HV-01"


def test_capability_definitions_give_the_persona_maximums(conn: pywbem.WBEMConnection) -> None:
    (maximum,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_ProcessorSettingData WHERE "
                                       "InstanceID LIKE 'Microsoft:Definition%Maximum'")
    assert maximum["VirtualQuantity"] == 1024  # Windows Server 2022, generation 2
    assert conn.GetInstance(maximum.path)["VirtualQuantity"] == 1024
    capabilities = {c["ResourceType"]: c for c in
                    conn.EnumerateInstances("Msvm_AllocationCapabilities")}
    assert {3, 4, 6, 17, 21, 31, 33} <= set(capabilities)
    links = conn.References(capabilities[3].path, ResultClass="Msvm_SettingsDefineCapabilities")
    roles = {link["PartComponent"].keybindings["InstanceID"].rsplit("\\", 1)[1]:
             (link["ValueRole"], link["ValueRange"]) for link in links}
    assert roles == {"Default": (0, 0), "Minimum": (3, 1), "Maximum": (3, 2),
                     "Increment": (3, 3)}
    (memory_default,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_MemorySettingData WHERE "
                                              "InstanceID LIKE 'Microsoft:Definition%Default'")
    assert memory_default["VirtualQuantity"] == 1024
    (pool_capabilities,) = conn.Associators(
        CIMInstanceName("Msvm_ResourcePool", {"InstanceID": "Microsoft:Primordial\\Memory"},
                        namespace=V2), AssocClass="Msvm_ElementCapabilities")
    assert pool_capabilities["ResourceType"] == 4
    # Definitions are host-wide: a VM's settings queries are unchanged by them.
    vm = vm_named(conn, "web-01")
    assert all(not s["InstanceID"].startswith("Microsoft:Definition") for s in conn.ExecQuery(
        "WQL", f"SELECT * FROM CIM_ResourceAllocationSettingData WHERE "
               f"InstanceID LIKE 'Microsoft:{vm['Name']}%'"))


def test_interop_profiles_lead_to_the_host(server: HvsimServer) -> None:
    interop = wbem_connection(server.url("HV-01"), INTEROP)
    profiles = {p["RegisteredName"]: p for p in
                interop.EnumerateInstances("Msvm_RegisteredProfile")}
    svp = profiles["System Virtualization"]
    (host,) = interop.Associators(svp.path, AssocClass="CIM_ElementConformsToProfile",
                                  ResultRole="ManagedElement")
    assert host.classname == "Msvm_ComputerSystem" and host["Name"] == "HV-01"
    assert host.path.namespace == V2
    referenced = interop.Associators(svp.path, AssocClass="CIM_ReferencedProfile",
                                     ResultRole="Antecedent")
    assert {"Virtual System", "Virtual System Migration"} <= \
        {p["RegisteredName"] for p in referenced}
    # CIM_ElementConformsToProfile is served by a plain instance provider; traversal finds it.
    (own,) = [p for p in interop.EnumerateInstances("CIM_RegisteredProfile")
              if p.classname == "CIM_RegisteredProfile"]
    (manager,) = interop.Associators(own.path, AssocClass="CIM_ElementConformsToProfile")
    assert manager.classname == "CIM_ObjectManager"
    server_view = pywbem.WBEMServer(interop)
    central = server_view.get_central_instances(
        svp.path, central_class="Msvm_ComputerSystem", scoping_class="Msvm_ComputerSystem",
        scoping_path=[])
    assert [p["Name"] for p in central] == ["HV-01"]


def test_serial_ports_over_ws_management(server: HvsimServer) -> None:
    wsman = wsman_client(server.url("HV-01"))
    uri = WMI_V2 + "Msvm_SerialPortSettingData"
    body = ET.fromstring(
        f'<wsen:Enumerate xmlns:wsen="{ENUM_NS}" xmlns:wsman="{WSMAN_NS}">'
        "<wsman:OptimizeEnumeration/><wsman:MaxElements>100</wsman:MaxElements>"
        "</wsen:Enumerate>")
    reply = wsman.enumerate(uri, body)
    found = reply.find(f"{{{ENUM_NS}}}EnumerateResponse/{{{WSMAN_NS}}}Items")
    assert found is not None
    ports = [item for item in found
             if not item.findtext(f"{{{uri}}}InstanceID", "").startswith("Microsoft:Definition")]
    names = [item.findtext(f"{{{uri}}}ElementName") for item in ports]
    assert len(names) == 6 and set(names) == {"COM 1", "COM 2"}  # three VMs on HV-01
    assert all(item.find(f"{{{uri}}}DebuggerMode") is not None for item in found)
