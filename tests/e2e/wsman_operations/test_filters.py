"""WS-Management enumeration filters: WQL (with the retired v1 namespace clients probe),
selector and association filters, and the faults WinRM gives for each."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import requests
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import WSMan

from tests.support.server import (
    TEST_PASSWORD,
    TEST_USER,
    WMI_V2,
    HvsimServer,
    wbem_connection,
    wsman_url,
)
from tests.support.wsman_messages import (
    CANNOT_PROCESS_FILTER,
    CS,
    ENUM_NS,
    FILTER_DIALECT_UNAVAILABLE,
    FILTERING_REQUIRED,
    NS,
    V1_WILDCARD,
    WMI_ERROR,
    WQL,
    WSMAN_NS,
    association_filter,
    enumerate_all,
    fault_code,
    prop,
)

pytestmark = pytest.mark.e2e


def test_the_retired_v1_namespace_is_the_wmi_fault_clients_probe_for(wsman: WSMan) -> None:
    # An inventory tool first asks the v1 namespace, then falls back to v2 when the fault
    # carries 2150858778 (the WQL query's namespace is the filter's failure, as WinRM says).
    query = ("select BIOSGUID, ElementName from Msvm_VirtualSystemSettingData "
             "where SettingType = 3")
    with pytest.raises(WSManFaultError) as info:
        enumerate_all(wsman, V1_WILDCARD, f'<wsman:Filter Dialect="{WQL}">{query}</wsman:Filter>')
    assert fault_code(info) == CANNOT_PROCESS_FILTER
    assert "WBEM_E_INVALID_NAMESPACE" in info.value.reason
    # A class that does not exist in a namespace that does is the same filter fault.
    with pytest.raises(WSManFaultError) as info:
        enumerate_all(wsman, WMI_V2 + "*", f'<wsman:Filter Dialect="{WQL}">'
                                           "SELECT * FROM Msvm_NoSuchClass</wsman:Filter>")
    assert fault_code(info) == CANNOT_PROCESS_FILTER
    assert "WBEM_E_INVALID_CLASS" in info.value.reason


def test_v1_fault_as_a_raw_client_parses_it(server: HvsimServer) -> None:
    envelope = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        f'xmlns:wsman="{WSMAN_NS}" xmlns:wsen="{ENUM_NS}"><s:Header>'
        f'<wsa:Action s:mustUnderstand="true">{ENUM_NS}/Enumerate</wsa:Action>'
        f'<wsa:To s:mustUnderstand="true">{wsman_url(server.url("HV-01"))}</wsa:To>'
        f'<wsman:ResourceURI s:mustUnderstand="true">{V1_WILDCARD}</wsman:ResourceURI>'
        "<wsa:MessageID s:mustUnderstand=\"true\">uuid:11111111-2222-3333-4444-555555555555"
        "</wsa:MessageID><wsa:ReplyTo><wsa:Address>"
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address>"
        f'</wsa:ReplyTo></s:Header><s:Body><wsen:Enumerate><wsman:Filter Dialect="{WQL}">'
        "select BIOSGUID, ElementName from Msvm_VirtualSystemSettingData where SettingType = 3"
        "</wsman:Filter></wsen:Enumerate></s:Body></s:Envelope>")
    reply = requests.post(wsman_url(server.url("HV-01")), data=envelope.encode(), timeout=10,
                          auth=(TEST_USER, TEST_PASSWORD),
                          headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    assert reply.status_code == 500
    fault = ET.fromstring(reply.content)
    soap = "{http://www.w3.org/2003/05/soap-envelope}"
    subcode = fault.find(f".//{soap}Subcode/{soap}Value")
    assert subcode is not None and subcode.text == "n:CannotProcessFilter"
    wsman_fault = fault.find(".//{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}WSManFault")
    assert wsman_fault is not None and wsman_fault.get("Code") == str(CANNOT_PROCESS_FILTER)
    error_code = fault.find(f".//{{{WMI_ERROR}}}error_Code")
    assert error_code is not None and error_code.text == str(CANNOT_PROCESS_FILTER)
    status = fault.find(f".//{{{WMI_ERROR}}}CIMStatusCode")
    assert status is not None and status.text == "3"  # CIM_ERR_INVALID_NAMESPACE


def test_bios_guids_as_an_inventory_reads_them(server: HvsimServer, wsman: WSMan) -> None:
    query = ("select BIOSGUID, ElementName from Msvm_VirtualSystemSettingData "
             "where VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'")
    found = enumerate_all(wsman, WMI_V2 + "*",
                          f'<wsman:Filter Dialect="{WQL}">{query}</wsman:Filter>')
    by_name = {prop(i, "ElementName"): prop(i, "BIOSGUID") for i in found}
    assert set(by_name) == {"web-01", "web-02", "db-01"}
    for value in by_name.values():
        assert value is not None
        assert re.fullmatch(r"\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}", value)
    other_host = wbem_connection(server.url("HV-02"), "root/virtualization/v2")
    elsewhere = {i["BIOSGUID"] for i in other_host.EnumerateInstances(
        "Msvm_VirtualSystemSettingData", PropertyList=["BIOSGUID"])}
    assert len(elsewhere) >= 3 and not elsewhere & set(by_name.values())
    assert len(set(by_name.values())) == 3
    # The same value over CIM-XML, and again on the next read.
    same = wbem_connection(server.url("HV-01"), "root/virtualization/v2").ExecQuery("WQL", query)
    assert {i["ElementName"]: i["BIOSGUID"] for i in same} == by_name


def test_wql_filter(wsman: WSMan) -> None:
    query = "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'"
    found = enumerate_all(wsman, WMI_V2 + "*",
                          '<wsman:Filter Dialect="http://schemas.microsoft.com/wbem/wsman/1/WQL">'
                          f"{query}</wsman:Filter>")
    assert {prop(i, "ElementName") for i in found} == {"web-01", "web-02", "db-01"}


def test_wql_filter_faults(wsman: WSMan) -> None:
    bad = ('<wsman:Filter Dialect="http://schemas.microsoft.com/wbem/wsman/1/WQL">'
           "SELECT FROM WHERE</wsman:Filter>")
    with pytest.raises(WSManFaultError) as info:
        enumerate_all(wsman, WMI_V2 + "*", bad)
    assert fault_code(info) == CANNOT_PROCESS_FILTER
    with pytest.raises(WSManFaultError) as info:
        enumerate_all(wsman, WMI_V2 + "*",
                      '<wsman:Filter Dialect="urn:nowhere">x</wsman:Filter>')
    assert fault_code(info) == FILTER_DIALECT_UNAVAILABLE
    with pytest.raises(WSManFaultError) as info:  # the wildcard needs a filter
        enumerate_all(wsman, WMI_V2 + "*")
    assert fault_code(info) == FILTERING_REQUIRED


def test_selector_filter(wsman: WSMan) -> None:
    found = enumerate_all(
        wsman, CS, '<wsman:Filter Dialect="http://schemas.dmtf.org/wbem/wsman/1/wsman/'
                   'SelectorFilter"><wsman:SelectorSet><wsman:Selector Name="ElementName">'
                   "db-01</wsman:Selector></wsman:SelectorSet></wsman:Filter>")
    assert [prop(i, "ElementName") for i in found] == ["db-01"]


def test_association_filter_associated_instances(wsman: WSMan) -> None:
    found = enumerate_all(wsman, WMI_V2 + "*", association_filter(
        "AssociatedInstances",
        "<wsmb:AssociationClassName>Msvm_ElementSettingData</wsmb:AssociationClassName>"
        "<wsmb:ResultClassName>Msvm_VirtualSystemMigrationServiceSettingData"
        "</wsmb:ResultClassName>"))
    assert [i.tag.split("}")[1] for i in found] == ["Msvm_VirtualSystemMigrationServiceSettingData"]
    limited = enumerate_all(wsman, WMI_V2 + "*", association_filter(
        "AssociatedInstances",
        "<wsmb:ResultClassName>Msvm_VirtualSystemMigrationServiceSettingData"
        "</wsmb:ResultClassName><wsmb:IncludeResultProperty>EnableCompression"
        "</wsmb:IncludeResultProperty>"))
    assert [e.tag.split("}")[1] for e in limited[0]] == ["EnableCompression"]


def test_association_filter_association_instances(wsman: WSMan) -> None:
    found = enumerate_all(wsman, WMI_V2 + "*", association_filter(
        "AssociationInstances", "<wsmb:ResultClassName>Msvm_ElementSettingData"
                                "</wsmb:ResultClassName>"))
    assert found and all(i.tag.endswith("}Msvm_ElementSettingData") for i in found)
    # Reference properties are written as EPRs.
    managed = found[0].find(f"{{{WMI_V2}Msvm_ElementSettingData}}ManagedElement")
    assert managed is not None and managed.find("wsa:ReferenceParameters", NS) is not None


def test_wql_field_list_gives_partial_instances_with_their_keys(wsman: WSMan) -> None:
    found = enumerate_all(
        wsman, WMI_V2 + "*", '<wsman:Filter Dialect="http://schemas.microsoft.com/wbem/wsman/1/'
                             'WQL">SELECT ElementName FROM Msvm_ComputerSystem WHERE '
                             "ElementName = 'web-01'</wsman:Filter>")
    (vm,) = found
    assert sorted(e.tag.split("}")[1] for e in vm) == ["CreationClassName", "ElementName",
                                                        "Name"]
