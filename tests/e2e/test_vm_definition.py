"""Defining and changing VMs end to end (issue 17 item 2): DefineSystem with memory,
processors, a disk and a NIC, seen in every view; memory, name and disks changed; the VM
migrated, surviving a restart, destroyed; refusals — through pywbem and pypsrp's WSMan, on
SQLite and on two processes sharing PostgreSQL."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import pywbem
from pypsrp.wsman import SelectorSet
from pywbem import CIMInstance, CIMInstanceName, CIMProperty, Uint16, Uint64

from tests.support.postgres import fresh_database
from tests.support.server import (
    DEMO_SCENARIO,
    WMI_V2,
    HvsimServer,
    sqlite_url,
    wbem_connection,
    wsman_client,
)

pytestmark = pytest.mark.e2e
CLUSTER = "root/HyperVCluster/v2"
VSMS = "Msvm_VirtualSystemManagementService"
MEMORY_PART = "4764334d-e001-4176-82ee-5594ec9b530e"
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
TIME_SCALE = 50


def embedded(classname: str, **values: object) -> str:
    return CIMInstance(classname, properties=[
        CIMProperty(k, v) for k, v in values.items()]).tocimxmlstr()


def invoke(conn: pywbem.WBEMConnection, method: str, **params: object
           ) -> tuple[int, dict[str, object]]:
    (service,) = conn.EnumerateInstanceNames(VSMS)
    rv, out = conn.InvokeMethod(method, service, **params)
    return int(rv), dict(out)


def vm_named(conn: pywbem.WBEMConnection, name: str) -> list[CIMInstance]:
    return list(conn.ExecQuery(
        "WQL", f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'"))


def switch_path(conn: pywbem.WBEMConnection, name: str) -> str:
    (switch,) = [s for s in conn.EnumerateInstances("Msvm_VirtualEthernetSwitch")
                 if s["ElementName"] == name]
    return str(switch.path.to_wbem_uri())


def settings_of(conn: pywbem.WBEMConnection, guid: str, classname: str) -> list[CIMInstance]:
    return [s for s in conn.EnumerateInstances(classname)
            if str(s["InstanceID"]).upper().startswith(f"MICROSOFT:{guid}")]


def define_vm(conn: pywbem.WBEMConnection, name: str) -> str:
    rv, out = invoke(
        conn, "DefineSystem",
        SystemSettings=embedded("Msvm_VirtualSystemSettingData", ElementName=name,
                                VirtualSystemSubType="Microsoft:Hyper-V:SubType:2"),
        ResourceSettings=[
            embedded("Msvm_MemorySettingData", VirtualQuantity=Uint64(2048)),
            embedded("Msvm_ProcessorSettingData", VirtualQuantity=Uint64(2)),
            embedded("Msvm_StorageAllocationSettingData", ResourceType=Uint16(31),
                     HostResource=[f"C:\\ClusterStorage\\Volume1\\{name}\\{name}.vhdx"]),
            embedded("Msvm_SyntheticEthernetPortSettingData", ElementName="Network Adapter"),
            embedded("Msvm_EthernetPortAllocationSettingData",
                     HostResource=[switch_path(conn, "External")])])
    assert rv == 0, rv
    system = out["ResultingSystem"]
    assert isinstance(system, CIMInstanceName)
    return str(system.keybindings["Name"])


def failed_job_message(conn: pywbem.WBEMConnection, out: dict[str, object]) -> str:
    job = out["Job"]
    assert isinstance(job, CIMInstanceName)
    path = job.copy()
    path.host = path.namespace = None
    assert conn.GetInstance(path)["JobState"] == 10
    _rv, errors = conn.InvokeMethod("GetErrorEx", path)
    (error,) = errors["Errors"]
    return str(error if isinstance(error, str) else error["Message"])


def wait_for_job(conn: pywbem.WBEMConnection, job: CIMInstanceName) -> int:
    path = job.copy()
    path.host = path.namespace = None
    deadline = time.monotonic() + 60
    while (state := int(conn.GetInstance(path)["JobState"])) in (2, 3, 4):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return state


def test_a_defined_vm_is_seen_changed_migrated_restarted_and_destroyed(
        hvsim_server: Callable[..., HvsimServer], tmp_path: Path) -> None:
    database = sqlite_url(tmp_path / "define.db")
    server = hvsim_server(scenario=DEMO_SCENARIO, database=database, time_scale=TIME_SCALE)
    hv1, hv2 = wbem_connection(server.url("HV-01")), wbem_connection(server.url("HV-02"))
    guid = define_vm(hv1, "def-01")

    # Seen everywhere: HV-01's namespace and the cluster view of either endpoint.
    (vm,) = vm_named(hv1, "def-01")
    assert (vm["Name"], vm["EnabledState"]) == (guid, 3)
    for conn in (wbem_connection(server.url("HV-02"), CLUSTER),
                 wbem_connection(server.url("HV-01"), CLUSTER)):
        assert [v["Name"] for v in vm_named(conn, "def-01")] == [guid]
    (memory,) = settings_of(hv1, guid, "Msvm_MemorySettingData")
    assert memory["VirtualQuantity"] == 2048
    (processor,) = settings_of(hv1, guid, "Msvm_ProcessorSettingData")
    assert processor["VirtualQuantity"] == 2
    (disk,) = settings_of(hv1, guid, "Msvm_StorageAllocationSettingData")
    assert disk["HostResource"] == ["C:\\ClusterStorage\\Volume1\\def-01\\def-01.vhdx"]
    (port,) = settings_of(hv1, guid, "Msvm_EthernetPortAllocationSettingData")
    assert port["LastKnownSwitchName"] == "External"
    assert len(settings_of(hv1, guid, "Msvm_SerialPortSettingData")) == 2

    # Memory and name change; a second disk comes and goes (drive, then its disk).
    memory["VirtualQuantity"] = Uint64(4096)
    rv, _ = invoke(hv1, "ModifyResourceSettings", ResourceSettings=[memory.tocimxmlstr()])
    assert rv == 0
    (vssd,) = settings_of(hv1, guid, "Msvm_VirtualSystemSettingData")
    vssd["ElementName"] = "def-01b"
    assert invoke(hv1, "ModifySystemSettings", SystemSettings=vssd.tocimxmlstr())[0] == 0
    assert [v["Name"] for v in vm_named(hv1, "def-01b")] == [guid]
    assert settings_of(hv1, guid, "Msvm_MemorySettingData")[0]["VirtualQuantity"] == 4096
    controller = next(r for r in settings_of(hv1, guid, "Msvm_ResourceAllocationSettingData")
                      if r["ResourceType"] == 6)
    rv, out = invoke(hv1, "AddResourceSettings", AffectedConfiguration=vssd.path,
                     ResourceSettings=[embedded(
                         "Msvm_ResourceAllocationSettingData", ResourceType=Uint16(17),
                         ResourceSubType="Microsoft:Hyper-V:Synthetic Disk Drive",
                         Parent=controller.path.to_wbem_uri(), AddressOnParent="1")])
    assert rv == 0
    results = out["ResultingResourceSettings"]
    assert isinstance(results, list) and len(results) == 1
    drive: CIMInstanceName = results[0]
    rv, out = invoke(hv1, "AddResourceSettings", AffectedConfiguration=vssd.path,
                     ResourceSettings=[embedded(
                         "Msvm_StorageAllocationSettingData", Parent=drive.to_wbem_uri(),
                         HostResource=["C:\\ClusterStorage\\Volume1\\def-01\\data.vhdx"])])
    assert rv == 0
    assert len(settings_of(hv1, guid, "Msvm_StorageAllocationSettingData")) == 2
    assert invoke(hv1, "RemoveResourceSettings", ResourceSettings=[drive])[0] == 0
    assert len(settings_of(hv1, guid, "Msvm_StorageAllocationSettingData")) == 1

    # Refused: another VM's disk, an unknown switch; nothing changes.
    rv, out = invoke(hv1, "AddResourceSettings", AffectedConfiguration=vssd.path,
                     ResourceSettings=[embedded(
                         "Msvm_StorageAllocationSettingData",
                         HostResource=["C:\\ClusterStorage\\Volume1\\web-01\\web-01.vhdx"])])
    assert rv == 4 and "in use" in failed_job_message(hv1, out)
    (port,) = settings_of(hv1, guid, "Msvm_EthernetPortAllocationSettingData")
    port["HostResource"] = [switch_path(hv1, "External").replace("-", "0")]
    rv, out = invoke(hv1, "ModifyResourceSettings", ResourceSettings=[port.tocimxmlstr()])
    assert rv == 4 and "not a virtual switch" in failed_job_message(hv1, out)

    # The existing migration service moves it; its settings go along.
    (migration,) = hv1.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    (template,) = hv1.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                                       "WHERE MigrationType = 32768")
    rv, out = hv1.InvokeMethod("MigrateVirtualSystemToHost", migration,
                               ComputerSystem=vm_named(hv1, "def-01b")[0].path,
                               DestinationHost="HV-02",
                               MigrationSettingData=template.tocimxmlstr())
    assert rv == 4096
    assert wait_for_job(hv1, out["Job"]) == 7
    assert vm_named(hv1, "def-01b") == []
    assert settings_of(hv2, guid, "Msvm_MemorySettingData")[0]["VirtualQuantity"] == 4096

    # A restart on the same database keeps it.
    server.stop()
    server = hvsim_server(scenario=DEMO_SCENARIO, database=database)
    hv2 = wbem_connection(server.url("HV-02"))
    (vm,) = vm_named(hv2, "def-01b")
    assert settings_of(hv2, guid, "Msvm_ProcessorSettingData")[0]["VirtualQuantity"] == 2
    assert invoke(hv2, "DestroySystem", AffectedSystem=vm.path)[0] == 0
    assert vm_named(hv2, "def-01b") == []
    assert vm_named(wbem_connection(server.url("HV-01"), CLUSTER), "def-01b") == []
    assert settings_of(hv2, guid, "Msvm_StorageAllocationSettingData") == []


# -- WS-Management ---------------------------------------------------------------------------

VSMS_URI = WMI_V2 + VSMS
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"


def ws_invoke(server: HvsimServer, method: str, params: str) -> ET.Element:
    client = wsman_client(server.url("HV-01"))
    keys = SelectorSet()
    for key, value in {"CreationClassName": VSMS, "Name": "vmms",
                       "SystemCreationClassName": "Msvm_ComputerSystem",
                       "SystemName": "HV-01"}.items():
        keys.add_option(key, value)
    body = ET.fromstring(f'<p:{method}_INPUT xmlns:p="{VSMS_URI}" xmlns:a="{ADDRESSING}" '
                         f'xmlns:w="{WSMAN}">{params}</p:{method}_INPUT>')
    reply = client.invoke(f"{VSMS_URI}/{method}", VSMS_URI, body, selector_set=keys)
    found = reply.find(f".//{{{VSMS_URI}}}{method}_OUTPUT")
    assert found is not None, ET.tostring(reply)
    return found


def ws_param(name: str, text: str) -> str:
    return f"<p:{name}>{escape(text)}</p:{name}>"


def test_wsman_clients_define_change_and_are_refused(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    out = ws_invoke(server, "DefineSystem", ws_param("SystemSettings", embedded(
        "Msvm_VirtualSystemSettingData", ElementName="ws-01")) + ws_param(
        "ResourceSettings", embedded("Msvm_MemorySettingData", VirtualQuantity=Uint64(3072)))
        + ws_param("ResourceSettings", embedded("Msvm_SyntheticEthernetPortSettingData")))
    assert out.findtext(f"{{{VSMS_URI}}}ReturnValue") == "0"
    guid = next(s.text for s in out.iter(f"{{{WSMAN}}}Selector") if s.get("Name") == "Name")
    conn = wbem_connection(server.url("HV-01"))
    assert [v["Name"] for v in vm_named(conn, "ws-01")] == [guid]
    assert settings_of(conn, str(guid), "Msvm_MemorySettingData")[0]["VirtualQuantity"] == 3072

    # The adapter goes, named by an EPR as WinRM clients pass references.
    (nic,) = settings_of(conn, str(guid), "Msvm_SyntheticEthernetPortSettingData")
    epr = (f"<a:Address>{ADDRESSING}/role/anonymous</a:Address><a:ReferenceParameters>"
           f"<w:ResourceURI>{WMI_V2}Msvm_SyntheticEthernetPortSettingData</w:ResourceURI>"
           f'<w:SelectorSet><w:Selector Name="InstanceID">{escape(nic["InstanceID"])}'
           "</w:Selector></w:SelectorSet></a:ReferenceParameters>")
    out = ws_invoke(server, "RemoveResourceSettings",
                    f"<p:ResourceSettings>{epr}</p:ResourceSettings>")
    assert out.findtext(f"{{{VSMS_URI}}}ReturnValue") == "0"
    assert settings_of(conn, str(guid), "Msvm_SyntheticEthernetPortSettingData") == []

    # Static memory of a running VM: invalid state (5), a failed job, nothing changed.
    out = ws_invoke(server, "ModifyResourceSettings", ws_param("ResourceSettings", embedded(
        "Msvm_MemorySettingData", InstanceID=f"Microsoft:{WEB01}\\{MEMORY_PART}",
        VirtualQuantity=Uint64(8192))))
    assert out.findtext(f"{{{VSMS_URI}}}ReturnValue") == "5"
    assert out.find(f"{{{VSMS_URI}}}Job") is not None
    assert settings_of(conn, WEB01, "Msvm_MemorySettingData")[0]["VirtualQuantity"] == 4096
    # A RASD where the VM's settings belong: invalid parameter (4).
    out = ws_invoke(server, "ModifySystemSettings", ws_param("SystemSettings", embedded(
        "Msvm_MemorySettingData", InstanceID=f"Microsoft:{WEB01}", ElementName="x")))
    assert out.findtext(f"{{{VSMS_URI}}}ReturnValue") == "4"
    assert [v["Name"] for v in vm_named(conn, "web-01")] == [WEB01]


# -- two processes on one PostgreSQL database --------------------------------------------------

def test_two_processes_on_postgresql_see_definitions_and_refusals_alike(
        hvsim_server: Callable[..., HvsimServer], postgres_url: str) -> None:
    database = fresh_database(postgres_url)
    a = hvsim_server(scenario=DEMO_SCENARIO, database=database)
    b = hvsim_server(scenario=DEMO_SCENARIO, database=database)
    via_a, via_b = wbem_connection(a.url("HV-01")), wbem_connection(b.url("HV-01"))
    guid = define_vm(via_a, "pg-01")
    assert [v["Name"] for v in vm_named(wbem_connection(b.url("HV-02"), CLUSTER),
                                        "pg-01")] == [guid]
    (memory,) = settings_of(via_b, guid, "Msvm_MemorySettingData")
    memory["VirtualQuantity"] = Uint64(6144)
    assert invoke(via_b, "ModifyResourceSettings", ResourceSettings=[memory.tocimxmlstr()])[0] == 0
    assert settings_of(via_a, guid, "Msvm_MemorySettingData")[0]["VirtualQuantity"] == 6144
    # More vCPUs than HV-01's 32 logical processors: refused in B, unchanged in A.
    (processor,) = settings_of(via_b, guid, "Msvm_ProcessorSettingData")
    processor["VirtualQuantity"] = Uint64(33)
    rv, out = invoke(via_b, "ModifyResourceSettings", ResourceSettings=[processor.tocimxmlstr()])
    assert rv == 4 and "logical processors" in failed_job_message(via_a, out)
    assert settings_of(via_a, guid, "Msvm_ProcessorSettingData")[0]["VirtualQuantity"] == 2
    (vm,) = vm_named(via_b, "pg-01")
    assert invoke(via_a, "DestroySystem", AffectedSystem=vm.path)[0] == 0
    assert vm_named(via_b, "pg-01") == []
