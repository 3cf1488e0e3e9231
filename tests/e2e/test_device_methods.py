"""Keyboard input, console thumbnails and the methods hvsim does not emulate, through pywbem and
pypsrp's WSMan against the demo cluster (issue 17 items 3 and 4)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import pywbem
import requests
from PIL import Image
from pypsrp.wsman import SelectorSet, WSMan
from pywbem import CIMInstanceName, Uint8, Uint16, Uint32

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
V2 = "root/virtualization/v2"
KEYBOARD = WMI_V2 + "Msvm_Keyboard"
VSMS = WMI_V2 + "Msvm_VirtualSystemManagementService"
VSSD = WMI_V2 + "Msvm_VirtualSystemSettingData"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
RUNNING_VM, OFF_VM, GEN1_VM = "web-01", "db-01", "legacy-01"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO, "log_level": "debug"},
                     workdir=tmp_path_factory.mktemp("device-methods")) as started:
        yield started


@pytest.fixture(scope="module")
def conn(server: HvsimServer) -> pywbem.WBEMConnection:
    return wbem_connection(server.url("HV-01"), V2)


def vm_named(conn: pywbem.WBEMConnection, name: str) -> pywbem.CIMInstance:
    (vm,) = conn.ExecQuery("WQL", f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'")
    return vm


def keyboard_of(conn: pywbem.WBEMConnection, name: str) -> CIMInstanceName:
    (keyboard,) = conn.AssociatorNames(vm_named(conn, name).path, AssocClass="Msvm_SystemDevice",
                                       ResultClass="Msvm_Keyboard")
    return keyboard


def settings_of(conn: pywbem.WBEMConnection, name: str) -> CIMInstanceName:
    (vssd,) = conn.AssociatorNames(vm_named(conn, name).path,
                                   AssocClass="Msvm_SettingsDefineState",
                                   ResultClass="Msvm_VirtualSystemSettingData")
    return vssd


def service(conn: pywbem.WBEMConnection) -> CIMInstanceName:
    (path,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")
    return path


def thumbnail(conn: pywbem.WBEMConnection, name: str, width: int, height: int
              ) -> tuple[int, bytes]:
    rv, out = conn.InvokeMethod("GetVirtualSystemThumbnailImage", service(conn),
                                TargetSystem=settings_of(conn, name), WidthPixels=Uint16(width),
                                HeightPixels=Uint16(height))
    return int(rv), bytes(out.get("ImageData") or [])


def rgb_image(data: bytes, width: int, height: int) -> Image.Image:
    """Raw RGB 565 little-endian, decoded by Pillow."""
    return Image.frombytes("RGB", (width, height), data, "raw", "BGR;16")


def is_key_pressed(conn: pywbem.WBEMConnection, keyboard: CIMInstanceName, code: int) -> str:
    """keyState as the reply writes it: pywbem 1.9.1 reads every boolean output as True
    (cimvalue("false", "boolean") is True), so the test reads the reply itself."""
    rv, _ = conn.InvokeMethod("IsKeyPressed", keyboard, keyCode=Uint32(code))
    assert rv == 0
    reply = ET.fromstring(conn.last_raw_reply or b"")
    return reply.findtext(".//PARAMVALUE[@NAME='keyState']/VALUE") or ""


def test_keyboard_input_to_a_running_vm_is_accepted_and_recorded(
        server: HvsimServer, conn: pywbem.WBEMConnection) -> None:
    keyboard = keyboard_of(conn, RUNNING_VM)
    _, before = thumbnail(conn, RUNNING_VM, 320, 240)
    assert conn.InvokeMethod("TypeText", keyboard, asciiText="uname -a\n")[0] == 0
    assert conn.InvokeMethod("TypeKey", keyboard, keyCode=Uint32(0x4C))[0] == 0  # L
    assert conn.InvokeMethod("TypeScancodes", keyboard,
                             Scancodes=[Uint8(0x26), Uint8(0xA6)])[0] == 0  # l, make and break
    assert conn.InvokeMethod("PressKey", keyboard, keyCode=Uint32(0x10))[0] == 0  # Shift
    assert is_key_pressed(conn, keyboard, 0xA0) == "TRUE"  # the left Shift
    assert is_key_pressed(conn, keyboard, 0x10) == "FALSE"  # never the generic one
    assert conn.InvokeMethod("ReleaseKey", keyboard, keyCode=Uint32(0x10))[0] == 0
    assert is_key_pressed(conn, keyboard, 0xA0) == "FALSE"
    assert conn.InvokeMethod("TypeCtrlAltDel", keyboard)[0] == 0
    # The record is in the store: the console in the thumbnail shows what was typed ...
    _, after = thumbnail(conn, RUNNING_VM, 320, 240)
    assert after != before
    # ... and the server's debug log names each input.
    log = server.log_path.read_text(errors="replace")
    assert f"{RUNNING_VM} " in log and "TypeText 'uname -a\\n'" in log
    assert "TypeKey L" in log and "TypeScancodes 26 A6" in log and "Ctrl+Alt+Del" in log


@pytest.mark.parametrize(("method", "params", "expected"), [
    ("TypeText", {"asciiText": "hello"}, 32775),  # the VM is off: invalid state
    ("TypeKey", {"keyCode": Uint32(0x41)}, 32775),
    ("TypeCtrlAltDel", {}, 32775),
])
def test_keyboard_input_to_a_vm_that_is_off_is_refused(conn: pywbem.WBEMConnection, method: str,
                                                       params: dict[str, object],
                                                       expected: int) -> None:
    assert conn.InvokeMethod(method, keyboard_of(conn, OFF_VM), **params)[0] == expected


@pytest.mark.parametrize(("method", "params", "expected"), [
    ("TypeKey", {"keyCode": Uint32(0)}, 32773),  # not a virtual-key code
    ("PressKey", {"keyCode": Uint32(300)}, 32773),
    ("TypeKey", {}, 32773),
    ("TypeScancodes", {"Scancodes": []}, 32773),
    ("TypeText", {"asciiText": "caf\u00e9"}, 1),  # TypeText's "non-translatable characters"
])
def test_bad_keyboard_input_is_refused(conn: pywbem.WBEMConnection, method: str,
                                       params: dict[str, object], expected: int) -> None:
    assert conn.InvokeMethod(method, keyboard_of(conn, RUNNING_VM), **params)[0] == expected


def test_a_thumbnail_decodes_to_an_image_of_the_asked_size(conn: pywbem.WBEMConnection,
                                                           tmp_path: Path) -> None:
    rv, data = thumbnail(conn, RUNNING_VM, 320, 240)
    assert rv == 0 and len(data) == 320 * 240 * 2
    image = rgb_image(data, 320, 240)
    image.save(tmp_path / "web-01.png")
    assert image.size == (320, 240)
    assert len(image.getcolors(320 * 240) or []) > 2  # text on a background, not one colour
    rv, data = thumbnail(conn, RUNNING_VM, 80, 60)
    assert rv == 0 and rgb_image(data, 80, 60).size == (80, 60)


def test_a_vm_that_is_off_shows_a_black_thumbnail(conn: pywbem.WBEMConnection) -> None:
    rv, data = thumbnail(conn, OFF_VM, 160, 120)
    assert rv == 0 and data == bytes(160 * 120 * 2)


@pytest.mark.parametrize(("width", "height"), [(0, 240), (320, 0), (1025, 768), (65535, 65535)])
def test_thumbnail_sizes_beyond_the_screen_are_invalid(conn: pywbem.WBEMConnection, width: int,
                                                       height: int) -> None:
    assert thumbnail(conn, RUNNING_VM, width, height) == (32773, b"")


def test_a_thumbnail_of_something_else_than_vm_settings_is_invalid(
        conn: pywbem.WBEMConnection) -> None:
    rv, _ = conn.InvokeMethod("GetVirtualSystemThumbnailImage", service(conn),
                              TargetSystem=vm_named(conn, RUNNING_VM).path,
                              WidthPixels=Uint16(80), HeightPixels=Uint16(60))
    assert rv == 32773


def test_unemulated_methods_answer_their_not_supported_code(conn: pywbem.WBEMConnection) -> None:
    vm = vm_named(conn, RUNNING_VM).path
    assert conn.InvokeMethod("InjectNonMaskableInterrupt", vm)[0] == 32770
    (switch_service,) = conn.EnumerateInstanceNames("Msvm_VirtualEthernetSwitchManagementService")
    assert conn.InvokeMethod("DestroySystem", switch_service)[0] == 1  # the DMTF list
    (processor,) = conn.AssociatorNames(vm, AssocClass="Msvm_SystemDevice",
                                        ResultClass="Msvm_Processor")
    assert conn.InvokeMethod("RequestStateChange", processor,
                             RequestedState=Uint16(1))[0] == 5  # not in the value map


def test_methods_a_server_2019_host_declares_answer_not_supported(
        conn: pywbem.WBEMConnection) -> None:
    vm = vm_named(conn, RUNNING_VM).path
    vsms = service(conn)
    kvp = '<INSTANCE CLASSNAME="Msvm_KvpExchangeDataItem"></INSTANCE>'
    assert conn.InvokeMethod("AddKvpItems", vsms, TargetSystem=vm, DataItems=[kvp])[0] == 32770
    assert conn.InvokeMethod("RequestReplicationStateChangeEx", vm,
                             RequestedState=Uint16(3))[0] == 32770
    assert conn.InvokeMethod("UpgradeSystemVersion", vsms, ComputerSystem=vm)[0] == 1
    assert conn.InvokeMethod("GenerateWwpn", vsms, NumberOfWwpns=Uint32(2))[0] == 1
    (processor,) = conn.AssociatorNames(vm, AssocClass="Msvm_SystemDevice",
                                        ResultClass="Msvm_Processor")
    assert conn.InvokeMethod("Reset", processor)[0] == 1  # CIM_LogicalDevice: no value map
    # validated first: a reference of the wrong class is an invalid parameter
    (switch_service,) = conn.EnumerateInstanceNames("Msvm_VirtualEthernetSwitchManagementService")
    assert conn.InvokeMethod("TestNetworkConnection", vsms,
                             TargetNetworkAdapter=switch_service)[0] == 4


# -- WS-Management ---------------------------------------------------------------------------


def selectors(path: CIMInstanceName) -> SelectorSet:
    keys = SelectorSet()
    for key, value in path.keybindings.items():
        keys.add_option(key, str(value))
    return keys


def epr(uri: str, path: CIMInstanceName) -> str:
    keys = "".join(f'<w:Selector Name="{k}">{v}</w:Selector>' for k, v in path.keybindings.items())
    return (f'<a:Address xmlns:a="{ADDRESSING}">{ADDRESSING}/role/anonymous</a:Address>'
            f'<a:ReferenceParameters xmlns:a="{ADDRESSING}" xmlns:w="{WSMAN}">'
            f"<w:ResourceURI>{uri}</w:ResourceURI><w:SelectorSet>{keys}</w:SelectorSet>"
            "</a:ReferenceParameters>")


def test_keyboard_and_thumbnail_over_ws_management(server: HvsimServer,
                                                   conn: pywbem.WBEMConnection,
                                                   tmp_path: Path) -> None:
    wsman = wsman_client(server.url("HV-01"))
    keyboard = keyboard_of(conn, RUNNING_VM)
    body = ET.fromstring(f'<p:TypeText_INPUT xmlns:p="{KEYBOARD}">'
                         "<p:asciiText>dir C:\\</p:asciiText></p:TypeText_INPUT>")
    reply = wsman.invoke(f"{KEYBOARD}/TypeText", KEYBOARD, body, selector_set=selectors(keyboard))
    assert reply.findtext(f".//{{{KEYBOARD}}}ReturnValue") == "0"

    # ImageData is an octet string: one element holding base64 text.
    body = ET.fromstring(
        f'<p:GetVirtualSystemThumbnailImage_INPUT xmlns:p="{VSMS}">'
        f"<p:TargetSystem>{epr(VSSD, settings_of(conn, RUNNING_VM))}</p:TargetSystem>"
        "<p:WidthPixels>48</p:WidthPixels><p:HeightPixels>32</p:HeightPixels>"
        "</p:GetVirtualSystemThumbnailImage_INPUT>")
    reply = wsman.invoke(f"{VSMS}/GetVirtualSystemThumbnailImage", VSMS, body,
                         selector_set=selectors(service(conn)))
    out = reply.find(f".//{{{VSMS}}}GetVirtualSystemThumbnailImage_OUTPUT")
    assert out is not None and out.findtext(f"{{{VSMS}}}ReturnValue") == "0"
    (element,) = out.iterfind(f"{{{VSMS}}}ImageData")
    image = rgb_image(base64.b64decode(element.text or ""), 48, 32)
    image.save(tmp_path / "web-01-wsman.png")
    assert len(image.getcolors(48 * 32) or []) > 2

    vm = vm_named(conn, RUNNING_VM).path
    cs = WMI_V2 + "Msvm_ComputerSystem"
    body = ET.fromstring(f'<p:InjectNonMaskableInterrupt_INPUT xmlns:p="{cs}"/>')
    reply = wsman.invoke(f"{cs}/InjectNonMaskableInterrupt", cs, body, selector_set=selectors(vm))
    assert reply.findtext(f".//{{{cs}}}ReturnValue") == "32770"


def wql(wsman: WSMan, query: str) -> list[ET.Element]:
    """A WQL enumeration as libvirt's driver runs it, answered in the Enumerate reply."""
    body = ET.fromstring(
        f'<n:Enumerate xmlns:n="{ENUMERATION}" xmlns:w="{WSMAN}"><w:OptimizeEnumeration/>'
        f'<w:MaxElements>100</w:MaxElements><w:Filter Dialect="{WQL}">{escape(query)}'
        "</w:Filter></n:Enumerate>")
    items = wsman.enumerate(WMI_V2 + "*", body).find(f".//{{{WSMAN}}}Items")
    return [] if items is None else list(items)


def test_libvirts_screenshot_sequence_reads_the_resolution_then_one_base64_image(
        server: HvsimServer, conn: pywbem.WBEMConnection) -> None:
    wsman = wsman_client(server.url("HV-01"))
    guid = vm_named(conn, RUNNING_VM)["Name"]
    # 1. The display controller by its VM, then its head through Msvm_VideoHeadOnController.
    (display,) = wql(wsman, "SELECT * FROM Msvm_SyntheticDisplayController "
                            f"WHERE SystemName = '{guid}'")
    device_id = display.findtext(f"{{{WMI_V2}Msvm_SyntheticDisplayController}}DeviceID")
    (head,) = wql(wsman, "ASSOCIATORS OF {Msvm_SyntheticDisplayController.CreationClassName="
                         f"'Msvm_SyntheticDisplayController',DeviceID='{device_id}',"
                         "SystemCreationClassName='Msvm_ComputerSystem',"
                         f"SystemName='{guid}'}} WHERE AssocClass = Msvm_VideoHeadOnController "
                         "ResultClass = Msvm_VideoHead")
    ns = f"{{{WMI_V2}Msvm_VideoHead}}"
    assert head.findtext(f"{ns}EnabledState") == "2"
    width = int(head.findtext(f"{ns}CurrentHorizontalResolution") or 0)
    height = int(head.findtext(f"{ns}CurrentVerticalResolution") or 0)
    assert (width, height) == (1024, 768)
    # A generation 1 VM has the emulated S3 controller instead; its head is found alike.
    hv2 = wbem_connection(server.url("HV-02"), V2)
    (s3,) = hv2.AssociatorNames(vm_named(hv2, GEN1_VM).path, AssocClass="Msvm_SystemDevice",
                                ResultClass="Msvm_S3DisplayController")
    assert [h.classname for h in hv2.AssociatorNames(
        s3, AssocClass="Msvm_VideoHeadOnController")] == ["Msvm_VideoHead"]

    # 2. The thumbnail, TargetSystem the VM's settings; ImageData is one base64 element that
    # g_base64_decode turns into RGB 565 pixels. At the head's full 1024x768 the reply (2 MB of
    # base64) is beyond WinRM's MaxEnvelopeSizekb of 500, so the test asks for a quarter.
    body = ET.fromstring(
        f'<p:GetVirtualSystemThumbnailImage_INPUT xmlns:p="{VSMS}">'
        f"<p:WidthPixels>{width // 4}</p:WidthPixels>"
        f"<p:HeightPixels>{height // 4}</p:HeightPixels>"
        f"<p:TargetSystem>{epr(VSSD, settings_of(conn, RUNNING_VM))}</p:TargetSystem>"
        "</p:GetVirtualSystemThumbnailImage_INPUT>")
    reply = wsman.invoke(f"{VSMS}/GetVirtualSystemThumbnailImage", VSMS, body,
                         selector_set=selectors(service(conn)))
    (data,) = reply.iterfind(f".//{{{VSMS}}}GetVirtualSystemThumbnailImage_OUTPUT/"
                             f"{{{VSMS}}}ImageData")
    pixels = base64.b64decode(data.text or "", validate=True)
    assert len(pixels) == (width // 4) * (height // 4) * 2
    assert len(rgb_image(pixels, width // 4, height // 4).getcolors(256 * 192) or []) > 2


def raw_thumbnail_request(url: str, conn: pywbem.WBEMConnection, width: int,
                          height: int) -> bytes:
    """GetVirtualSystemThumbnailImage as libvirt's driver (openwsman) sends it: no
    MaxEnvelopeSize header, so the server's MaxEnvelopeSizekb bounds the reply."""
    keys = "".join(f'<w:Selector Name="{k}">{v}</w:Selector>'
                   for k, v in service(conn).keybindings.items())
    return (
        f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="{ADDRESSING}" '
        f'xmlns:w="{WSMAN}"><s:Header><a:To>{url}</a:To>'
        f"<w:ResourceURI>{VSMS}</w:ResourceURI>"
        f"<a:ReplyTo><a:Address>{ADDRESSING}/role/anonymous</a:Address></a:ReplyTo>"
        f"<a:Action>{VSMS}/GetVirtualSystemThumbnailImage</a:Action>"
        "<a:MessageID>uuid:5A0C5E52-0000-4000-8000-000000000017</a:MessageID>"
        f"<w:SelectorSet>{keys}</w:SelectorSet></s:Header><s:Body>"
        f'<p:GetVirtualSystemThumbnailImage_INPUT xmlns:p="{VSMS}">'
        f"<p:WidthPixels>{width}</p:WidthPixels><p:HeightPixels>{height}</p:HeightPixels>"
        f"<p:TargetSystem>{epr(VSSD, settings_of(conn, RUNNING_VM))}</p:TargetSystem>"
        "</p:GetVirtualSystemThumbnailImage_INPUT></s:Body></s:Envelope>").encode()


@pytest.mark.parametrize("max_envelope_kb", [None, 4096])
def test_a_full_size_screenshot_needs_a_larger_max_envelope_size(
        hvsim_server: Callable[..., HvsimServer], max_envelope_kb: int | None) -> None:
    # At the video head's 1024x768 the reply holds 2 MB of base64: beyond Windows' default
    # MaxEnvelopeSizekb (500), within it once raised (winrm set winrm/config
    # @{MaxEnvelopeSizekb="4096"}, here --max-envelope-kb 4096).
    options: dict[str, Any] = {"scenario": DEMO_SCENARIO}
    if max_envelope_kb:
        options["max_envelope_kb"] = max_envelope_kb
    server = hvsim_server(**options)
    conn = wbem_connection(server.url("HV-01"))
    url = wsman_url(server.url("HV-01"))
    reply = requests.post(url, data=raw_thumbnail_request(url, conn, 1024, 768),
                          auth=(TEST_USER, TEST_PASSWORD), timeout=60,
                          headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    if max_envelope_kb is None:
        assert reply.status_code == 500
        assert b"MaxEnvelopeSize is 512000" in reply.content
        return
    assert reply.status_code == 200, reply.content[:500]
    (data,) = ET.fromstring(reply.content).iterfind(
        f".//{{{VSMS}}}GetVirtualSystemThumbnailImage_OUTPUT/{{{VSMS}}}ImageData")
    assert len(base64.b64decode(data.text or "", validate=True)) == 1024 * 768 * 2
    # The config resource shows the limit, as winrm get winrm/config does.
    config = wsman_client(server.url("HV-01")).get(
        "http://schemas.microsoft.com/wbem/wsman/1/config")
    assert ET.tostring(config, encoding="unicode").count(f">{max_envelope_kb}<") >= 1
