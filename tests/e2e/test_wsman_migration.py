"""The live-migration story over WS-Management, once per client: find the VM by WQL, get the
migration service, GetSystemCompatibilityInfo on the source and CheckSystemCompatibilityInfo on
the destination, MigrateVirtualSystemToHost (MigrationType 32768) to HV-02, poll the returned
Msvm_MigrationJob until JobState 7, and see the VM on HV-02 - over WS-Man and over CIM-XML."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol
from xml.sax.saxutils import escape

import pytest
from pypsrp.wsman import SelectorSet

from tests.support.server import (
    DEMO_SCENARIO,
    NTLM_PASSWORD,
    WMI_V2,
    HvsimServer,
    wbem_connection,
    wsman_client,
    wsman_url,
)

pytestmark = pytest.mark.e2e
CS = WMI_V2 + "Msvm_ComputerSystem"
SVC = WMI_V2 + "Msvm_VirtualSystemMigrationService"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
SETTING_DATA = ('<INSTANCE CLASSNAME="Msvm_VirtualSystemMigrationSettingData">'
                '<PROPERTY NAME="MigrationType" TYPE="uint16"><VALUE>32768</VALUE></PROPERTY>'
                '<PROPERTY NAME="TransportType" TYPE="uint16"><VALUE>5</VALUE></PROPERTY>'
                "</INSTANCE>")
FINISHED = {"7", "8", "9", "10", "32768"}


def service_keys(host: str) -> dict[str, str]:
    return {"CreationClassName": "Msvm_VirtualSystemMigrationService", "Name": "migrationwmi",
            "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host}


def epr_children(epr: ET.Element) -> str:
    """The content of an EPR element (Address and ReferenceParameters) as XML text."""
    return "".join(ET.tostring(child, encoding="unicode") for child in epr)


class Client(Protocol):
    def vm_epr(self, host: str, name: str) -> str: ...
    def invoke(self, host: str, method: str, params: str) -> ET.Element: ...
    def get(self, host: str, uri: str, selectors: dict[str, str]) -> ET.Element: ...
    def vm_names(self, host: str) -> set[str]: ...


# -- the clients ---------------------------------------------------------------------------------


def _vm_query(name: str) -> str:
    return f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'"


def _output(reply: ET.Element, method: str) -> ET.Element:
    found = reply.find(f".//{{{SVC}}}{method}_OUTPUT")
    assert found is not None, ET.tostring(reply)
    return found


class Pypsrp:
    def __init__(self, server: HvsimServer, auth: str, encryption: str | None) -> None:
        self.clients = {h: wsman_client(server.url(h), auth=auth, encryption=encryption)
                        for h in server.hosts}

    def vm_epr(self, host: str, name: str) -> str:
        body = ET.fromstring(
            '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
            f'xmlns:wsman="{WSMAN}"><wsman:OptimizeEnumeration/><wsman:MaxElements>10'
            "</wsman:MaxElements><wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>"
            f'<wsman:Filter Dialect="{WQL}">{_vm_query(name)}</wsman:Filter></wsen:Enumerate>')
        reply = self.clients[host].enumerate(WMI_V2 + "*", body)
        (epr,) = reply.iterfind(f".//{{{ADDRESSING}}}EndpointReference")
        return epr_children(epr)

    def invoke(self, host: str, method: str, params: str) -> ET.Element:
        body = ET.fromstring(f'<p:{method}_INPUT xmlns:p="{SVC}">{params}</p:{method}_INPUT>')
        keys = SelectorSet()
        for key, value in service_keys(host).items():
            keys.add_option(key, value)
        reply = self.clients[host].invoke(
            f"{SVC}/{method}", SVC, body, selector_set=keys)
        return _output(reply, method)

    def get(self, host: str, uri: str, selectors: dict[str, str]) -> ET.Element:
        keys = SelectorSet()
        for key, value in selectors.items():
            keys.add_option(key, value)
        body = self.clients[host].get(uri, selector_set=keys)
        return next(iter(body))

    def vm_names(self, host: str) -> set[str]:
        body = ET.fromstring(
            '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
            f'xmlns:wsman="{WSMAN}"><wsman:OptimizeEnumeration/><wsman:MaxElements>100'
            "</wsman:MaxElements></wsen:Enumerate>")
        reply = self.clients[host].enumerate(CS, body)
        return {e.text or "" for e in reply.iterfind(f".//{{{CS}}}ElementName")}


def _envelope(to: str, action: str, uri: str, body: str, selectors: dict[str, str]) -> str:
    keys = "".join(f'<w:Selector Name="{k}">{escape(v)}</w:Selector>'
                   for k, v in selectors.items())
    selector_set = f"<w:SelectorSet>{keys}</w:SelectorSet>" if keys else ""
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:a="{ADDRESSING}" xmlns:w="{WSMAN}" '
        'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><s:Header>'
        f"<a:To>{to}</a:To>"
        f'<w:ResourceURI s:mustUnderstand="true">{uri}</w:ResourceURI>'
        f'<a:ReplyTo><a:Address s:mustUnderstand="true">{ADDRESSING}/role/anonymous'
        "</a:Address></a:ReplyTo>"
        f'<a:Action s:mustUnderstand="true">{action}</a:Action>'
        '<w:MaxEnvelopeSize s:mustUnderstand="true">512000</w:MaxEnvelopeSize>'
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<w:OperationTimeout>PT60S</w:OperationTimeout>{selector_set}</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>")


class Pywinrm:
    """pywinrm's Protocol.send_message with envelopes written by hand, as its users do."""

    def __init__(self, server: HvsimServer, transport: Literal["basic", "ntlm"]) -> None:
        from winrm.protocol import Protocol as WinrmProtocol

        password = NTLM_PASSWORD if transport == "ntlm" else "anything"
        self.urls = {h: wsman_url(server.url(h)) for h in server.hosts}
        self.protocols = {h: WinrmProtocol(url, transport=transport, username="Administrator",
                                           password=password)
                          for h, url in self.urls.items()}

    def _send(self, host: str, action: str, uri: str, body: str,
              selectors: dict[str, str] | None = None) -> ET.Element:
        message = _envelope(self.urls[host], action, uri, body, selectors or {})
        return ET.fromstring(self.protocols[host].send_message(message))

    def _enumerate(self, host: str, uri: str, extra: str) -> ET.Element:
        return self._send(host, "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
                          uri, f"<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>100"
                               f"</w:MaxElements>{extra}</n:Enumerate>")

    def vm_epr(self, host: str, name: str) -> str:
        reply = self._enumerate(host, WMI_V2 + "*",
                                "<w:EnumerationMode>EnumerateEPR</w:EnumerationMode>"
                                f'<w:Filter Dialect="{WQL}">{_vm_query(name)}</w:Filter>')
        (epr,) = reply.iterfind(f".//{{{ADDRESSING}}}EndpointReference")
        return epr_children(epr)

    def invoke(self, host: str, method: str, params: str) -> ET.Element:
        body = f'<p:{method}_INPUT xmlns:p="{SVC}">{params}</p:{method}_INPUT>'
        return _output(self._send(host, f"{SVC}/{method}", SVC, body, service_keys(host)),
                       method)

    def get(self, host: str, uri: str, selectors: dict[str, str]) -> ET.Element:
        reply = self._send(host, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", uri, "",
                           selectors)
        body = reply.find("{http://www.w3.org/2003/05/soap-envelope}Body")
        assert body is not None
        return next(iter(body))

    def vm_names(self, host: str) -> set[str]:
        reply = self._enumerate(host, CS, "")
        return {e.text or "" for e in reply.iterfind(f".//{{{CS}}}ElementName")}


class Wsl:
    """The wsl CLI: EPRs and long parameters travel through files, as wsl expects."""

    def __init__(self, server: HvsimServer, workdir: Path) -> None:
        if shutil.which("wsl") is None:
            if os.environ.get("CI") == "true":
                pytest.fail("wsl is not installed (Debian package wsl)")
            pytest.skip("wsl is not installed (apt-get install wsl)")
        self.workdir = workdir
        self.server = server
        path = os.environ["PATH"]
        if shutil.which("uuidgen") is None:
            shim = workdir / "bin" / "uuidgen"
            shim.parent.mkdir(parents=True, exist_ok=True)
            shim.write_text(f"#!/bin/sh\nexec {sys.executable} -c "
                            "'import uuid; print(uuid.uuid4())'\n")
            shim.chmod(0o755)
            path = f"{shim.parent}:{path}"
        self.env = {**os.environ, "PATH": path, "WSNOSSL": "true", "WSUSER": "testuser",
                    "WSPASS": "Passw0rd", "IPINTERACTIVE": "0", "KEEPHISTORY": "0",
                    "OUTLEVEL": "1", "HOME": str(workdir)}

    def run(self, host: str, *args: str) -> str:
        env = {**self.env, "WSENDPOINT": self.server.url(host).split("//", 1)[1]}
        for old in self.workdir.glob("response*.xml"):
            old.unlink()
        done = subprocess.run(["wsl", *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False, cwd=self.workdir)
        responses = sorted(self.workdir.glob("response*.xml"), key=lambda p: p.stat().st_mtime)
        assert responses, done.stdout + done.stderr
        return responses[-1].read_text()

    def vm_epr(self, host: str, name: str) -> str:
        reply = self.run(host, "enum", WMI_V2 + "*", "-filter", _vm_query(name), "-dialect", WQL,
                         "-mode", "epr")
        (self.workdir / f"{name}.xml").write_text(reply)
        (_epr,) = ET.fromstring(reply).iterfind(f".//{{{ADDRESSING}}}EndpointReference")
        return f"FILE:{self.workdir / f'{name}.xml'}"

    def invoke(self, host: str, method: str, params: str) -> ET.Element:
        raw = self.workdir / f"{method}.xml"
        raw.write_text(f'<p:{method}_INPUT xmlns:p="{SVC}">{params}</p:{method}_INPUT>')
        return _output(ET.fromstring(self.run(host, "invoke", SVC, method, "-raw", str(raw))),
                       method)

    def get(self, host: str, uri: str, selectors: dict[str, str]) -> ET.Element:
        reply = ET.fromstring(self.run(host, "get", uri,
                                       *(f"{k}={v}" for k, v in selectors.items())))
        body = reply.find("{http://www.w3.org/2003/05/soap-envelope}Body")
        assert body is not None
        return next(iter(body))

    def vm_names(self, host: str) -> set[str]:
        reply = self.run(host, "enum", CS)
        return set(re.findall(r"<p:ElementName>([^<]*)</p:ElementName>", reply))


# -- the story -----------------------------------------------------------------------------------


def _reference(client: Client, epr: str, name: str) -> str:
    """A reference parameter: the EPR content (pypsrp, pywinrm) or, for wsl's -raw body, too."""
    if epr.startswith("FILE:"):
        document = ET.fromstring(Path(epr[5:]).read_text())
        (found,) = document.iterfind(f".//{{{ADDRESSING}}}EndpointReference")
        epr = epr_children(found)
    return f"<p:{name}>{epr}</p:{name}>"


def migrate_story(client: Client, server: HvsimServer, vm: str = "web-01") -> None:
    assert vm in client.vm_names("HV-01")
    epr = client.vm_epr("HV-01", vm)
    info = client.invoke("HV-01", "GetSystemCompatibilityInfo",
                         _reference(client, epr, "ComputerSystem"))
    assert info.findtext(f"{{{SVC}}}ReturnValue") == "0"
    blob = [e.text or "" for e in info.iterfind(f"{{{SVC}}}CompatibilityInfo")]
    assert len(blob) > 8
    checked = client.invoke("HV-02", "CheckSystemCompatibilityInfo",
                            "".join(f"<p:CompatibilityInfo>{b}</p:CompatibilityInfo>"
                                    for b in blob))
    assert checked.findtext(f"{{{SVC}}}ReturnValue") == "0"
    moved = client.invoke("HV-01", "MigrateVirtualSystemToHost",
                          _reference(client, epr, "ComputerSystem")
                          + "<p:DestinationHost>HV-02</p:DestinationHost>"
                          f"<p:MigrationSettingData>{escape(SETTING_DATA)}"
                          "</p:MigrationSettingData>")
    assert moved.findtext(f"{{{SVC}}}ReturnValue") == "4096"
    job = moved.find(f"{{{SVC}}}Job")
    assert job is not None
    job_uri = job.findtext(f".//{{{WSMAN}}}ResourceURI") or ""
    assert job_uri.endswith("/Msvm_MigrationJob")
    selectors = {s.get("Name") or "": s.text or "" for s in job.iterfind(f".//{{{WSMAN}}}Selector")}
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        instance = client.get("HV-01", job_uri, selectors)
        state = instance.findtext(f"{{{job_uri}}}JobState") or ""
        if state in FINISHED:
            break
        time.sleep(0.2)
    assert state == "7", ET.tostring(instance)
    assert instance.findtext(f"{{{job_uri}}}PercentComplete") == "100"
    assert vm in client.vm_names("HV-02")
    assert vm not in client.vm_names("HV-01")
    # The same world over CIM-XML.
    conn = wbem_connection(server.url("HV-02"))
    assert vm in {i["ElementName"] for i in conn.EnumerateInstances("Msvm_ComputerSystem")}


@pytest.fixture
def migration_server(hvsim_server: Callable[..., HvsimServer]) -> HvsimServer:
    server: HvsimServer = hvsim_server(scenario=DEMO_SCENARIO, time_scale=200)
    return server


@pytest.mark.parametrize(("auth", "encryption"), [
    ("basic", None), ("ntlm", "auto"), ("negotiate", "auto")])
def test_migration_with_pypsrp(migration_server: HvsimServer, auth: str,
                               encryption: str | None) -> None:
    migrate_story(Pypsrp(migration_server, auth, encryption), migration_server)


def test_migration_with_unsealed_negotiate_where_allowed(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server: HvsimServer = hvsim_server(scenario=DEMO_SCENARIO, time_scale=200,
                                       allow_unencrypted=True)
    migrate_story(Pypsrp(server, "negotiate", "never"), server)


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_migration_with_pywinrm(migration_server: HvsimServer,
                                transport: Literal["basic", "ntlm"]) -> None:
    migrate_story(Pywinrm(migration_server, transport), migration_server, vm="web-02")


def test_migration_with_wsl(migration_server: HvsimServer, tmp_path: Path) -> None:
    migrate_story(Wsl(migration_server, tmp_path), migration_server)


def test_migration_on_each_database(hvsim_server: Callable[..., HvsimServer],
                                    database_url: str) -> None:
    """pypsrp's defaults (Negotiate, sealed) on SQLite and on PostgreSQL."""
    server: HvsimServer = hvsim_server(scenario=DEMO_SCENARIO, time_scale=200,
                                       database=database_url)
    migrate_story(Pypsrp(server, "negotiate", None), server, vm="web-02")


def test_cancel_a_migration_job_over_wsman(hvsim_server: Callable[..., HvsimServer]) -> None:
    """RequestStateChange(4) on the returned job EPR cancels it (JobState 8)."""
    server: HvsimServer = hvsim_server(scenario=DEMO_SCENARIO)  # real time: the job is slow
    client = Pypsrp(server, "basic", None)
    epr = client.vm_epr("HV-01", "web-01")
    moved = client.invoke("HV-01", "MigrateVirtualSystemToHost",
                          f"<p:ComputerSystem>{epr}</p:ComputerSystem>"
                          "<p:DestinationHost>HV-02</p:DestinationHost>"
                          f"<p:MigrationSettingData>{escape(SETTING_DATA)}"
                          "</p:MigrationSettingData>")
    job = moved.find(f"{{{SVC}}}Job")
    assert job is not None
    job_uri = job.findtext(f".//{{{WSMAN}}}ResourceURI") or ""
    keys = SelectorSet()
    for selector in job.iterfind(f".//{{{WSMAN}}}Selector"):
        keys.add_option(selector.get("Name") or "", selector.text or "")
    wsman = client.clients["HV-01"]
    body = ET.fromstring(f'<p:RequestStateChange_INPUT xmlns:p="{job_uri}">'
                         "<p:RequestedState>4</p:RequestedState></p:RequestStateChange_INPUT>")
    reply = wsman.invoke(f"{job_uri}/RequestStateChange", job_uri, body,
                         selector_set=keys)
    assert reply.findtext(f".//{{{job_uri}}}ReturnValue") in ("0", "4096")
    deadline = time.monotonic() + 30
    state = ""
    while time.monotonic() < deadline:
        state = wsman.get(job_uri, selector_set=keys).findtext(
            f".//{{{job_uri}}}JobState") or ""
        if state in FINISHED:
            break
        time.sleep(0.2)
    assert state == "8"
    assert "web-01" in client.vm_names("HV-01")
