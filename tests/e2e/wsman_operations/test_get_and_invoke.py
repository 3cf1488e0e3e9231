"""WS-Management Get by selectors and by EPR, in every resource URI form, with the faults
WinRM gives; and Invoke returning embedded objects."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import WSMan

from tests.support.server import WMI_V2
from tests.support.wsman_messages import (
    CS,
    INVALID_SELECTORS,
    NS,
    RESOURCE_NOT_FOUND,
    SVC,
    WEB01,
    WSMAN_NS,
    XSI,
    enumerate_all,
    fault_code,
    prop,
    selectors,
)

pytestmark = pytest.mark.e2e


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


def test_get_in_the_cluster_namespace(wsman: WSMan) -> None:
    cluster = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/HyperVCluster/v2/"
    body = wsman.get(cluster + "Msvm_ComputerSystem",
                     selector_set=selectors(CreationClassName="Msvm_ComputerSystem", Name=WEB01))
    assert prop(next(iter(body)), "ElementName") == "web-01"


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
