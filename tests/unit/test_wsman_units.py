"""Unit tests of the WS-Man front end's pieces: envelope parsing, resource URIs and selectors,
value rendering, method output, enumeration contexts, fault translation, NTLM credentials."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import spnego
from lxml import etree
from pywbem import (
    CIM_ERR_FAILED,
    CIM_ERR_INVALID_CLASS,
    CIM_ERR_INVALID_NAMESPACE,
    CIM_ERR_INVALID_PARAMETER,
    CIM_ERR_INVALID_QUERY,
    CIM_ERR_METHOD_NOT_FOUND,
    CIM_ERR_NOT_FOUND,
    CIM_ERR_NOT_SUPPORTED,
    CIMClass,
    CIMDateTime,
    CIMError,
    CIMInstance,
    CIMInstanceName,
    CIMMethod,
    CIMParameter,
    CIMProperty,
    Uint8,
)

from emulator.core.catalog import Catalog, load_catalog
from emulator.transport.auth import Authenticator
from emulator.wsman import faults, methods, render, resources
from emulator.wsman.cache import Listing
from emulator.wsman.enumeration import Contexts
from emulator.wsman.envelope import EPR, parse_duration, parse_request
from emulator.wsman.faults import WsmanFault
from emulator.wsman.security import Authentication, AuthFailed

V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT20S", 20), ("PT60.000S", 60), ("PT1M30S", 90), ("P1DT1H", 90000), ("PT0.5S", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "20", "PT-1S", "P1H", "soon"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_request_headers_are_read() -> None:
    request = parse_request(
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        b'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
        b'<a:Action mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get'
        b"</a:Action><a:MessageID>uuid:1</a:MessageID><w:ResourceURI>urn:x</w:ResourceURI>"
        b"<w:MaxEnvelopeSize>153600</w:MaxEnvelopeSize><w:OperationTimeout>PT20S"
        b'</w:OperationTimeout><w:OptionSet><w:Option Name="ShowExtensions">true</w:Option>'
        b'</w:OptionSet><w:SelectorSet><w:Selector Name="A">1</w:Selector>'
        b'<w:Selector Name="Ref"><a:EndpointReference><a:Address>x</a:Address>'
        b"<a:ReferenceParameters><w:ResourceURI>urn:y</w:ResourceURI><w:SelectorSet>"
        b'<w:Selector Name="B">2</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        b"</a:EndpointReference></w:Selector></w:SelectorSet></s:Header><s:Body/></s:Envelope>")
    assert request.action.endswith("/Get") and request.message_id == "uuid:1"
    assert request.max_envelope_size == 153600 and request.operation_timeout == 20
    assert request.options == {"ShowExtensions": "true"}
    assert request.selectors == (("A", "1"), ("Ref", EPR("urn:y", (("B", "2"),))))


def test_resource_uris(catalog: Catalog) -> None:
    wmi = resources.resolve(V2 + "msvm_computersystem", (), catalog)
    assert (wmi.kind, wmi.namespace, wmi.classname) == (
        "class", "root/virtualization/v2", "Msvm_ComputerSystem")
    dmtf = resources.resolve("http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_System",
                             (("__cimnamespace", "root/HyperVCluster/v2"),), catalog)
    assert (dmtf.namespace, dmtf.classname) == ("root/HyperVCluster/v2", "CIM_System")
    assert resources.resolve(V2 + "*", (), catalog).kind == "wildcard"
    assert resources.resolve("http://schemas.dmtf.org/wbem/wscim/1/*",
                             (("__cimnamespace", "root/interop"),), catalog).kind == "wildcard"
    assert resources.resolve("http://schemas.microsoft.com/wbem/wsman/1/config", (),
                             catalog).kind == "config"


@pytest.mark.parametrize(("uri", "selectors"), [
    (None, ()),
    ("urn:nothing", ()),
    (V2 + "Msvm_Nothing", ()),
    ("http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/Win32_Service", ()),
    ("http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_Service", ()),  # not in root/cimv2
    (V2 + "Msvm_ComputerSystem", (("__cimnamespace", "root/interop"),)),
    ("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd", ()),
])
def test_unknown_resources_are_faults(catalog: Catalog, uri: str | None,
                                      selectors: tuple[tuple[str, str], ...]) -> None:
    # A missing namespace is WMI's error, which the endpoint translates (faults.from_cim_error).
    with pytest.raises((WsmanFault, CIMError)):
        resources.resolve(uri, selectors, catalog)


@pytest.mark.parametrize(("status", "mnemonic"), [
    (CIM_ERR_INVALID_NAMESPACE, "WBEM_E_INVALID_NAMESPACE"),
    (CIM_ERR_INVALID_CLASS, "WBEM_E_INVALID_CLASS")])
def test_missing_namespace_or_class_in_a_filter_is_the_filters_fault(status: int,
                                                                     mnemonic: str) -> None:
    fault = faults.from_cim_error(CIMError(status, "gone"), filtering=True)
    assert fault.kind is faults.CANNOT_PROCESS_FILTER and mnemonic in fault.message
    rendered = faults.render(fault, None, "HV-01").decode()
    assert 'Code="2150858778"' in rendered
    assert ">2150858778</p:error_Code>" in rendered
    assert 'xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"' in rendered
    # Without a filter they stay the resource URI's fault.
    assert faults.from_cim_error(CIMError(status, "gone")).kind is faults.INVALID_RESOURCE_URI


def test_selectors_to_paths(catalog: Catalog) -> None:
    resource = resources.resolve(V2 + "Msvm_ComputerSystem", (), catalog)
    path = resources.instance_path(resource, (("name", "X"), ("CreationClassName", "C")),
                                   catalog)
    assert path.keybindings == {"Name": "X", "CreationClassName": "C"}
    with pytest.raises(WsmanFault) as info:
        resources.instance_path(resource, (("Name", "X"),), catalog)
    assert info.value.kind is faults.INSUFFICIENT_SELECTORS
    with pytest.raises(WsmanFault) as info:
        resources.instance_path(resource, (("Name", "X"), ("Bogus", "1")), catalog)
    assert info.value.kind is faults.INVALID_SELECTORS
    with pytest.raises(WsmanFault) as info:
        resources.instance_path(resource, (("Name", EPR(V2 + "Msvm_ComputerSystem", ())),),
                                catalog, partial=True)
    assert info.value.kind is faults.SELECTOR_TYPE_MISMATCH


def test_epr_is_self_contained_and_escaped() -> None:
    path = CIMInstanceName("Msvm_X", {"InstanceID": "a<b&c", "Ref": CIMInstanceName(
        "Msvm_Y", {"K": "v"}, namespace="root/virtualization/v2")},
        namespace="root/virtualization/v2")
    text = resources.epr_xml(path, "HV-01", "root/virtualization/v2")
    assert "a&lt;b&amp;c" in text
    assert '<w:SelectorSet xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">' in text
    assert "<a:EndpointReference" in text and V2 + "Msvm_Y" in text


def test_datetimes_and_intervals() -> None:
    moment = datetime(2026, 11, 22, 9, 30, 5, 123456, tzinfo=UTC)
    assert render.datetime_xml(moment) == \
        "<cim:Datetime>2026-11-22T09:30:05.123456Z</cim:Datetime>"
    assert render.datetime_xml(CIMDateTime("00000001020304.000005:000")) == \
        "<cim:Interval>P1DT2H3M4.000005S</cim:Interval>"
    assert render.datetime_xml(timedelta(minutes=5)) == \
        "<cim:Interval>P0DT0H5M0.000000S</cim:Interval>"


def test_values() -> None:
    assert render.element("p", "A", None, "string", False, "h", "n") == '<p:A xsi:nil="true"/>'
    assert render.element("p", "A", [1, None], "uint8", True, "h", "n") == \
        '<p:A>1</p:A><p:A xsi:nil="true"/>'
    assert render.element("p", "B", True, "boolean", False, "h", "n") == "<p:B>true</p:B>"
    assert render.element("p", "S", "<&>", "string", False, "h", "n") == \
        "<p:S>&lt;&amp;&gt;</p:S>"


def test_method_output_in_wmi_order() -> None:
    method = CIMMethod("Migrate", "uint32", parameters={
        "Job": CIMParameter("Job", "reference", reference_class="CIM_ConcreteJob"),
        "Info": CIMParameter("Info", "uint8", is_array=True),
        "Error": CIMParameter("Error", "string")})
    job = CIMInstanceName("Msvm_MigrationJob", {"InstanceID": "J1"},
                          namespace="root/virtualization/v2", host="HV-01")
    error = CIMInstance("Msvm_Error", properties={"Message": "m"})
    text = methods.write_output(method, "Msvm_VirtualSystemMigrationService",
                                "root/virtualization/v2", "HV-01", 4096,
                                {"Job": job, "Info": [Uint8(1), Uint8(2)], "Error": error})
    order = [text.index(f"<p:{n}>") for n in ("Error", "Info", "Job", "ReturnValue")]
    assert order == sorted(order)
    assert "<p:Info>1</p:Info><p:Info>2</p:Info>" in text
    assert "&lt;INSTANCE CLASSNAME=&quot;Msvm_Error&quot;&gt;" in text \
        or "&lt;INSTANCE CLASSNAME=\"Msvm_Error\"&gt;" in text
    assert '<w:Selector Name="InstanceID">J1</w:Selector>' in text


def test_octet_strings_are_one_base64_element_and_plain_uint8_arrays_repeat(
        catalog: Catalog) -> None:
    """DSP0230 maps an OctetString uint8 array to base64Binary: GetVirtualSystemThumbnailImage's
    ImageData out, and any such input; CompatibilityInfo (plain uint8[]) stays per byte."""
    ns = "root/virtualization/v2"
    vsms = catalog.get_class(ns, "Msvm_VirtualSystemManagementService")
    thumbnail = vsms.methods["GetVirtualSystemThumbnailImage"]
    text = methods.write_output(thumbnail, vsms.classname, ns, "HV-01", 0,
                                {"ImageData": [Uint8(b) for b in b"\x00\xf8\x1f\x00"]})
    assert "<p:ImageData>APgfAA==</p:ImageData>" in text and text.count("<p:ImageData>") == 1
    migration = catalog.get_class(ns, "Msvm_VirtualSystemMigrationService")
    info = next(m for m in migration.methods.values() if "CompatibilityInfo" in m.parameters)
    text = methods.write_output(info, migration.classname, ns, "HV-01", 0,
                                {"CompatibilityInfo": [Uint8(1), Uint8(2)]})
    assert "<p:CompatibilityInfo>1</p:CompatibilityInfo><p:CompatibilityInfo>2<" in text

    octets = CIMMethod("Load", "uint32", parameters={"Data": CIMParameter(
        "Data", "uint8", is_array=True, qualifiers={"OctetString": True})})
    body = etree.fromstring(
        '<p:Load_INPUT xmlns:p="urn:x"><p:Data>AQID\n/w==</p:Data></p:Load_INPUT>')
    assert methods.read_input(body, octets, lambda epr: CIMInstanceName("X")) == {
        "Data": [1, 2, 3, 255]}
    body = etree.fromstring('<p:Load_INPUT xmlns:p="urn:x"><p:Data>1</p:Data></p:Load_INPUT>')
    with pytest.raises(WsmanFault, match="base64"):
        methods.read_input(body, octets, lambda epr: CIMInstanceName("X"))


def test_an_instance_has_every_property_nil_for_null_and_nothing_for_an_empty_array() -> None:
    klass = CIMClass("Msvm_X", properties={
        "A": CIMProperty("A", None, type="string"),
        "b": CIMProperty("b", None, type="string", is_array=True),
        "C": CIMProperty("C", None, type="uint16", is_array=True)})
    text = render.instance_body("Msvm_X", render.class_specs(klass), {"b": [], "C": None},
                                None, "HV-01", "root/virtualization/v2")
    assert text.startswith(f'<p:Msvm_X xmlns:p="{V2}Msvm_X" ')
    assert 'xsi:type="p:Msvm_X_Type">' in text
    # WMI's order (case-insensitive); the empty array b is no element at all (a client that
    # counts elements must see zero), the NULL array C is nil.
    assert text.endswith('<p:A xsi:nil="true"/><p:C xsi:nil="true"/></p:Msvm_X>')


def test_embedded_objects_nest_in_their_own_class_namespace(catalog: Catalog) -> None:
    """GetSummaryInformation's output as WinRM writes WMI objects: nested elements, every
    property of the class, an object inside an object with its own prefix; a string that
    carries an embedded instance (GetErrorEx's Errors) stays escaped CIM-XML text."""
    ns = "root/virtualization/v2"
    vsms = catalog.get_class(ns, "Msvm_VirtualSystemManagementService")
    job = CIMInstance("Msvm_MigrationJob", properties={"InstanceID": "J1", "JobState": Uint8(4)})
    summary = CIMInstance("Msvm_SummaryInformation", properties={
        "ElementName": "web-01", "EnabledState": Uint8(2), "AsynchronousTasks": [job],
        "Snapshots": CIMProperty("Snapshots", [], type="string", is_array=True)})

    def class_of(name: str) -> CIMClass | None:
        return catalog.get_class(ns, name) if catalog.has_class(ns, name) else None

    text = methods.write_output(vsms.methods["GetSummaryInformation"],
                                "Msvm_VirtualSystemManagementService", ns, "HV-01", 0,
                                {"SummaryInformation": [summary]}, class_of)
    root = ET.fromstring(text)
    vsms_uri, si_uri = V2 + "Msvm_VirtualSystemManagementService", V2 + "Msvm_SummaryInformation"
    (item,) = root.iterfind(f"{{{vsms_uri}}}SummaryInformation")
    assert item.get(XSI + "type") == "p1:Msvm_SummaryInformation_Type"
    assert 'xmlns:p1="' + si_uri + '"' in text
    assert item.findtext(f"{{{si_uri}}}ElementName") == "web-01"
    names = [child.tag.split("}")[1] for child in item]
    declared = catalog.get_class(ns, "Msvm_SummaryInformation").properties
    assert names == sorted(names, key=str.lower)
    assert set(names) == {n for n in declared if n != "Snapshots"}  # [] is no element
    assert item.find(f"{{{si_uri}}}Notes").get(XSI + "nil") == "true"  # type: ignore[union-attr]
    (task,) = item.iterfind(f"{{{si_uri}}}AsynchronousTasks")
    job_uri = V2 + "Msvm_MigrationJob"
    assert task.get(XSI + "type") == "p2:Msvm_MigrationJob_Type"
    assert task.findtext(f"{{{job_uri}}}InstanceID") == "J1"
    assert len(list(task)) == len(catalog.get_class(ns, "Msvm_MigrationJob").properties)
    # GetErrorEx's Errors[] is a string array in WMI: text, not elements.
    get_error_ex = catalog.get_class(ns, "Msvm_MigrationJob").methods["GetErrorEx"]
    error = CIMInstance("Msvm_Error", properties={"Message": "m"})
    text = methods.write_output(get_error_ex, "Msvm_MigrationJob", ns, "HV-01", 0,
                                {"Errors": [error]}, class_of)
    (errors,) = ET.fromstring(text).iterfind(f"{{{job_uri}}}Errors")
    assert len(errors) == 0 and (errors.text or "").startswith('<INSTANCE CLASSNAME="Msvm_Error"')


def _results(count: int, size: int) -> Listing:
    return Listing(["x" * size] * count, [size] * count)


def test_enumeration_pages_and_expiry() -> None:
    now = [1000.0]
    contexts = Contexts(timeout=10, clock=lambda: now[0])
    context = contexts.open("HV-01", "urn:x", _results(5, 100))
    page = contexts.next_page(context, 2, 10_000)
    assert len(page.items) == 2 and not page.end_of_sequence
    page = contexts.next_page(context, 10, 250)  # the budget holds two items
    assert len(page.items) == 2 and not page.end_of_sequence
    with pytest.raises(WsmanFault):  # another endpoint's context
        contexts.find(context.id, "HV-02")
    now[0] += 11
    with pytest.raises(WsmanFault) as info:
        contexts.find(context.id, "HV-01")
    assert "expired" in info.value.message
    big = contexts.open("HV-01", "urn:x", _results(1, 1000))
    with pytest.raises(WsmanFault) as info:
        contexts.next_page(big, 1, 500)
    assert info.value.kind is faults.MAX_ENVELOPE_SIZE_EXCEEDED
    done = contexts.open("HV-01", "urn:x", _results(1, 10))
    assert contexts.next_page(done, 5, 1000).end_of_sequence
    with pytest.raises(WsmanFault):
        contexts.find(done.id, "HV-01")


@pytest.mark.parametrize(("status", "kind"), [
    (CIM_ERR_NOT_FOUND, faults.RESOURCE_NOT_FOUND),
    (CIM_ERR_INVALID_CLASS, faults.INVALID_RESOURCE_URI),
    (CIM_ERR_INVALID_PARAMETER, faults.INVALID_PARAMETER),
    (CIM_ERR_INVALID_QUERY, faults.CANNOT_PROCESS_FILTER),
    (CIM_ERR_METHOD_NOT_FOUND, faults.ACTION_NOT_SUPPORTED),
    (CIM_ERR_NOT_SUPPORTED, faults.INTERNAL_ERROR),
    (CIM_ERR_FAILED, faults.INTERNAL_ERROR),
])
def test_cim_errors_become_winrm_faults(status: int, kind: faults.FaultKind) -> None:
    fault = faults.from_cim_error(CIMError(status, "detail text"))
    assert fault.kind is kind
    assert "detail text" in fault.message
    rendered = faults.render(fault, "uuid:9", "HV-01").decode()
    assert "<a:RelatesTo>uuid:9</a:RelatesTo>" in rendered
    assert "MSFT_WmiError" in rendered and f">{status}</p:CIMStatusCode>" in rendered


def test_invalid_parameter_while_filtering_is_the_filters_fault() -> None:
    fault = faults.from_cim_error(CIMError(CIM_ERR_INVALID_PARAMETER, "x"), filtering=True)
    assert fault.kind is faults.CANNOT_PROCESS_FILTER


def _ntlm(auth: Authentication, user: str, password: str) -> None:
    client = spnego.client(user, password, protocol="ntlm")
    context, challenge = auth.step(None, "NTLM", base64.b64encode(client.step() or b"").decode())
    context, _ = auth.step(context, "NTLM",
                           base64.b64encode(client.step(challenge) or b"").decode())
    assert context.complete


def test_ntlm_credentials_come_from_the_users_file() -> None:
    strict = Authentication(Authenticator({"alice": "pw-1"}))
    _ntlm(strict, "DOMAIN\\Alice", "pw-1")
    for user, password in (("alice", "wrong"), ("bob", "pw-1")):
        with pytest.raises(AuthFailed):
            _ntlm(strict, user, password)
    sandbox = Authentication(Authenticator(None), "sandbox-pw")
    _ntlm(sandbox, "anyone", "sandbox-pw")
    with pytest.raises(AuthFailed):
        _ntlm(sandbox, "anyone", "other")


def test_basic_credentials() -> None:
    strict = Authentication(Authenticator({"alice": "pw:1"}))
    assert strict.basic(base64.b64encode(b"alice:pw:1").decode()) == "alice"
    for token in ("!!", base64.b64encode(b"alice").decode(),
                  base64.b64encode(b"alice:nope").decode()):
        with pytest.raises(AuthFailed):
            strict.basic(token)
