"""An inventory of the kind subscription managers run against every hypervisor, over WS-Man:
per host, the realized VM settings (BIOS GUID) by WQL and GetSummaryInformation (names and
states, as WinRM writes embedded objects); joined by the VM's GUID it maps each BIOS GUID to a
host. A VM migrated from HV-01 to HV-02 is seen to move, with Basic and with NTLM-sealed
messages."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import pywbem
from pypsrp.wsman import SelectorSet, WSMan

from tests.support.server import DEMO_SCENARIO, WMI_V2, HvsimServer, wbem_connection, wsman_client

pytestmark = pytest.mark.e2e
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
VSSD = WMI_V2 + "Msvm_VirtualSystemSettingData"
VSMS = WMI_V2 + "Msvm_VirtualSystemManagementService"
SUMMARY = WMI_V2 + "Msvm_SummaryInformation"
REALIZED = "Microsoft:Hyper-V:System:Realized"


def realized_settings(client: WSMan) -> dict[str, str]:
    """VM GUID -> BIOS GUID, from the realized VM settings."""
    body = ET.fromstring(
        '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
        f'xmlns:wsman="{WSMAN}"><wsman:OptimizeEnumeration/><wsman:MaxElements>100'
        f'</wsman:MaxElements><wsman:Filter Dialect="{WQL}">SELECT * FROM '
        f"Msvm_VirtualSystemSettingData WHERE VirtualSystemType = '{REALIZED}'"
        "</wsman:Filter></wsen:Enumerate>")
    reply = client.enumerate(WMI_V2 + "*", body)
    found: dict[str, str] = {}
    for item in reply.iter(f"{{{VSSD}}}Msvm_VirtualSystemSettingData"):
        vm_guid = item.findtext(f"{{{VSSD}}}VirtualSystemIdentifier") or ""
        found[vm_guid.upper()] = item.findtext(f"{{{VSSD}}}BIOSGUID") or ""
    return found


def summaries(client: WSMan) -> dict[str, tuple[str, str]]:
    """VM GUID -> (ElementName, EnabledState), from GetSummaryInformation's embedded objects."""
    body = ET.fromstring(f'<p:GetSummaryInformation_INPUT xmlns:p="{VSMS}">'
                         "<p:RequestedInformation>0</p:RequestedInformation>"
                         "<p:RequestedInformation>1</p:RequestedInformation>"
                         "<p:RequestedInformation>100</p:RequestedInformation>"
                         "</p:GetSummaryInformation_INPUT>")
    # As inventory tools address it: only the class-name selectors (a host has one service).
    service = SelectorSet()
    service.add_option("CreationClassName", "Msvm_VirtualSystemManagementService")
    service.add_option("SystemCreationClassName", "Msvm_ComputerSystem")
    reply = client.invoke(f"{VSMS}/GetSummaryInformation", VSMS, body, selector_set=service)
    output = reply.find(f".//{{{VSMS}}}GetSummaryInformation_OUTPUT")
    assert output is not None, ET.tostring(reply)
    assert output.findtext(f"{{{VSMS}}}ReturnValue") == "0"
    found: dict[str, tuple[str, str]] = {}
    for item in output.iterfind(f"{{{VSMS}}}SummaryInformation"):
        name = item.findtext(f"{{{SUMMARY}}}Name") or ""
        found[name.upper()] = (item.findtext(f"{{{SUMMARY}}}ElementName") or "",
                               item.findtext(f"{{{SUMMARY}}}EnabledState") or "")
    return found


def inventory(clients: dict[str, WSMan]) -> dict[str, tuple[str, str]]:
    """BIOS GUID -> (host, VM name): what the tool reports."""
    report: dict[str, tuple[str, str]] = {}
    for host, client in clients.items():
        bios = realized_settings(client)
        for vm_guid, (name, _state) in summaries(client).items():
            assert vm_guid in bios, (host, vm_guid, "a summary without realized settings")
            assert bios[vm_guid], (host, name, "BIOSGUID is empty")
            assert bios[vm_guid] not in report, "a BIOS GUID seen on two hosts"
            report[bios[vm_guid]] = (host, name)
    return report


def migrate_with_pywbem(server: HvsimServer, vm_name: str, source: str, destination: str) -> None:
    conn = wbem_connection(server.url(source))
    (vm,) = [v for v in conn.EnumerateInstances("Msvm_ComputerSystem")
             if v["ElementName"] == vm_name]
    (service,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    setting = pywbem.CIMInstance("Msvm_VirtualSystemMigrationSettingData", properties={
        "MigrationType": pywbem.Uint16(32768), "TransportType": pywbem.Uint16(5)})
    rv, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service, ComputerSystem=vm.path,
                                DestinationHost=destination,
                                MigrationSettingData=setting.tomof())
    assert rv == 4096
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = conn.GetInstance(out["Job"])
        if int(job["JobState"]) not in (3, 4):
            break
        time.sleep(0.1)
    assert int(job["JobState"]) == 7, job["ErrorDescription"]


@pytest.mark.parametrize(("auth", "encryption"), [("basic", None), ("ntlm", "auto")])
def test_an_inventory_follows_a_migrated_vm_by_its_bios_guid(
        hvsim_server: Callable[..., HvsimServer], auth: str, encryption: str | None) -> None:
    server: HvsimServer = hvsim_server(scenario=DEMO_SCENARIO, time_scale=200)
    clients = {host: wsman_client(server.url(host), auth=auth, encryption=encryption)
               for host in server.hosts}
    before = inventory(clients)
    (bios_guid,) = [g for g, (host, name) in before.items() if name == "web-01"]
    assert before[bios_guid][0] == "HV-01"
    assert len(set(before)) == len(before) > 2
    migrate_with_pywbem(server, "web-01", "HV-01", "HV-02")
    after = inventory(clients)
    assert after[bios_guid] == ("HV-02", "web-01")
    # Nothing else moved, nothing appeared or vanished.
    assert {g: v for g, v in after.items() if g != bios_guid} == \
        {g: v for g, v in before.items() if g != bios_guid}
