"""The request log of `hvsim serve --log-level debug`: one line per request on `hvsim.requests`
with what was asked and how it ended, over pywbem and pypsrp; nothing at the default level."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import pywbem
import requests
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import SelectorSet, WSMan
from pywbem import CIMInstanceName, Uint8

from tests.support.server import (
    DEMO_SCENARIO,
    TEST_USER,
    VIRTUALIZATION_NAMESPACE,
    WMI_V2,
    HvsimServer,
    wbem_connection,
    wsman_client,
    wsman_url,
)

pytestmark = pytest.mark.e2e
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
MISSING = "00000000-0000-0000-0000-00000000DEAD"
CS = WMI_V2 + "Msvm_ComputerSystem"
MIGRATION_SERVICE = "Msvm_VirtualSystemMigrationService"
LOGGER = " hvsim.requests: "


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO, "log_level": "debug"},
                     workdir=tmp_path_factory.mktemp("request-log-debug")) as started:
        yield started


def vm_path(guid: str) -> CIMInstanceName:
    return CIMInstanceName("Msvm_ComputerSystem", namespace=VIRTUALIZATION_NAMESPACE,
                           keybindings={"CreationClassName": "Msvm_ComputerSystem", "Name": guid})


def request_lines(server: HvsimServer) -> list[str]:
    return [line for line in server.log_text().splitlines() if LOGGER in line]


def logged(server: HvsimServer, *fragments: str, timeout: float = 10.0) -> str:
    """The one request line holding every fragment (the line is written just after the reply
    went out, so it may trail the client by a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in request_lines(server) if all(f in line for f in fragments)]
        if len(found) == 1:
            return found[0]
        assert len(found) < 2, f"{len(found)} lines hold {fragments}:\n" + "\n".join(found)
        if time.monotonic() > deadline:
            pytest.fail(f"no request line holds {fragments}:\n" + "\n".join(
                request_lines(server)))
        time.sleep(0.05)


def selectors(**keys: str) -> SelectorSet:
    selector_set = SelectorSet()
    for name, value in keys.items():
        selector_set.add_option(name, value)
    return selector_set


def migration_service_call(conn: pywbem.WBEMConnection) -> tuple[int, object]:
    (service,) = conn.EnumerateInstanceNames(MIGRATION_SERVICE)
    rc, out = conn.InvokeMethod("CheckSystemCompatibilityInfo", service,
                                CompatibilityInfo=[Uint8(1), Uint8(2), Uint8(3)])
    return int(rc), out


def test_cimxml_get_instance_and_its_failure(debug_server: HvsimServer) -> None:
    conn = wbem_connection(debug_server.url("HV-01"))
    assert conn.GetInstance(vm_path(WEB01))["ElementName"] == "web-01"
    line = logged(debug_server, "op=GetInstance", WEB01)
    assert line.split(LOGGER)[1].startswith("cim-xml HV-01 client=127.0.0.1:")
    for field in (f"user={TEST_USER}", f"ns={VIRTUALIZATION_NAMESPACE}",
                  "class=Msvm_ComputerSystem",
                  f"keys=CreationClassName=Msvm_ComputerSystem,Name={WEB01}", "status=200"):
        assert f" {field} " in line
    assert "cim=" not in line and " ms=" in line

    with pytest.raises(pywbem.CIMError) as info:
        conn.GetInstance(vm_path(MISSING))
    assert info.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    line = logged(debug_server, "op=GetInstance", MISSING)
    assert " status=200 cim=CIM_ERR_NOT_FOUND(6) msg=" in line


def test_cimxml_extrinsic_method_logs_its_return_value(debug_server: HvsimServer) -> None:
    rc, _ = migration_service_call(wbem_connection(debug_server.url("HV-02")))
    assert rc != 0
    line = logged(debug_server, "cim-xml HV-02", "op=CheckSystemCompatibilityInfo")
    assert f" class={MIGRATION_SERVICE} " in line and " keys=" in line
    assert f" status=200 return={rc} " in line


def test_cimxml_refusals_at_the_http_level(debug_server: HvsimServer) -> None:
    conn = pywbem.WBEMConnection(debug_server.url("HV-01"), creds=None,
                                 default_namespace=VIRTUALIZATION_NAMESPACE)
    with pytest.raises(pywbem.Error):
        conn.GetInstance(vm_path(WEB01))
    line = logged(debug_server, "cim-xml HV-01", "status=401")
    assert "op=GetInstance" in line and 'msg="authentication required"' in line
    reply = requests.post(debug_server.url("HV-02") + "/cimom", data=b"<CIM/>",
                          auth=(TEST_USER, "x"), timeout=10,
                          headers={"Content-Type": "application/xml",
                                   "CIMOperation": "MethodCall"})
    assert reply.status_code == 400
    line = logged(debug_server, "cim-xml HV-02", "status=400")
    assert 'msg="header-mismatch: the CIMMethod header is missing"' in line
    assert requests.get(debug_server.url("HV-02") + "/cimom", timeout=10).status_code == 405
    line = logged(debug_server, "cim-xml HV-02", "status=405")
    assert 'msg="only POST is accepted at /cimom"' in line


def test_wsman_get_fault_invoke_and_401(debug_server: HvsimServer) -> None:
    url = debug_server.url("HV-01")
    wsman: WSMan = wsman_client(url)
    body = wsman.get(CS, selector_set=selectors(CreationClassName="Msvm_ComputerSystem",
                                                Name=WEB01))
    assert len(list(body)) == 1
    line = logged(debug_server, "ws-man HV-01", "op=Get", f"Name={WEB01}")
    for field in (f"user={TEST_USER}", f"ns={VIRTUALIZATION_NAMESPACE}", f"resource={CS}",
                  "status=200"):
        assert f" {field} " in line
    assert "fault=" not in line

    with pytest.raises(WSManFaultError):
        wsman.get(CS, selector_set=selectors(ElementName="web-01"))
    line = logged(debug_server, "ws-man HV-01", "op=Get", "keys=ElementName=web-01")
    assert " status=500 fault=w:InvalidSelectors wsman_code=2150858843 msg=" in line

    with pytest.raises(WSManFaultError):
        wsman.get(CS, selector_set=selectors(CreationClassName="Msvm_ComputerSystem",
                                             Name=MISSING))
    line = logged(debug_server, "ws-man HV-01", "op=Get", MISSING)
    assert " fault=a:DestinationUnreachable wsman_code=2150858752 " in line

    service = WMI_V2 + MIGRATION_SERVICE
    (epr,) = _enumerate_eprs(wsman, service)
    keys = selectors(**epr)
    request = ET.fromstring(f'<p:CheckSystemCompatibilityInfo_INPUT xmlns:p="{service}">'
                            "<p:CompatibilityInfo>1</p:CompatibilityInfo>"
                            "</p:CheckSystemCompatibilityInfo_INPUT>")
    reply = wsman.invoke(f"{service}/CheckSystemCompatibilityInfo", service, request,
                         selector_set=keys)
    (value,) = [e.text for e in reply.iter() if e.tag.endswith("}ReturnValue")]
    line = logged(debug_server, "ws-man HV-01", "op=\"Invoke CheckSystemCompatibilityInfo\"")
    assert f" status=200 return={value} " in line and f" resource={service} " in line

    refused = requests.post(wsman_url(url), data=b"<x/>", timeout=10,
                            headers={"Content-Type": "application/soap+xml"})
    assert refused.status_code == 401
    assert " status=401 " in logged(debug_server, "ws-man HV-01", "status=401")
    unsupported = requests.post(wsman_url(url), data=b"<x/>", timeout=10,
                                auth=(TEST_USER, "x"), headers={"Content-Type": "text/plain"})
    assert unsupported.status_code == 415
    line = logged(debug_server, "ws-man HV-01", "status=415")
    assert f" user={TEST_USER} " in line and " fault=w:SchemaValidationError " in line


def test_wsman_sealed_ntlm_request_is_logged_with_its_log_in(debug_server: HvsimServer) -> None:
    wsman: WSMan = wsman_client(debug_server.url("HV-01"), auth="ntlm")
    wsman.get(CS, selector_set=selectors(Name=WEB01))
    line = logged(debug_server, "ws-man HV-01", "op=Get", f"keys=Name={WEB01}")
    assert f" user={TEST_USER} " in line and " status=200 " in line
    # pypsrp's "ntlm" speaks NTLM inside the Negotiate scheme.
    assert logged(debug_server, "ws-man HV-01", 'op="Negotiate log-in"', "status=401")


def _enumerate_eprs(wsman: WSMan, resource_uri: str) -> list[dict[str, str]]:
    """The selectors of every instance of a class, from an EnumerateEPR enumeration."""
    addressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
    wsman_ns = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
    body = ET.fromstring(
        '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
        f'xmlns:wsman="{wsman_ns}"><wsman:OptimizeEnumeration/><wsman:MaxElements>10'
        "</wsman:MaxElements><wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>"
        "</wsen:Enumerate>")
    reply = wsman.enumerate(resource_uri, body)
    return [{s.get("Name", ""): s.text or ""
             for s in epr.iter(f"{{{wsman_ns}}}Selector")}
            for epr in reply.iter(f"{{{addressing}}}EndpointReference")]


def test_nothing_is_logged_at_the_default_level(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    with HvsimServer({"scenario": DEMO_SCENARIO},
                     workdir=tmp_path_factory.mktemp("request-log-info")) as server:
        url = server.url("HV-01")
        conn = wbem_connection(url)
        conn.GetInstance(vm_path(WEB01))
        with pytest.raises(pywbem.CIMError):
            conn.GetInstance(vm_path(MISSING))
        migration_service_call(conn)
        wsman: WSMan = wsman_client(url)
        wsman.get(CS, selector_set=selectors(Name=WEB01))
        with pytest.raises(WSManFaultError):
            wsman.get(CS, selector_set=selectors(ElementName="web-01"))
        assert requests.post(wsman_url(url), data=b"<x/>", timeout=10).status_code == 401
        time.sleep(0.3)
        assert request_lines(server) == []
