"""WS-Management against a live `hvsim serve` (demo cluster) with pypsrp's WSMan over Basic:
Identify, the config resource, Get, Enumerate/Pull/Release in every mode, the three filter
dialects, both resource URI forms, refused writes, and the faults WinRM gives for each."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

from tests.support.server import (
    DEMO_SCENARIO,
    TEST_PASSWORD,
    TEST_USER,
    WMI_V2,
    HvsimServer,
    wbem_connection,
    wsman_client,
    wsman_url,
)

pytestmark = pytest.mark.e2e
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
CS = WMI_V2 + "Msvm_ComputerSystem"
SVC = WMI_V2 + "Msvm_VirtualSystemMigrationService"
ENUM_NS = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN_NS = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS = {**NAMESPACES, "cs": CS, "svc": SVC}
# WinRM's fault codes (ERROR_WSMAN_* HRESULTs) and WMI's for provider errors.
INVALID_SELECTORS = 2150858843
RESOURCE_NOT_FOUND = 2150858752
INVALID_ENUMERATION_CONTEXT = 2150858779
CANNOT_PROCESS_FILTER = 2150858778
FILTERING_REQUIRED = 2150858831
FILTER_DIALECT_UNAVAILABLE = 2150858777
ACTION_NOT_SUPPORTED = 2150858771
MAX_ENVELOPE_SIZE = 2150858823
UNSUPPORTED_TIMEOUT = 2150858764
WBEM_E_PROVIDER_NOT_CAPABLE = 0x80041024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO},
                     workdir=tmp_path_factory.mktemp("wsman-ops")) as started:
        yield started


@pytest.fixture(scope="module")
def wsman(server: HvsimServer) -> WSMan:
    return wsman_client(server.url("HV-01"))


def selectors(**keys: str) -> SelectorSet:
    selector_set = SelectorSet()
    for name, value in keys.items():
        selector_set.add_option(name, value)
    return selector_set


def enumerate_body(extra: str = "", *, optimize: bool = True, max_elements: int = 32000,
                   mode: str | None = None) -> ET.Element:
    parts = [f'<wsen:Enumerate xmlns:wsen="{ENUM_NS}" xmlns:wsman="{WSMAN_NS}" '
             'xmlns:wsmb="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" '
             'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">']
    if optimize:
        parts.append(f"<wsman:OptimizeEnumeration/><wsman:MaxElements>{max_elements}"
                     "</wsman:MaxElements>")
    if mode:
        parts.append(f"<wsman:EnumerationMode>{mode}</wsman:EnumerationMode>")
    parts.append(extra)
    parts.append("</wsen:Enumerate>")
    return ET.fromstring("".join(parts))


def items(body: ET.Element) -> list[ET.Element]:
    found = body.find("wsen:EnumerateResponse/wsman:Items", NS)
    if found is None:
        found = body.find("wsen:PullResponse/wsen:Items", NS)
    return list(found) if found is not None else []


def prop(instance: ET.Element, name: str) -> str | None:
    uri = instance.tag[1:].split("}")[0]
    element = instance.find(f"{{{uri}}}{name}")
    return None if element is None else element.text


def enumerate_all(wsman: WSMan, uri: str, extra: str = "", *,
                  mode: str | None = None) -> list[ET.Element]:
    return items(wsman.enumerate(uri, enumerate_body(extra, mode=mode)))


def fault_code(info: pytest.ExceptionInfo[WSManFaultError]) -> int:
    return int(info.value.code)


# -- Identify and configuration ------------------------------------------------------------------


def test_identify_authenticated(wsman: WSMan) -> None:
    request = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
               'xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">'
               "<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>")
    reply = ET.fromstring(wsman.transport.send(request.encode()))
    wsmid = "{http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd}"
    response = reply.find(f".//{wsmid}IdentifyResponse")
    assert response is not None
    assert response.findtext(f"{wsmid}ProductVendor") == "Microsoft Corporation"
    assert response.findtext(f"{wsmid}ProtocolVersion") == WSMAN_NS
    assert "Stack: 3.0" in (response.findtext(f"{wsmid}ProductVersion") or "")
    assert response.find(f"{wsmid}SecurityProfiles") is not None


def test_identify_anonymous_and_unauthenticated(server: HvsimServer) -> None:
    body = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">'
            "<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>")
    url = wsman_url(server.url("HV-01"))
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
    anonymous = requests.post(url, data=body, timeout=10,
                              headers={**headers, "WSMANIDENTIFY": "unauthenticated"})
    assert anonymous.status_code == 200
    assert "Microsoft Corporation" in anonymous.text
    assert "SecurityProfiles" not in anonymous.text
    refused = requests.post(url, data=body, headers=headers, timeout=10)
    assert refused.status_code == 401
    offered = refused.headers["WWW-Authenticate"]
    assert "Negotiate" in offered and "Basic" in offered


def test_config_gives_max_envelope_size(wsman: WSMan) -> None:
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 500 * 1024
    config = wsman.get_server_config()
    assert config.findtext("cfg:Config/cfg:MaxTimeoutms", namespaces=NS) == "60000"


# -- Get ---------------------------------------------------------------------------------------


def test_get_by_selectors(wsman: WSMan) -> None:
    body = wsman.get(CS, selector_set=selectors(CreationClassName="Msvm_ComputerSystem",
                                                Name=WEB01))
    (vm,) = list(body)
    assert vm.tag == f"{{{CS}}}Msvm_ComputerSystem"
    assert prop(vm, "ElementName") == "web-01"
    assert prop(vm, "EnabledState") == "2"
    assert any(e.get(f"{{{NS['xsi']}}}nil") == "true" for e in vm)  # NULL properties
    names = [e.tag.split("}")[1] for e in vm]
    assert names == sorted(names, key=str.lower)  # WMI's property order
    installed = vm.find(f"{{{CS}}}InstallDate/{{{NS['cim']}}}Datetime")
    assert installed is not None and "T" in (installed.text or "")


def test_get_with_a_subset_of_the_keys_that_names_one_instance(wsman: WSMan) -> None:
    body = wsman.get(CS, selector_set=selectors(Name=WEB01))
    assert prop(next(iter(body)), "ElementName") == "web-01"


def test_get_missing_instance_is_destination_unreachable(wsman: WSMan) -> None:
    with pytest.raises(WSManFaultError) as info:
        wsman.get(CS, selector_set=selectors(CreationClassName="Msvm_ComputerSystem",
                                             Name="does-not-exist"))
    assert fault_code(info) == RESOURCE_NOT_FOUND
    assert "cannot find the resource" in info.value.reason


def test_get_with_a_selector_that_is_not_a_key(wsman: WSMan) -> None:
    with pytest.raises(WSManFaultError) as info:
        wsman.get(CS, selector_set=selectors(ElementName="web-01"))
    assert fault_code(info) == INVALID_SELECTORS
    assert "ElementName" in info.value.reason


def test_get_of_an_unknown_class_or_namespace(wsman: WSMan) -> None:
    for uri in (WMI_V2 + "Msvm_NoSuchClass",
                "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/nowhere/Msvm_ComputerSystem"):
        with pytest.raises(WSManFaultError) as info:
            wsman.get(uri, selector_set=selectors(Name=WEB01))
        assert fault_code(info) == RESOURCE_NOT_FOUND


V1_WILDCARD = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/*"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
WMI_ERROR = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


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


def test_get_in_the_cluster_namespace(wsman: WSMan) -> None:
    cluster = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/HyperVCluster/v2/"
    body = wsman.get(cluster + "Msvm_ComputerSystem",
                     selector_set=selectors(CreationClassName="Msvm_ComputerSystem", Name=WEB01))
    assert prop(next(iter(body)), "ElementName") == "web-01"


# -- Enumerate / Pull / Release ------------------------------------------------------------------


def test_enumerate_optimized(wsman: WSMan) -> None:
    body = wsman.enumerate(CS, enumerate_body())
    response = body.find("wsen:EnumerateResponse", NS)
    assert response is not None
    assert response.find("wsman:EndOfSequence", NS) is not None
    context = response.find("wsen:EnumerationContext", NS)
    assert context is not None and not (context.text or "").strip()
    names = {prop(i, "ElementName") for i in items(body)}
    assert names == {"HV-01", "web-01", "web-02", "db-01"}


def test_enumerate_then_pull_one_by_one(wsman: WSMan) -> None:
    body = wsman.enumerate(CS, enumerate_body(optimize=False))
    context = body.findtext("wsen:EnumerateResponse/wsen:EnumerationContext", namespaces=NS)
    assert context
    names = []
    while True:
        pull = ET.fromstring(f'<wsen:Pull xmlns:wsen="{ENUM_NS}"><wsen:EnumerationContext>'
                             f"{context}</wsen:EnumerationContext><wsen:MaxElements>1"
                             "</wsen:MaxElements></wsen:Pull>")
        reply = wsman.pull(CS, pull)
        page = items(reply)
        assert len(page) <= 1
        names += [prop(i, "ElementName") for i in page]
        if reply.find("wsen:PullResponse/wsen:EndOfSequence", NS) is not None:
            assert reply.find("wsen:PullResponse/wsen:EnumerationContext", NS) is None
            break
        context = reply.findtext("wsen:PullResponse/wsen:EnumerationContext", namespaces=NS)
    assert Counter(names) == Counter(["HV-01", "web-01", "web-02", "db-01"])
    # The context is gone once its last item was pulled.
    with pytest.raises(WSManFaultError) as info:
        wsman.pull(CS, pull)
    assert fault_code(info) == INVALID_ENUMERATION_CONTEXT


def test_release_ends_an_enumeration(wsman: WSMan) -> None:
    body = wsman.enumerate(CS, enumerate_body(optimize=True, max_elements=1))
    context = body.findtext("wsen:EnumerateResponse/wsen:EnumerationContext", namespaces=NS)
    assert context and len(items(body)) == 1
    release = ET.fromstring(f'<wsen:Release xmlns:wsen="{ENUM_NS}"><wsen:EnumerationContext>'
                            f"{context}</wsen:EnumerationContext></wsen:Release>")
    wsman.invoke("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release", CS, release)
    pull = ET.fromstring(f'<wsen:Pull xmlns:wsen="{ENUM_NS}"><wsen:EnumerationContext>'
                         f"{context}</wsen:EnumerationContext></wsen:Pull>")
    with pytest.raises(WSManFaultError) as info:
        wsman.pull(CS, pull)
    assert fault_code(info) == INVALID_ENUMERATION_CONTEXT


def test_enumerate_epr_and_object_and_epr(wsman: WSMan) -> None:
    (epr,) = enumerate_all(wsman, SVC, mode="EnumerateEPR")
    assert epr.tag == f"{{{NS['wsa']}}}EndpointReference"
    keys = {s.get("Name"): s.text for s in epr.iterfind(".//wsman:Selector", NS)}
    assert keys["Name"] == "migrationwmi" and keys["SystemName"] == "HV-01"
    assert keys["__cimnamespace"] == "root/virtualization/v2"
    pairs = enumerate_all(wsman, CS, mode="EnumerateObjectAndEPR")
    assert len(pairs) == 4
    for item in pairs:
        assert item.tag == f"{{{WSMAN_NS}}}Item"
        instance, reference = list(item)
        assert reference.tag == f"{{{NS['wsa']}}}EndpointReference"
        name = {s.get("Name"): s.text for s in reference.iterfind(".//wsman:Selector", NS)}
        assert name["Name"] == prop(instance, "Name")


def test_enumerate_pages_respect_max_envelope_size(server: HvsimServer) -> None:
    small = wsman_client(server.url("HV-01"), max_envelope_size=8192)
    body = small.enumerate(CS, enumerate_body())
    first = items(body)
    assert 1 <= len(first) < 4  # a VM is a few kB: not all four fit into 8 kB
    assert body.find("wsen:EnumerateResponse/wsman:EndOfSequence", NS) is None


def test_dmtf_uri_with_cimnamespace(wsman: WSMan) -> None:
    uri = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem"
    body = wsman.enumerate(uri, enumerate_body(),
                           selector_set=selectors(__cimnamespace="root/virtualization/v2"))
    found = {prop(i, "ElementName"): i.tag.split("}")[1] for i in items(body)}
    # Polymorphic: the virtual switches are CIM_ComputerSystems too; each has its own class.
    assert found["web-01"] == "Msvm_ComputerSystem"
    assert found["External"] == "Msvm_VirtualEthernetSwitch"


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


def _association(kind: str, extra: str) -> str:
    return (
        '<wsman:Filter Dialect="http://schemas.dmtf.org/wbem/wsman/1/cimbinding/'
        f'associationFilter"><wsmb:{kind}><wsmb:Object><wsa:Address>'
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address>"
        f"<wsa:ReferenceParameters><wsman:ResourceURI>{SVC}</wsman:ResourceURI>"
        "<wsman:SelectorSet><wsman:Selector Name=\"CreationClassName\">"
        "Msvm_VirtualSystemMigrationService</wsman:Selector><wsman:Selector Name=\"Name\">"
        "migrationwmi</wsman:Selector><wsman:Selector Name=\"SystemCreationClassName\">"
        "Msvm_ComputerSystem</wsman:Selector><wsman:Selector Name=\"SystemName\">HV-01"
        "</wsman:Selector></wsman:SelectorSet></wsa:ReferenceParameters></wsmb:Object>"
        f"{extra}</wsmb:{kind}></wsman:Filter>")


def test_association_filter_associated_instances(wsman: WSMan) -> None:
    found = enumerate_all(wsman, WMI_V2 + "*", _association(
        "AssociatedInstances",
        "<wsmb:AssociationClassName>Msvm_ElementSettingData</wsmb:AssociationClassName>"
        "<wsmb:ResultClassName>Msvm_VirtualSystemMigrationServiceSettingData"
        "</wsmb:ResultClassName>"))
    assert [i.tag.split("}")[1] for i in found] == ["Msvm_VirtualSystemMigrationServiceSettingData"]
    limited = enumerate_all(wsman, WMI_V2 + "*", _association(
        "AssociatedInstances",
        "<wsmb:ResultClassName>Msvm_VirtualSystemMigrationServiceSettingData"
        "</wsmb:ResultClassName><wsmb:IncludeResultProperty>EnableCompression"
        "</wsmb:IncludeResultProperty>"))
    assert [e.tag.split("}")[1] for e in limited[0]] == ["EnableCompression"]


def test_association_filter_association_instances(wsman: WSMan) -> None:
    found = enumerate_all(wsman, WMI_V2 + "*", _association(
        "AssociationInstances", "<wsmb:ResultClassName>Msvm_ElementSettingData"
                                "</wsmb:ResultClassName>"))
    assert found and all(i.tag.endswith("}Msvm_ElementSettingData") for i in found)
    # Reference properties are written as EPRs.
    managed = found[0].find(f"{{{WMI_V2}Msvm_ElementSettingData}}ManagedElement")
    assert managed is not None and managed.find("wsa:ReferenceParameters", NS) is not None


# -- writes and other refusals -------------------------------------------------------------------


def test_put_create_delete_are_refused(wsman: WSMan) -> None:
    keys = selectors(CreationClassName="Msvm_ComputerSystem", Name=WEB01)
    representation = ET.fromstring(f'<p:Msvm_ComputerSystem xmlns:p="{CS}">'
                                   "<p:ElementName>renamed</p:ElementName>"
                                   "</p:Msvm_ComputerSystem>")
    with pytest.raises(WSManFaultError) as info:
        wsman.put(CS, representation, selector_set=keys)
    assert fault_code(info) == WBEM_E_PROVIDER_NOT_CAPABLE
    assert "ModifyInstance is not supported" in info.value.reason
    with pytest.raises(WSManFaultError) as info:
        wsman.create(CS, representation)
    assert "CreateInstance is not supported" in info.value.reason
    with pytest.raises(WSManFaultError) as info:
        wsman.delete(CS, selector_set=keys)
    assert "DeleteInstance is not supported" in info.value.reason
    assert prop(next(iter(wsman.get(CS, selector_set=keys))), "ElementName") == "web-01"


def test_put_of_an_unknown_property_is_an_invalid_representation(wsman: WSMan) -> None:
    representation = ET.fromstring(f'<p:Msvm_ComputerSystem xmlns:p="{CS}">'
                                   "<p:NoSuchProperty>1</p:NoSuchProperty>"
                                   "</p:Msvm_ComputerSystem>")
    with pytest.raises(WSManFaultError) as info:
        wsman.put(CS, representation, selector_set=selectors(Name=WEB01))
    assert info.value.code == 2150858773


def test_shell_resources_are_not_in_the_catalog(wsman: WSMan) -> None:
    shell = ET.fromstring('<rsp:Shell xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/'
                          'windows/shell"><rsp:InputStreams>stdin</rsp:InputStreams>'
                          "</rsp:Shell>")
    for uri in ("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
                "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"):
        with pytest.raises(WSManFaultError) as info:
            wsman.create(uri, shell)
        assert "was not found in the WS-Management catalog" in info.value.reason
        assert fault_code(info) == RESOURCE_NOT_FOUND


def test_unknown_method_and_action(wsman: WSMan) -> None:
    with pytest.raises(WSManFaultError) as info:
        wsman.invoke(SVC + "/NoSuchMethod", SVC, None, selector_set=selectors(Name="migrationwmi"))
    assert fault_code(info) == ACTION_NOT_SUPPORTED
    with pytest.raises(WSManFaultError) as info:
        wsman.invoke("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Renew", CS, None)
    assert fault_code(info) == ACTION_NOT_SUPPORTED


def test_limits_are_enforced(server: HvsimServer) -> None:
    too_big = wsman_client(server.url("HV-01"), max_envelope_size=1024 * 1024)
    with pytest.raises(WSManFaultError) as info:
        too_big.get(CS, selector_set=selectors(Name=WEB01))
    assert fault_code(info) == MAX_ENVELOPE_SIZE
    too_long = wsman_client(server.url("HV-01"), operation_timeout=600)
    with pytest.raises(WSManFaultError) as info:
        too_long.get(CS, selector_set=selectors(Name=WEB01))
    assert fault_code(info) == UNSUPPORTED_TIMEOUT
    assert "MaxTimeoutms" in info.value.reason


def test_wsman_and_cimxml_show_the_same_world(server: HvsimServer, wsman: WSMan) -> None:
    conn = wbem_connection(server.url("HV-01"))
    over_cim = {i["ElementName"] for i in conn.EnumerateInstances("Msvm_ComputerSystem")}
    over_wsman = {prop(i, "ElementName") for i in enumerate_all(wsman, CS)}
    assert over_cim == over_wsman


def test_each_endpoint_serves_its_own_host(server: HvsimServer) -> None:
    other = wsman_client(server.url("HV-02"))
    names = {prop(i, "ElementName") for i in enumerate_all(other, CS)}
    assert names == {"HV-02", "app-01", "build-01", "legacy-01"}



def test_enumeration_contexts_belong_to_their_endpoint(server: HvsimServer, wsman: WSMan) -> None:
    body = wsman.enumerate(CS, enumerate_body(optimize=False))
    context = body.findtext("wsen:EnumerateResponse/wsen:EnumerationContext", namespaces=NS)
    pull = ET.fromstring(f'<wsen:Pull xmlns:wsen="{ENUM_NS}"><wsen:EnumerationContext>'
                         f"{context}</wsen:EnumerationContext><wsen:MaxCharacters>4000"
                         "</wsen:MaxCharacters><wsen:MaxElements>10</wsen:MaxElements>"
                         "</wsen:Pull>")
    other = wsman_client(server.url("HV-02"))
    with pytest.raises(WSManFaultError) as info:
        other.pull(CS, pull)
    assert fault_code(info) == INVALID_ENUMERATION_CONTEXT
    # MaxCharacters bounds a page like MaxEnvelopeSize does: one VM at a time here.
    page = items(wsman.pull(CS, pull))
    assert len(page) == 1


def test_enumerate_options_winrm_does_not_support(wsman: WSMan) -> None:
    with pytest.raises(WSManFaultError) as info:
        enumerate_all(wsman, CS, f'<wsen:Expires xmlns:wsen="{ENUM_NS}">PT1M</wsen:Expires>')
    assert fault_code(info) == 2150858818
    with pytest.raises(WSManFaultError) as info:
        enumerate_all(wsman, CS, mode="EnumerateEverything")
    assert fault_code(info) == 2150858810


def test_invoke_returns_embedded_objects_as_nested_elements(wsman: WSMan) -> None:
    # CompatibilityVectors[] is an array of WMI objects: WinRM nests each vector's properties
    # in Msvm_CompatibilityVector's own namespace, with xsi:type naming its class.
    vm = ('<wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous'
          f"</wsa:Address><wsa:ReferenceParameters><wsman:ResourceURI>{CS}</wsman:ResourceURI>"
          '<wsman:SelectorSet><wsman:Selector Name="CreationClassName">Msvm_ComputerSystem'
          f'</wsman:Selector><wsman:Selector Name="Name">{WEB01}</wsman:Selector>'
          "</wsman:SelectorSet></wsa:ReferenceParameters>")
    body = ET.fromstring(
        f'<p:GetSystemCompatibilityVectors_INPUT xmlns:p="{SVC}" xmlns:wsa="{NS["wsa"]}" '
        f'xmlns:wsman="{WSMAN_NS}"><p:ComputerSystem>{vm}</p:ComputerSystem>'
        "</p:GetSystemCompatibilityVectors_INPUT>")
    reply = wsman.invoke(SVC + "/GetSystemCompatibilityVectors", SVC, body,
                         selector_set=selectors(Name="migrationwmi"))
    output = reply.find(f".//{{{SVC}}}GetSystemCompatibilityVectors_OUTPUT")
    assert output is not None
    assert output.findtext(f"{{{SVC}}}ReturnValue") == "0"
    vector_uri = WMI_V2 + "Msvm_CompatibilityVector"
    vectors = list(output.iterfind(f"{{{SVC}}}CompatibilityVectors"))
    assert vectors
    for vector in vectors:
        assert vector.get(f"{{{XSI}}}type", "").endswith(":Msvm_CompatibilityVector_Type")
        assert not (vector.text or "").strip()
        assert vector.findtext(f"{{{vector_uri}}}VectorId") not in (None, "")
        assert {child.tag.split("}")[0][1:] for child in vector} == {vector_uri}
    names = [e.tag.split("}")[1] for e in output]
    assert names == sorted(names, key=str.lower)  # WMI's order: ReturnValue among the others


def test_association_instances_round_trip_through_their_eprs(wsman: WSMan) -> None:
    """An association's keys are references: its EPR nests EPRs, and a Get with them works."""
    uri = WMI_V2 + "Msvm_ElementSettingData"
    eprs = enumerate_all(wsman, uri, mode="EnumerateEPR")
    assert eprs
    selector_set = eprs[0].find(".//wsman:SelectorSet", NS)
    assert selector_set is not None
    assert selector_set.find(".//wsa:EndpointReference", NS) is not None
    request = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:wsa="{NS["wsa"]}" xmlns:wsman="{WSMAN_NS}"><s:Header>'
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</wsa:Action>"
        "<wsa:MessageID>uuid:0E7A0000-0000-0000-0000-000000000001</wsa:MessageID>"
        f"<wsman:ResourceURI>{uri}</wsman:ResourceURI>"
        f"{ET.tostring(selector_set, encoding='unicode')}</s:Header><s:Body/></s:Envelope>")
    reply = ET.fromstring(wsman.transport.send(request.encode()))
    (instance,) = list(reply.find("s:Body", NS) or [])
    assert instance.tag == f"{{{uri}}}Msvm_ElementSettingData"
    assert instance.find(f"{{{uri}}}ManagedElement/wsa:ReferenceParameters", NS) is not None


def test_wql_field_list_gives_partial_instances_with_their_keys(wsman: WSMan) -> None:
    found = enumerate_all(
        wsman, WMI_V2 + "*", '<wsman:Filter Dialect="http://schemas.microsoft.com/wbem/wsman/1/'
                             'WQL">SELECT ElementName FROM Msvm_ComputerSystem WHERE '
                             "ElementName = 'web-01'</wsman:Filter>")
    (vm,) = found
    assert sorted(e.tag.split("}")[1] for e in vm) == ["CreationClassName", "ElementName",
                                                        "Name"]
