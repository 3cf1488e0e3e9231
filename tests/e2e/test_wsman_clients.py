"""Real WS-Management clients against a live `hvsim serve`: pypsrp with every authentication
(Basic, NTLM, Negotiate; sealed and plain), pywinrm's Protocol.send_message, the `wsl` CLI, the
HTTPS listener, and the strict users file applied to every scheme."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest
import requests
from pypsrp.exceptions import AuthenticationError
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

from tests.support.server import (
    DEMO_SCENARIO,
    NTLM_PASSWORD,
    WMI_V2,
    HvsimServer,
    wsman_client,
    wsman_url,
)

pytestmark = pytest.mark.e2e
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
CS = WMI_V2 + "Msvm_ComputerSystem"
SVC = WMI_V2 + "Msvm_VirtualSystemMigrationService"
ENUMERATE = ('<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
             'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">'
             "<wsman:OptimizeEnumeration/><wsman:MaxElements>32000</wsman:MaxElements>"
             "</wsen:Enumerate>")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO},
                     workdir=tmp_path_factory.mktemp("wsman-clients")) as started:
        yield started


def vm_names(body: ET.Element) -> set[str]:
    return {e.text or "" for e in body.iterfind(f".//{{{CS}}}ElementName")}


def web01_keys() -> SelectorSet:
    keys = SelectorSet()
    keys.add_option("CreationClassName", "Msvm_ComputerSystem")
    keys.add_option("Name", WEB01)
    return keys


# -- pypsrp --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unencrypted_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO, "allow-unencrypted": True},
                     workdir=tmp_path_factory.mktemp("wsman-unencrypted")) as started:
        yield started


@pytest.mark.parametrize(("auth", "encryption"), [
    ("basic", "never"), ("ntlm", "auto"), ("negotiate", "auto")])
def test_pypsrp_authentication_and_sealing(server: HvsimServer, auth: str,
                                           encryption: str) -> None:
    wsman = wsman_client(server.url("HV-01"), auth=auth, encryption=encryption,
                         user="Administrator")
    check_pypsrp_session(wsman)


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_unsealed_messages_after_ntlm_are_refused_by_default(server: HvsimServer,
                                                             auth: str) -> None:
    """WinRM's AllowUnencrypted=false: a session key over http must seal every message."""
    wsman = wsman_client(server.url("HV-01"), auth=auth, encryption="never",
                         user="Administrator")
    with pytest.raises(AuthenticationError):
        wsman.get(CS, selector_set=web01_keys())
    assert "unencrypted message refused" in server.log_text()


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_unsealed_messages_after_ntlm_with_allow_unencrypted(unencrypted_server: HvsimServer,
                                                             auth: str) -> None:
    wsman = wsman_client(unencrypted_server.url("HV-01"), auth=auth, encryption="never",
                         user="Administrator")
    check_pypsrp_session(wsman)


def check_pypsrp_session(wsman: WSMan) -> None:
    body = wsman.enumerate(CS, ET.fromstring(ENUMERATE))
    assert vm_names(body) == {"HV-01", "web-01", "web-02", "db-01"}
    # Several requests on one authenticated connection.
    for _ in range(3):
        vm = wsman.get(CS, selector_set=web01_keys())
        assert vm_names(vm) == {"web-01"}


def test_ntlm_with_any_user_name_and_domain(server: HvsimServer) -> None:
    wsman = wsman_client(server.url("HV-02"), auth="ntlm", user="LAB\\someone")
    assert "HV-02" in vm_names(wsman.enumerate(CS, ET.fromstring(ENUMERATE)))


def test_ntlm_with_a_wrong_password_is_refused(server: HvsimServer) -> None:
    wsman = wsman_client(server.url("HV-01"), auth="negotiate", password="not-the-password")
    with pytest.raises(AuthenticationError):
        wsman.get(CS, selector_set=web01_keys())


def test_default_pypsrp_settings_work_over_plain_http(server: HvsimServer) -> None:
    """What the README tells a newcomer: WSMan(host, port=..., ssl=False, user, password)."""
    from pypsrp.wsman import WSMan

    base = server.url("HV-01")
    port = int(base.rsplit(":", 1)[1])
    wsman = WSMan("127.0.0.1", port=port, ssl=False, username="me", password=NTLM_PASSWORD)
    wsman.update_max_payload_size()
    assert vm_names(wsman.get(CS, selector_set=web01_keys())) == {"web-01"}


def test_raw_requests_without_authentication_get_401(server: HvsimServer) -> None:
    url = wsman_url(server.url("HV-01"))
    reply = requests.post(url, data=b"<x/>", timeout=10,
                          headers={"Authorization": "Negotiate AAAA"})
    assert reply.status_code == 401
    reply = requests.post(url, data=b"<x/>", timeout=10,
                          headers={"Authorization": "Negotiate !!!not-base64"})
    assert reply.status_code == 401
    reply = requests.post(url, data=b"<x/>", timeout=10, headers={"Authorization": "Digest x"})
    assert reply.status_code == 401
    # A sealed body on a connection that never authenticated.
    reply = requests.post(url, data=b"--Encrypted Boundary\r\n", timeout=10, headers={
        "Content-Type": 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-'
                        'encrypted";boundary="Encrypted Boundary"'})
    assert reply.status_code == 401


# -- pywinrm -------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_pywinrm_send_message(server: HvsimServer, transport: Literal["basic", "ntlm"]) -> None:
    from winrm.protocol import Protocol

    password = NTLM_PASSWORD if transport == "ntlm" else "anything"
    protocol = Protocol(wsman_url(server.url("HV-01")), transport=transport,
                        username="Administrator", password=password)
    message = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><s:Header>'
        f"<a:To>{wsman_url(server.url('HV-01'))}</a:To>"
        f'<w:ResourceURI s:mustUnderstand="true">{CS}</w:ResourceURI>'
        "<a:ReplyTo><a:Address s:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/2004/08/"
        "addressing/role/anonymous</a:Address></a:ReplyTo>"
        '<a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/enumeration/'
        "Enumerate</a:Action>"
        '<w:MaxEnvelopeSize s:mustUnderstand="true">153600</w:MaxEnvelopeSize>'
        "<a:MessageID>uuid:11111111-2222-3333-4444-555555555555</a:MessageID>"
        "<w:OperationTimeout>PT60S</w:OperationTimeout></s:Header><s:Body><n:Enumerate>"
        "<w:OptimizeEnumeration/><w:MaxElements>32000</w:MaxElements></n:Enumerate></s:Body>"
        "</s:Envelope>")
    reply = protocol.send_message(message)
    root = ET.fromstring(reply)
    relates = root.findtext("s:Header/wsa:RelatesTo", namespaces=NAMESPACES)
    assert relates == "uuid:11111111-2222-3333-4444-555555555555"
    assert vm_names(root) == {"HV-01", "web-01", "web-02", "db-01"}


def test_pywinrm_shell_is_refused_like_a_host_without_the_plugin(server: HvsimServer) -> None:
    import winrm
    from winrm.exceptions import WinRMError

    session = winrm.Session(wsman_url(server.url("HV-01")), auth=("u", "p"), transport="basic")
    with pytest.raises(WinRMError) as info:
        session.run_cmd("hostname")
    assert "was not found in the WS-Management catalog" in str(info.value)


# -- wsl -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wsl_env(server: HvsimServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("wsl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wsl is not installed (Debian package wsl)")
        pytest.skip("wsl is not installed (apt-get install wsl)")
    bin_dir = tmp_path_factory.mktemp("wsl-bin")
    if shutil.which("uuidgen") is None:
        # wsl takes its MessageIDs from uuidgen (package uuid-runtime), which wsl does not pull in.
        shim = bin_dir / "uuidgen"
        shim.write_text(f"#!/bin/sh\nexec {sys.executable} -c "
                        "'import uuid; print(uuid.uuid4())'\n")
        shim.chmod(0o755)
    base = server.url("HV-01")
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "WSENDPOINT": base.split("//", 1)[1], "WSNOSSL": "true", "WSUSER": "testuser",
            "WSPASS": "Passw0rd", "IPINTERACTIVE": "0", "KEEPHISTORY": "0", "OUTLEVEL": "1",
            "HOME": str(bin_dir)}


def wsl(env: dict[str, str], *args: str, ok: bool = True) -> str:
    done = subprocess.run(["wsl", *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False, cwd=env["HOME"])
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_wsl_identify_get_enumerate(wsl_env: dict[str, str]) -> None:
    assert "Microsoft Corporation" in wsl(wsl_env, "id", "check")
    got = wsl(wsl_env, "get", CS, "CreationClassName=Msvm_ComputerSystem", f"Name={WEB01}")
    assert "<p:ElementName>web-01</p:ElementName>" in got
    listed = wsl(wsl_env, "enum", CS)
    assert listed.count("<p:ElementName>") == 4
    paged = wsl(wsl_env, "enum", CS, "-opti", "1")  # optimized, then Pulls until the end
    assert paged.count("<p:ElementName>") == 4
    query = "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'"
    queried = wsl(wsl_env, "enum", WMI_V2 + "*", "-filter", query, "-dialect",
                  "http://schemas.microsoft.com/wbem/wsman/1/WQL")
    assert queried.count("<p:ElementName>") == 3
    eprs = wsl(wsl_env, "enum", SVC, "-mode", "epr")
    assert 'Name="SystemName">HV-01<' in eprs


def test_wsl_invoke_copies_the_selector_set_of_an_epr(wsl_env: dict[str, str]) -> None:
    """wsl enumerates EPRs, pastes the first SelectorSet into its request and invokes."""
    out = wsl(wsl_env, "invoke", SVC, "GetSystemCompatibilityInfo",
              f"ComputerSystem={WEB01}", ok=False)
    # The request was namespace-well-formed and reached the method: the answer is either the
    # method's output or a fault about the parameter, never an XML error.
    assert "GetSystemCompatibilityInfo" in out or "WSManFault" in out
    assert "XML is invalid" not in out


# -- HTTPS and the strict users file -------------------------------------------------------------


def test_https_listener_with_a_generated_certificate(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, https=True)
    base = server.url("HV-01")
    assert base.startswith("https://")
    for auth in ("basic", "ntlm"):
        wsman = wsman_client(base, auth=auth)
        assert vm_names(wsman.get(CS, selector_set=web01_keys())) == {"web-01"}


def test_https_with_given_certificate(hvsim_server: Callable[..., HvsimServer],
                                      tmp_path: Path) -> None:
    from emulator.wsman.tls import self_signed

    cert, key = self_signed(tmp_path / "tls", ["HV-01"], "127.0.0.1")
    server = hvsim_server(scenario=DEMO_SCENARIO, https=True, cert=cert, key=key)
    reply = requests.post(wsman_url(server.url("HV-01")), verify=str(cert), timeout=10,
                          data=b"", headers={"Content-Length": "0"})
    assert reply.status_code == 401  # TLS handshake verified against our certificate


def test_users_file_applies_to_every_scheme(hvsim_server: Callable[..., HvsimServer],
                                            tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("alice:Secret-1\n")
    server = hvsim_server(scenario=DEMO_SCENARIO, users=users)
    base = server.url("HV-01")
    for auth in ("basic", "ntlm", "negotiate"):
        good = wsman_client(base, auth=auth, user="alice", password="Secret-1")
        assert vm_names(good.get(CS, selector_set=web01_keys())) == {"web-01"}
        for user, password in (("alice", NTLM_PASSWORD), ("mallory", "Secret-1")):
            bad = wsman_client(base, auth=auth, user=user, password=password)
            with pytest.raises(AuthenticationError):
                bad.get(CS, selector_set=web01_keys())
