"""libvirt's Hyper-V driver's `virsh define` (a SCSI disk, a serial port, a synthetic NIC),
`attach-device` (a second SCSI disk) and `undefine`, as the driver sends them over WS-Man
(embedded instances as CIM-XML text, Parents as WMI paths with doubled backslashes, the VHD as
an Msvm_ResourceAllocationSettingData of ResourceType 31), through pypsrp; the same controller
rules through pywbem (issue 17)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from xml.sax.saxutils import escape

import pytest
from pypsrp.wsman import SelectorSet, WSMan
from pywbem import CIMInstance, CIMInstanceName, CIMProperty, Uint16

from tests.support.server import DEMO_SCENARIO, WMI_V2, HvsimServer, wbem_connection, wsman_client

pytestmark = pytest.mark.e2e
V2 = "root/virtualization/v2"
VSMS = WMI_V2 + "Msvm_VirtualSystemManagementService"
RASD = "Msvm_ResourceAllocationSettingData"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"


def embedded(classname: str, **values: object) -> str:
    """An embedded instance as libvirt writes it: every value as text, arrays as arrays."""
    properties = []
    for name, value in values.items():
        if isinstance(value, list):
            properties.append(CIMProperty(name, value, type="string"))
        else:
            properties.append(CIMProperty(name, str(value), type="string"))
    return CIMInstance(classname, properties=properties).tocimxmlstr()


def wmi_path(host: str, classname: str, **keys: str) -> str:
    """A path as libvirt builds a Parent or HostResource: backslashes in values doubled."""
    text = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2)}"' for k, v in keys.items())
    return f"\\\\{host}\\Root\\Virtualization\\V2:{classname}.{text}"


class Driver:
    """The WS-Man calls of libvirt's driver against one host."""

    def __init__(self, server: HvsimServer, host: str) -> None:
        self.host = host
        self.wsman: WSMan = wsman_client(server.url(host))

    def wql(self, query: str) -> list[ET.Element]:
        body = ET.fromstring(
            f'<n:Enumerate xmlns:n="{ENUMERATION}" xmlns:w="{WSMAN}"><w:OptimizeEnumeration/>'
            f'<w:MaxElements>200</w:MaxElements><w:Filter Dialect="{WQL}">{escape(query)}'
            "</w:Filter></n:Enumerate>")
        items = self.wsman.enumerate(WMI_V2 + "*", body).find(f".//{{{WSMAN}}}Items")
        return [] if items is None else list(items)

    def invoke(self, method: str, params: str) -> tuple[str, ET.Element]:
        keys = SelectorSet()
        for key, value in {"CreationClassName": "Msvm_VirtualSystemManagementService",
                           "Name": "vmms", "SystemCreationClassName": "Msvm_ComputerSystem",
                           "SystemName": self.host}.items():
            keys.add_option(key, value)
        body = ET.fromstring(f'<p:{method}_INPUT xmlns:p="{VSMS}" xmlns:a="{ADDRESSING}" '
                             f'xmlns:w="{WSMAN}">{params}</p:{method}_INPUT>')
        reply = self.wsman.invoke(f"{VSMS}/{method}", VSMS, body, selector_set=keys)
        out = reply.find(f".//{{{VSMS}}}{method}_OUTPUT")
        assert out is not None, ET.tostring(reply)
        return out.findtext(f"{{{VSMS}}}ReturnValue") or "", out

    def vssd_epr(self, guid: str) -> str:
        return (f"<a:Address>{ADDRESSING}/role/anonymous</a:Address><a:ReferenceParameters>"
                f"<w:ResourceURI>{WMI_V2}Msvm_VirtualSystemSettingData</w:ResourceURI>"
                f'<w:SelectorSet><w:Selector Name="InstanceID">Microsoft:{guid}</w:Selector>'
                "</w:SelectorSet></a:ReferenceParameters>")

    def add(self, guid: str, setting: str) -> str:
        """AddResourceSettings; the InstanceID libvirt reads from the reply's selector."""
        rv, out = self.invoke("AddResourceSettings",
                              f"<p:AffectedConfiguration>{self.vssd_epr(guid)}"
                              "</p:AffectedConfiguration>"
                              f"<p:ResourceSettings>{escape(setting)}</p:ResourceSettings>")
        assert rv == "0", ET.tostring(out)
        selector = next(s for s in out.iter(f"{{{WSMAN}}}Selector")
                        if s.get("Name") == "InstanceID")
        return selector.text or ""

    def modify(self, setting: str) -> None:
        rv, out = self.invoke("ModifyResourceSettings",
                              f"<p:ResourceSettings>{escape(setting)}</p:ResourceSettings>")
        assert rv == "0", ET.tostring(out)

    def rasds(self, guid: str) -> list[dict[str, str | None]]:
        found = self.wql(f"ASSOCIATORS OF {{Msvm_VirtualSystemSettingData.InstanceID="
                         f"'Microsoft:{guid}'}} WHERE ResultClass = {RASD}")
        return [{child.tag.rsplit("}", 1)[1]: child.text for child in item} for item in found]

    def attach_disk(self, controller_id: str, unit: int, vhd: str) -> None:
        drive = self.add_to(controller_id, embedded(
            RASD, Parent=wmi_path(self.host, RASD, InstanceID=controller_id),
            AddressOnParent=unit, ResourceType=17,
            ResourceSubType="Microsoft:Hyper-V:Synthetic Disk Drive"))
        self.add_to(controller_id, embedded(
            RASD, Parent=wmi_path(self.host, RASD, InstanceID=drive), HostResource=[vhd],
            ResourceType=31, ResourceSubType="Microsoft:Hyper-V:Virtual Hard Disk"))

    def add_to(self, instance_id: str, setting: str) -> str:
        return self.add(instance_id.split(":", 1)[1].split("\\", 1)[0], setting)


def test_virsh_define_attach_device_and_undefine_as_libvirt_sends_them(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    driver = Driver(server, "HV-01")

    # define: DefineSystem with only the name (generation 1), then vCPUs and memory.
    rv, _ = driver.invoke("DefineSystem", "<p:SystemSettings>" + escape(embedded(
        "Msvm_VirtualSystemSettingData", ElementName="lv-01")) + "</p:SystemSettings>")
    assert rv == "0"
    (vm,) = driver.wql("SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'lv-01'")
    guid = vm.findtext(f"{{{WMI_V2}Msvm_ComputerSystem}}Name") or ""
    driver.modify(embedded("Msvm_ProcessorSettingData", VirtualQuantity=2,
                           InstanceID=f"Microsoft:{guid}\\b637f346-6a0e-4dec-af52-bd70cb80a21d\\0"))
    # ... the SCSI controller, then the disk on it: a drive at the unit, the VHD in the drive.
    driver.add(guid, embedded(RASD, ResourceType=6,
                              ResourceSubType="Microsoft:Hyper-V:Synthetic SCSI Controller"))
    (scsi,) = [r for r in driver.rasds(guid) if r["ResourceType"] == "6"]
    assert [r["Address"] for r in driver.rasds(guid) if r["ResourceType"] == "5"] == ["0", "1"]
    driver.attach_disk(str(scsi["InstanceID"]), 0, "C:\\VMs\\lv-01\\lv-01.vhdx")
    # ... COM 1 on a named pipe (ModifyResourceSettings of the serial port's settings) ...
    (com1,) = [p for p in driver.wql(
        "ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID="
        f"'Microsoft:{guid}'}} WHERE ResultClass = Msvm_SerialPortSettingData")
        if p.findtext(f"{{{WMI_V2}Msvm_SerialPortSettingData}}ElementName") == "COM 1"]
    driver.modify(embedded(
        "Msvm_SerialPortSettingData", Connection=["\\\\.\\pipe\\lv-01-com1"],
        InstanceID=com1.findtext(f"{{{WMI_V2}Msvm_SerialPortSettingData}}InstanceID"),
        ResourceType=21, ResourceSubType="Microsoft:Hyper-V:Serial Port"))
    # ... and a synthetic NIC with a static MAC, connected to the switch named by its GUID.
    nic = driver.add(guid, embedded(
        "Msvm_SyntheticEthernetPortSettingData", ResourceType=10,
        ResourceSubType="Microsoft:Hyper-V:Synthetic Ethernet Port",
        VirtualSystemIdentifiers=["{6c4b5fa1-1f0e-4a86-9d9b-8e4e2a8c0b11}"],
        Address="00155D0A0B0C", StaticMacAddress="true"))
    (switch,) = [s for s in driver.wql("SELECT * FROM Msvm_VirtualEthernetSwitch")
                 if s.findtext(f"{{{WMI_V2}Msvm_VirtualEthernetSwitch}}ElementName") == "External"]
    switch_name = switch.findtext(f"{{{WMI_V2}Msvm_VirtualEthernetSwitch}}Name") or ""
    driver.add(guid, embedded(
        "Msvm_EthernetPortAllocationSettingData", EnabledState=2,
        HostResource=[wmi_path("HV-01", "Msvm_VirtualEthernetSwitch",
                               CreationClassName="Msvm_VirtualEthernetSwitch", Name=switch_name)],
        Parent=wmi_path("HV-01", "Msvm_SyntheticEthernetPortSettingData", InstanceID=nic),
        ResourceType=33, ResourceSubType="Microsoft:Hyper-V:Ethernet Connection"))

    conn = wbem_connection(server.url("HV-01"), V2)
    mine = [s for s in conn.EnumerateInstances("Msvm_StorageAllocationSettingData")
            if guid in s["InstanceID"]]
    assert [s["HostResource"] for s in mine] == [["C:\\VMs\\lv-01\\lv-01.vhdx"]]
    (port,) = [p for p in conn.EnumerateInstances("Msvm_EthernetPortAllocationSettingData")
               if guid in p["InstanceID"]]
    assert port["LastKnownSwitchName"] == "External"
    (nic_settings,) = [n for n in conn.EnumerateInstances("Msvm_SyntheticEthernetPortSettingData")
                       if guid in n["InstanceID"]]
    assert nic_settings["Address"] == "00155D0A0B0C"

    # attach-device: a second SCSI disk on controller 0, unit 1, found as libvirt finds it.
    (scsi,) = [r for r in driver.rasds(guid) if r["ResourceType"] == "6"]
    driver.attach_disk(str(scsi["InstanceID"]), 1, "C:\\VMs\\lv-01\\data.vhdx")
    drives = [r for r in driver.rasds(guid) if r["ResourceType"] == "17"]
    assert sorted(str(r["AddressOnParent"]) for r in drives) == ["0", "1"]
    assert all(str(r["Parent"]).endswith(
        str(scsi["InstanceID"]).replace("\\", "\\\\") + '"') for r in drives)

    # undefine: DestroySystem with the VM's EPR; nothing of it stays.
    epr = (f"<a:Address>{ADDRESSING}/role/anonymous</a:Address><a:ReferenceParameters>"
           f"<w:ResourceURI>{WMI_V2}Msvm_ComputerSystem</w:ResourceURI><w:SelectorSet>"
           '<w:Selector Name="CreationClassName">Msvm_ComputerSystem</w:Selector>'
           f'<w:Selector Name="Name">{guid}</w:Selector></w:SelectorSet></a:ReferenceParameters>')
    rv, _ = driver.invoke("DestroySystem", f"<p:AffectedSystem>{epr}</p:AffectedSystem>")
    assert rv == "0"
    assert driver.wql("SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'lv-01'") == []
    assert [s for s in conn.EnumerateInstances(RASD) if guid in s["InstanceID"]] == []


def test_scsi_controllers_through_pywbem_as_a_host_allows_them(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    conn = wbem_connection(server.url("HV-01"), V2)
    (service,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")

    def call(method: str, **params: object) -> tuple[int, dict[str, object]]:
        rv, out = conn.InvokeMethod(method, service, **params)
        return int(rv), dict(out)

    rv, out = call("DefineSystem", SystemSettings=CIMInstance(
        "Msvm_VirtualSystemSettingData", properties={"ElementName": "pw-01"}).tocimxmlstr())
    assert rv == 0
    system = out["ResultingSystem"]
    assert isinstance(system, CIMInstanceName)
    vssd = CIMInstanceName("Msvm_VirtualSystemSettingData",
                           keybindings={"InstanceID": f"Microsoft:{system['Name']}"})
    controller = CIMInstance(RASD, properties={"ResourceType": Uint16(6)}).tocimxmlstr()
    added: list[CIMInstanceName] = []
    for _ in range(4):
        rv, out = call("AddResourceSettings", AffectedConfiguration=vssd,
                       ResourceSettings=[controller])
        results = out["ResultingResourceSettings"]
        assert rv == 0 and isinstance(results, list)
        added.extend(results)
    rv, out = call("AddResourceSettings", AffectedConfiguration=vssd,
                   ResourceSettings=[controller])
    assert rv == 4 and isinstance(out["Job"], CIMInstanceName)  # a fifth: refused, a failed job
    controllers = [r for r in conn.Associators(vssd, ResultClass=RASD)
                   if r["ResourceType"] == 6]
    assert [r.path.keybindings["InstanceID"] for r in controllers] == [
        p.keybindings["InstanceID"] for p in added]
    ide = next(r for r in conn.Associators(vssd, ResultClass=RASD) if r["ResourceType"] == 5)
    assert call("RemoveResourceSettings", ResourceSettings=[ide.path])[0] == 4
    assert call("RemoveResourceSettings", ResourceSettings=added[1:])[0] == 0
    assert len([r for r in conn.Associators(vssd, ResultClass=RASD)
                if r["ResourceType"] == 6]) == 1
