"""WS-Management Enumerate/Pull/Release in every mode: optimized, paged by envelope size and
MaxCharacters, EPRs, contexts bound to their endpoint, and the options WinRM refuses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import WSMan

from tests.support.server import HvsimServer, wbem_connection, wsman_client
from tests.support.wsman_messages import (
    CS,
    ENUM_NS,
    INVALID_ENUMERATION_CONTEXT,
    NS,
    SVC,
    WSMAN_NS,
    enumerate_all,
    enumerate_body,
    fault_code,
    items,
    prop,
    selectors,
)

pytestmark = pytest.mark.e2e


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
