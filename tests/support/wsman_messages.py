"""Talking WS-Management to hvsim with pypsrp: request bodies, reading replies, and the fault
codes WinRM answers with (ERROR_WSMAN_* HRESULTs, and WMI's for provider errors)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

from tests.support.server import WMI_V2

WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"  # the demo cluster's web-01 on HV-01
CS = WMI_V2 + "Msvm_ComputerSystem"
SVC = WMI_V2 + "Msvm_VirtualSystemMigrationService"
ENUM_NS = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN_NS = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS = {**NAMESPACES, "cs": CS, "svc": SVC}
V1_WILDCARD = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/*"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
WMI_ERROR = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
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


def association_filter(kind: str, extra: str) -> str:
    """A cim-binding association filter of `kind` around HV-01's migration service."""
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
