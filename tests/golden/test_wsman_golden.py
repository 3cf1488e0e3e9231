"""Replay the captured requests of real WS-Man clients (see README.md) against a live server and
check what each client needs from the reply: the status, the reply element, wsa:RelatesTo, the
enumeration context protocol and WinRM's fault codes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.server import DEMO_SCENARIO, HvsimServer, wsman_url

pytestmark = pytest.mark.e2e
HERE = Path(__file__).parent / "wsman"
SOAP = "{http://www.w3.org/2003/05/soap-envelope}"
WSA = "{http://schemas.xmlsoap.org/ws/2004/08/addressing}"
ENUM = "{http://schemas.xmlsoap.org/ws/2004/09/enumeration}"
WSMAN = "{http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd}"
FAULT = "{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}"
RENAMES = [(b"HOST-A", b"HV-01"), (b"HOST-B", b"HV-02"), (b">vsms<", b">migrationwmi<")]
SHELL_FAULT = (500, "Fault", 2150858752)
# fixture -> (HTTP status, local name of the first Body child, WSManFault code or None).
# Replayed in this order: a capture's requests follow each other, the migration comes last.
EXPECTED: dict[str, tuple[int, str, int | None]] = {
    "pypsrp__identify__1": (200, "IdentifyResponse", None),
    "wsl__id__1": (200, "IdentifyResponse", None),
    "pypsrp__get-server-config__1": (200, "Config", None),
    "pypsrp__get-selectors__1": (200, "Msvm_ComputerSystem", None),
    "wsl__get__1": (200, "Msvm_ComputerSystem", None),
    "pypsrp__get-fault-invalid-selectors__1": (500, "Fault", 2150858752),
    "pypsrp__get-job-with-optionset__1": (500, "Fault", 2150858752),
    "pypsrp__enumerate-optimized__1": (200, "EnumerateResponse", None),
    "pypsrp__ntlm-encrypted-enumerate__4": (200, "EnumerateResponse", None),
    "pypsrp__enumerate-plain-then-pull__1": (200, "EnumerateResponse", None),
    "pypsrp__enumerate-plain-then-pull__2": (200, "PullResponse", None),
    "pypsrp__enumerate-plain-then-pull__3": (200, "PullResponse", None),
    "pypsrp__enumerate-epr__1": (200, "EnumerateResponse", None),
    "pypsrp__enumerate-object-and-epr__1": (200, "EnumerateResponse", None),
    "pypsrp__enumerate-wql-filter__1": (200, "EnumerateResponse", None),
    "pypsrp__enumerate-dmtf-uri__1": (200, "EnumerateResponse", None),
    "pypsrp__enumerate-association-filter__1": (200, "EnumerateResponse", None),
    "pywinrm__send_message-raw-enumerate__1": (200, "EnumerateResponse", None),
    "pywinrm__run_cmd-basic__1": SHELL_FAULT,
    "pywinrm__run_cmd-basic__2": SHELL_FAULT,
    "pywinrm__run_cmd-basic__3": SHELL_FAULT,
    "pywinrm__run_cmd-basic__4": SHELL_FAULT,
    "pywinrm__run_cmd-basic__5": SHELL_FAULT,
    "wsl__enum__1": (200, "EnumerateResponse", None),
    "wsl__enum-optimized__1": (200, "EnumerateResponse", None),
    "wsl__enum-operationtimeout-maxenvelope__1": (200, "EnumerateResponse", None),
    "wsl__enum-epr__1": (200, "EnumerateResponse", None),
    "wsl__enum-wql-filter__1": (200, "EnumerateResponse", None),
    "wsl__enum-associators__1": (200, "EnumerateResponse", None),
    "wsmancli__enumerate-epr__2": (200, "EnumerateResponse", None),
    "wsmancli__enumerate-epr__3": (200, "PullResponse", None),
    "wsl__invoke__1": (200, "EnumerateResponse", None),
    # wsl passes ComputerSystem=vm as text: not an object path.
    "wsl__invoke__2": (500, "Fault", 2150858810),
    "pypsrp__negotiate-encrypted-invoke__1": (200, "GetSystemCompatibilityInfo_OUTPUT", None),
    "pypsrp__invoke-CheckSystemCompatibilityInfo__1": (
        200, "CheckSystemCompatibilityInfo_OUTPUT", None),
    "pypsrp__invoke-MigrateVirtualSystemToHost__1": (
        200, "MigrateVirtualSystemToHost_OUTPUT", None),
}


def test_every_fixture_has_an_expectation() -> None:
    assert {p.stem for p in HERE.glob("*.xml")} == set(EXPECTED)


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[bytes,
                                                                              requests.Response]]]:
    """Every fixture replayed once, in EXPECTED's order, on one fresh demo cluster."""
    with HvsimServer({"scenario": DEMO_SCENARIO},
                     workdir=tmp_path_factory.mktemp("wsman-golden")) as server:
        url = wsman_url(server.url("HV-01"))
        session = requests.Session()
        results: dict[str, tuple[bytes, requests.Response]] = {}
        contexts: dict[str, str] = {}  # capture -> the context its last reply handed out
        for name in EXPECTED:
            body = (HERE / f"{name}.xml").read_bytes()
            for old, new in RENAMES:
                body = body.replace(old, new)
            capture = name.rsplit("__", 1)[0]
            if capture in contexts:
                body = re.sub(rb"(<wsen:EnumerationContext>)[^<]*(<)",
                              rb"\g<1>" + contexts[capture].encode() + rb"\g<2>", body)
            reply = session.post(url, data=body, auth=("testuser", "Passw0rd!"), timeout=30,
                                 headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
            context = re.search(rb"<n:EnumerationContext>([^<]+)</n:EnumerationContext>",
                                reply.content)
            if context:
                contexts[capture] = context.group(1).decode()
            results[name] = (body, reply)
        yield results


@pytest.mark.parametrize("name", list(EXPECTED))
def test_replayed_request(replies: dict[str, tuple[bytes, requests.Response]],
                          name: str) -> None:
    body, reply = replies[name]
    status, element, code = EXPECTED[name]
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/soap+xml")
    root = ET.fromstring(reply.content)
    first = next(iter(root.find(f"{SOAP}Body") or []))
    assert first.tag.split("}")[1] == element, reply.text
    if code is not None:
        fault = root.find(f".//{FAULT}WSManFault")
        assert fault is not None and int(fault.get("Code") or 0) == code, reply.text
    request = ET.fromstring(body)
    message_id = request.findtext(f"{SOAP}Header/{WSA}MessageID")
    if message_id:  # Identify has no header; every other reply relates to its request
        assert root.findtext(f"{SOAP}Header/{WSA}RelatesTo") == message_id.strip()


def test_enumeration_protocol_as_wsl_reads_it(
        replies: dict[str, tuple[bytes, requests.Response]]) -> None:
    """A finished enumeration answers an empty EnumerationContext and EndOfSequence."""
    for name in ("wsl__enum__1", "wsl__enum-optimized__1", "pypsrp__enumerate-optimized__1"):
        root = ET.fromstring(replies[name][1].content)
        response = root.find(f"{SOAP}Body/{ENUM}EnumerateResponse")
        assert response is not None
        context = response.find(f"{ENUM}EnumerationContext")
        assert context is not None and not (context.text or "").strip()
        assert response.find(f"{WSMAN}EndOfSequence") is not None
        assert len(response.find(f"{WSMAN}Items") or []) == 4


def test_selector_sets_are_self_contained_for_wsl(
        replies: dict[str, tuple[bytes, requests.Response]]) -> None:
    """wsl pastes a reply's SelectorSet lines into its next request: the element must declare
    the prefix it uses."""
    text = replies["wsl__enum-epr__1"][1].text
    selector_sets = re.findall(r"<(\w+):SelectorSet([^>]*)>", text)
    assert selector_sets
    for prefix, attributes in selector_sets:
        assert f"xmlns:{prefix}=" in attributes


def test_migration_reply_carries_the_job_as_an_epr(
        replies: dict[str, tuple[bytes, requests.Response]]) -> None:
    root = ET.fromstring(replies["pypsrp__invoke-MigrateVirtualSystemToHost__1"][1].content)
    output = next(iter(root.find(f"{SOAP}Body") or []))
    uri = output.tag[1:].split("}")[0]
    assert output.findtext(f"{{{uri}}}ReturnValue") == "4096"
    job = output.find(f"{{{uri}}}Job")
    assert job is not None
    assert (job.findtext(f"{WSA}ReferenceParameters/{WSMAN}ResourceURI") or "").endswith(
        "/Msvm_MigrationJob")
    names = {s.get("Name") for s in job.iterfind(f".//{WSMAN}Selector")}
    assert names == {"InstanceID", "__cimnamespace"}
