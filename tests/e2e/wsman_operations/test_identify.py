"""WS-Management Identify (authenticated, anonymous, refused) and the config resource,
against a live `hvsim serve` with pypsrp's WSMan over Basic."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from pypsrp.wsman import WSMan

from tests.support.server import HvsimServer, wsman_url
from tests.support.wsman_messages import NS, WSMAN_NS

pytestmark = pytest.mark.e2e


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
