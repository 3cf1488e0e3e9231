"""WinRM-exact WS-Management rendering against a live `hvsim serve` (demo cluster): method output
with WMI embedded objects parsed as an element tree, as an inventory tool does; every instance of
every served class carrying every property of its class; NULL against empty arrays; and the
faults of the retired root/virtualization (v1) namespace and of other missing namespaces."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
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
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
ENUM = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/"
WMI_ERROR = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"
WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
VSMS = WMI_V2 + "Msvm_VirtualSystemManagementService"
SUMMARY = WMI_V2 + "Msvm_SummaryInformation"
CANNOT_PROCESS_FILTER = 2150858778
CIM_ERR_INVALID_NAMESPACE = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO},
                     workdir=tmp_path_factory.mktemp("wsman-rendering")) as started:
        yield started


def envelope(url: str, action: str, resource_uri: str, body: str, selectors: str = "") -> bytes:
    """A request written by hand, the way inventory tools that build their own SOAP send it."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:wsa="{WSA}" '
        f'xmlns:wsman="{WSMAN}" xmlns:wsen="{ENUM}"><s:Header>'
        f'<wsa:Action s:mustUnderstand="true">{action}</wsa:Action>'
        f'<wsa:To s:mustUnderstand="true">{url}</wsa:To>'
        f'<wsman:ResourceURI s:mustUnderstand="true">{resource_uri}</wsman:ResourceURI>'
        '<wsa:MessageID s:mustUnderstand="true">uuid:6A0C5E52-0000-4000-8000-000000000016'
        f"</wsa:MessageID><wsa:ReplyTo><wsa:Address>{WSA}/role/anonymous</wsa:Address>"
        f"</wsa:ReplyTo>{selectors}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def post(server: HvsimServer, host: str, data: bytes) -> requests.Response:
    return requests.post(wsman_url(server.url(host)), data=data, timeout=30,
                         auth=(TEST_USER, TEST_PASSWORD),
                         headers={"Content-Type": "application/soap+xml;charset=UTF-8"})


def summary_request(server: HvsimServer, host: str, namespace: str = "root/virtualization/v2",
                    codes: tuple[int, ...] = (0, 1, 100)) -> bytes:
    # As an inventory tool writes it: the INPUT element in the wsman namespace, and only the
    # two class-name selectors of the management service (a host has one).
    service = f"{WMI}{namespace}/Msvm_VirtualSystemManagementService"
    body = (f'<wsman:GetSummaryInformation_INPUT xmlns:p="{service}">'
            + "".join(f"<p:RequestedInformation>{c}</p:RequestedInformation>" for c in codes)
            + "</wsman:GetSummaryInformation_INPUT>")
    selectors = ('<wsman:SelectorSet><wsman:Selector Name="CreationClassName">'
                 "Msvm_VirtualSystemManagementService</wsman:Selector>"
                 '<wsman:Selector Name="SystemCreationClassName">Msvm_ComputerSystem'
                 "</wsman:Selector></wsman:SelectorSet>")
    return envelope(wsman_url(server.url(host)), f"{service}/GetSummaryInformation", service,
                    body, selectors)


def states_by_name(reply: bytes, namespace: str = "root/virtualization/v2") -> dict[str, str]:
    """What an inventory tool reads: each SummaryInformation's ElementName and EnabledState in
    Msvm_SummaryInformation's own namespace."""
    service = f"{WMI}{namespace}/Msvm_VirtualSystemManagementService"
    summary = f"{WMI}{namespace}/Msvm_SummaryInformation"
    document = ET.fromstring(reply)
    (output,) = document.findall(f"{{{SOAP}}}Body/{{{service}}}GetSummaryInformation_OUTPUT")
    found: dict[str, str] = {}
    for node in output:
        if "SummaryInformation" in node.tag:
            name = node.find(f"{{{summary}}}ElementName")
            state = node.find(f"{{{summary}}}EnabledState")
            assert name is not None and state is not None, ET.tostring(node)
            found[name.text or ""] = state.text or ""
    return found


def test_summary_information_as_an_inventory_parses_it(server: HvsimServer) -> None:
    reply = post(server, "HV-01", summary_request(server, "HV-01"))
    assert reply.status_code == 200, reply.text
    seen = states_by_name(reply.content)
    cim = wbem_connection(server.url("HV-01"))
    vms = [vm for vm in cim.EnumerateInstances("Msvm_ComputerSystem")
           if vm["Caption"] == "Virtual Machine"]
    assert seen == {vm["ElementName"]: str(vm["EnabledState"]) for vm in vms}
    # Each summary is a whole Msvm_SummaryInformation: every property, unrequested ones nil.
    output = ET.fromstring(reply.content).find(f".//{{{VSMS}}}GetSummaryInformation_OUTPUT")
    assert output is not None
    declared = set(cim.GetClass("Msvm_SummaryInformation", LocalOnly=False).properties)
    for item in output.iterfind(f"{{{VSMS}}}SummaryInformation"):
        assert item.get(f"{{{XSI}}}type", "").endswith(":Msvm_SummaryInformation_Type")
        names = [child.tag for child in item]
        assert all(name.startswith(f"{{{SUMMARY}}}") for name in names)
        assert {name.split("}")[1] for name in names} == declared
        notes = item.find(f"{{{SUMMARY}}}Notes")
        assert notes is not None and notes.get(f"{{{XSI}}}nil") == "true"


def test_summary_information_through_pypsrp_with_basic(server: HvsimServer) -> None:
    wsman: WSMan = wsman_client(server.url("HV-02"))
    selector_set = SelectorSet()
    selector_set.add_option("CreationClassName", "Msvm_VirtualSystemManagementService")
    body = ET.fromstring(
        f'<p:GetSummaryInformation_INPUT xmlns:p="{VSMS}">'
        "<p:RequestedInformation>1</p:RequestedInformation>"
        "<p:RequestedInformation>4</p:RequestedInformation>"
        "<p:RequestedInformation>108</p:RequestedInformation>"
        "</p:GetSummaryInformation_INPUT>")
    reply = wsman.invoke(VSMS + "/GetSummaryInformation", VSMS, body, selector_set=selector_set)
    output = reply.find(f".//{{{VSMS}}}GetSummaryInformation_OUTPUT")
    assert output is not None and output.findtext(f"{{{VSMS}}}ReturnValue") == "0"
    items = list(output.iterfind(f"{{{VSMS}}}SummaryInformation"))
    names = {item.findtext(f"{{{SUMMARY}}}ElementName") for item in items}
    assert names == {"app-01", "build-01", "legacy-01"}
    for item in items:
        assert int(item.findtext(f"{{{SUMMARY}}}NumberOfProcessors") or 0) >= 1
        # AsynchronousTasks was asked for and no job runs: an empty array is no element at
        # all, while Snapshots (not asked for) is NULL.
        assert item.find(f"{{{SUMMARY}}}AsynchronousTasks") is None
        snapshots = item.find(f"{{{SUMMARY}}}Snapshots")
        assert snapshots is not None and snapshots.get(f"{{{XSI}}}nil") == "true"


def _namespaces(server: HvsimServer) -> list[str]:
    interop = wbem_connection(server.url("HV-01"), "root/interop")
    return sorted(str(ns["Name"]) for ns in interop.EnumerateInstances("CIM_Namespace"))


def _enumerate_objects(wsman: WSMan, uri: str) -> list[ET.Element]:
    body = ET.fromstring(
        f'<wsen:Enumerate xmlns:wsen="{ENUM}" xmlns:wsman="{WSMAN}"><wsman:OptimizeEnumeration/>'
        "<wsman:MaxElements>32000</wsman:MaxElements></wsen:Enumerate>")
    found: list[ET.Element] = []
    response = wsman.enumerate(uri, body)
    while True:
        items = response.find(".//wsman:Items", NAMESPACES)
        if items is None:
            items = response.find(".//wsen:Items", NAMESPACES)
        found.extend(items if items is not None else [])
        if response.find(".//wsman:EndOfSequence", NAMESPACES) is not None or \
                response.find(".//wsen:EndOfSequence", NAMESPACES) is not None:
            return found
        context = response.findtext(".//wsen:EnumerationContext", namespaces=NAMESPACES)
        response = wsman.pull(uri, ET.fromstring(
            f'<wsen:Pull xmlns:wsen="{ENUM}"><wsen:EnumerationContext>{context}'
            "</wsen:EnumerationContext><wsen:MaxElements>32000</wsen:MaxElements></wsen:Pull>"))


def test_every_instance_of_every_served_class_carries_every_property(
        server: HvsimServer) -> None:
    """Over the whole served schema: each WS-Man instance has one element per property of its
    class (several for an array), `xsi:type` naming the class, nil exactly where CIM-XML has
    NULL, and no element exactly where CIM-XML has an empty array."""
    wsman: WSMan = wsman_client(server.url("HV-01"))
    checked_classes = checked_instances = 0
    for namespace in _namespaces(server):
        cim = wbem_connection(server.url("HV-01"), namespace)
        for classname in cim.EnumerateClassNames(DeepInheritance=True):
            expected = [i for i in cim.EnumerateInstances(classname, DeepInheritance=False)
                        if i.classname == classname]
            if not expected:
                continue
            klass = cim.GetClass(classname, LocalOnly=False)
            uri = f"{WMI}{namespace}/{classname}"
            got = [i for i in _enumerate_objects(wsman, uri) if i.tag == f"{{{uri}}}{classname}"]
            assert len(got) == len(expected), (namespace, classname)
            nil: Counter[str] = Counter()
            absent: Counter[str] = Counter()
            for instance in got:
                assert instance.get(f"{{{XSI}}}type") == f"p:{classname}_Type"
                counts = Counter(child.tag.split("}")[1] for child in instance)
                assert set(counts) <= set(klass.properties), (classname, set(counts))
                for name, prop in klass.properties.items():
                    if not prop.is_array:
                        assert counts[name] == 1, (namespace, classname, name)
                    elif counts[name] == 0:
                        absent[name] += 1
                for child in instance:
                    if child.get(f"{{{XSI}}}nil") == "true":
                        nil[child.tag.split("}")[1]] += 1
            want_nil = Counter(name for i in expected for name, p in i.properties.items()
                               if p.value is None)
            want_absent = Counter(name for i in expected for name, p in i.properties.items()
                                  if p.is_array and p.value == [])
            assert nil == want_nil, (namespace, classname)
            assert absent == want_absent, (namespace, classname)
            checked_classes += 1
            checked_instances += len(got)
    assert checked_classes >= 30 and checked_instances >= 100


V1 = WMI + "root/virtualization/"


@pytest.mark.parametrize("namespace", ["root/virtualization", "root/nowhere"])
def test_a_missing_namespace_is_a_fault_on_every_operation(server: HvsimServer,
                                                           namespace: str) -> None:
    """The retired v1 namespace (inventory tools try it first) and any other missing one: each
    operation is an HTTP 500 SOAP fault with WinRM's code and MSFT_WmiError (CIM status 3);
    a WQL enumeration carries 2150858778 in both, which is what such tools look for."""
    base = f"{WMI}{namespace}/"
    url = wsman_url(server.url("HV-01"))
    query = ("select BIOSGUID, ElementName from Msvm_VirtualSystemSettingData "
             "where SettingType = 3")
    requests_by_operation = {
        "wql": envelope(url, f"{ENUM}/Enumerate", base + "*",
                        '<wsen:Enumerate><wsman:Filter Dialect="http://schemas.microsoft.com/'
                        f'wbem/wsman/1/WQL">{query}</wsman:Filter></wsen:Enumerate>'),
        "enumerate": envelope(url, f"{ENUM}/Enumerate", base + "Msvm_ComputerSystem",
                              "<wsen:Enumerate/>"),
        "get": envelope(url, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
                        base + "Msvm_ComputerSystem", "",
                        '<wsman:SelectorSet><wsman:Selector Name="Name">HV-01</wsman:Selector>'
                        "</wsman:SelectorSet>"),
        "invoke": summary_request(server, "HV-01", namespace),
    }
    for operation, data in requests_by_operation.items():
        reply = post(server, "HV-01", data)
        assert reply.status_code == 500, (operation, reply.text)
        fault = ET.fromstring(reply.content)
        assert fault.find(f".//{{{SOAP}}}Fault") is not None
        wsman_fault = fault.find(f".//{{{WSMAN_FAULT}}}WSManFault")
        assert wsman_fault is not None
        status = fault.findtext(f".//{{{WMI_ERROR}}}CIMStatusCode")
        assert status == str(CIM_ERR_INVALID_NAMESPACE), operation
        message = fault.findtext(f".//{{{SOAP}}}Reason/{{{SOAP}}}Text") or ""
        assert namespace in message, (operation, message)
        error_code = fault.findtext(f".//{{{WMI_ERROR}}}error_Code")
        assert fault.findtext(f".//{{{WMI_ERROR}}}error_Category") == "10"  # MetadataError
        assert fault.findtext(f".//{{{WMI_ERROR}}}error_WindowsErrorMessage") == message
        if operation == "wql":
            assert wsman_fault.get("Code") == str(CANNOT_PROCESS_FILTER)
            assert error_code == str(CANNOT_PROCESS_FILTER)
            assert "WBEM_E_INVALID_NAMESPACE" in message
        else:
            assert wsman_fault.get("Code") not in (None, "", "0")
            assert error_code not in (None, "", "0")
    # Nothing changed: the host still answers in v2.
    assert states_by_name(post(server, "HV-01", summary_request(server, "HV-01")).content)
