"""Hypothesis tests of the WS-Man front end: random and mutated envelopes never crash it or get
anything but a reply or a WinRM fault; NTLM sealing round-trips every payload, and a sealed
message changed in any byte is refused rather than opened to something else."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import spnego
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Message

from emulator.app import Runtime, Settings, create_app, open_world
from emulator.setup.scenario import demo_scenario
from emulator.transport.auth import Authenticator
from emulator.wsman.envelope import parse_request
from emulator.wsman.faults import WsmanFault
from emulator.wsman.security import (
    ENCRYPTED_CONTENT_TYPE,
    Authentication,
    SealError,
    SecurityContext,
    seal,
    unseal,
)

PASSWORD = "Hvsim-NTLM-1"
FAULT_NS = "{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}"
SOAP_NS = "{http://www.w3.org/2003/05/soap-envelope}"
INTERNAL_ERROR = 0x80338003
V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
HEADER = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
    'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
    '<wsa:Action s:mustUnderstand="true">{action}</wsa:Action>'
    "<wsa:MessageID>uuid:1234</wsa:MessageID>"
    '<wsman:ResourceURI s:mustUnderstand="true">{uri}</wsman:ResourceURI>'
    "<wsman:MaxEnvelopeSize>153600</wsman:MaxEnvelopeSize>"
    "<wsman:OperationTimeout>PT20S</wsman:OperationTimeout>{selectors}</s:Header>"
    "<s:Body>{body}</s:Body></s:Envelope>")
VM_SELECTORS = ('<wsman:SelectorSet><wsman:Selector Name="CreationClassName">'
                'Msvm_ComputerSystem</wsman:Selector><wsman:Selector Name="Name">'
                "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D</wsman:Selector></wsman:SelectorSet>")
ENUMERATE = ("<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>5"
             "</wsman:MaxElements>{filter}</wsen:Enumerate>")
REQUESTS = {
    "get": HEADER.format(action="http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
                         uri=V2 + "Msvm_ComputerSystem", selectors=VM_SELECTORS, body=""),
    "enumerate": HEADER.format(action="http://schemas.xmlsoap.org/ws/2004/09/enumeration/"
                                      "Enumerate", uri=V2 + "Msvm_ComputerSystem", selectors="",
                               body=ENUMERATE.format(filter="")),
    "wql": HEADER.format(action="http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
                         uri=V2 + "*", selectors="", body=ENUMERATE.format(
                             filter='<wsman:Filter Dialect="http://schemas.microsoft.com/wbem/'
                                    'wsman/1/WQL">SELECT * FROM Msvm_ComputerSystem WHERE '
                                    "EnabledState = 2</wsman:Filter>")),
    "invoke": HEADER.format(
        action=V2 + "Msvm_VirtualSystemMigrationService/CheckSystemCompatibilityInfo",
        uri=V2 + "Msvm_VirtualSystemMigrationService",
        selectors='<wsman:SelectorSet><wsman:Selector Name="Name">migrationwmi</wsman:Selector>'
                  "</wsman:SelectorSet>",
        body=f'<p:CheckSystemCompatibilityInfo_INPUT xmlns:p="{V2}Msvm_VirtualSystemMigration'
             'Service"><p:CompatibilityInfo>1</p:CompatibilityInfo>'
             "</p:CheckSystemCompatibilityInfo_INPUT>"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    path = tmp_path_factory.mktemp("wsman-fuzz") / "fuzz.db"
    world = open_world(Settings(database_url=f"sqlite:///{path}", scenario=demo_scenario()))
    yield world
    world.store.dispose()


def post(world: Runtime, payload: bytes) -> tuple[int, bytes]:
    app = create_app(Settings(), world)
    headers = [(b"content-type", b"application/soap+xml;charset=UTF-8"),
               (b"authorization", b"Basic dTpw")]
    scope = {"type": "http", "method": "POST", "path": "/wsman", "headers": headers,
             "query_string": b"", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2)}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def check(status: int, reply: bytes) -> ET.Element:
    assert status in (200, 500), (status, reply[:300])
    root = ET.fromstring(reply)
    assert root.tag == f"{SOAP_NS}Envelope"
    if status == 500:
        fault = root.find(f".//{FAULT_NS}WSManFault")
        assert fault is not None
        assert int(fault.get("Code") or 0) != INTERNAL_ERROR, reply[:600]
    return root


def mutate(text: bytes, data: st.DataObject) -> bytes:
    edits = data.draw(st.lists(st.tuples(
        st.sampled_from(["insert", "delete", "replace", "truncate"]),
        st.integers(min_value=0, max_value=max(0, len(text) - 1)),
        st.binary(min_size=1, max_size=8) | st.sampled_from(
            [b"<", b">", b"/", b'"', b"&", b"&amp;", b"<!DOCTYPE x>", b"\x00", b"\xff",
             b"</wsman:Selector>", b"<wsa:EndpointReference>", b"Name", b"PT0S", b"-1",
             b"wsman:", b'mustUnderstand="true"', b"*"])), min_size=1, max_size=4))
    for kind, position, chunk in edits:
        if kind == "insert":
            text = text[:position] + chunk + text[position:]
        elif kind == "delete":
            text = text[:position] + text[position + len(chunk):]
        elif kind == "replace":
            text = text[:position] + chunk + text[position + len(chunk):]
        else:
            text = text[:position]
    return text


@pytest.mark.parametrize("name", list(REQUESTS))
def test_valid_requests_are_answered(world: Runtime, name: str) -> None:
    status, reply = post(world, REQUESTS[name].encode())
    root = check(status, reply)
    assert status == 200, reply[:600]
    assert root.findtext(".//{http://schemas.xmlsoap.org/ws/2004/08/addressing}RelatesTo") \
        == "uuid:1234"


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(list(REQUESTS)), data=st.data())
def test_mutated_requests_get_a_reply_or_a_fault(world: Runtime, name: str,
                                                 data: st.DataObject) -> None:
    check(*post(world, mutate(REQUESTS[name].encode(), data)))


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_the_parser_only_raises_faults(payload: bytes) -> None:
    with contextlib.suppress(WsmanFault):
        parse_request(payload)


# -- NTLM sealing --------------------------------------------------------------------------------


def handshake() -> tuple[spnego.ContextProxy, SecurityContext]:
    auth = Authentication(Authenticator(None), PASSWORD)
    client = spnego.client("user", PASSWORD, protocol="ntlm")
    server, challenge = auth.step(None, "Negotiate",
                                  base64.b64encode(client.step() or b"").decode())
    assert challenge is not None
    server, _ = auth.step(server, "Negotiate",
                          base64.b64encode(client.step(challenge) or b"").decode())
    assert server.complete
    return client, server


def sealed_by(client: spnego.ContextProxy, payload: bytes) -> bytes:
    wrapped = client.wrap_winrm(payload)
    return (b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted"
            b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(payload)).encode() + b"\r\n--Encrypted Boundary\r\n\tContent-Type: "
            b"application/octet-stream\r\n" + len(wrapped.header).to_bytes(4, "little")
            + wrapped.header + wrapped.data + b"--Encrypted Boundary--\r\n")


def opened_by(client: spnego.ContextProxy, body: bytes) -> bytes:
    blob = body.split(b"application/octet-stream\r\n", 1)[1].rsplit(
        b"--Encrypted Boundary--", 1)[0]
    length = int.from_bytes(blob[:4], "little")
    return bytes(client.unwrap_winrm(blob[4:4 + length], blob[4 + length:]))


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=2000), min_size=1, max_size=4))
def test_sealing_round_trips_both_ways(payloads: list[bytes]) -> None:
    client, server = handshake()
    for payload in payloads:
        assert unseal(server, sealed_by(client, payload), ENCRYPTED_CONTENT_TYPE) == payload
        assert opened_by(client, seal(server, payload[::-1])) == payload[::-1]


@settings(max_examples=120, deadline=None)
@given(payload=st.binary(min_size=1, max_size=600), data=st.data())
def test_a_changed_sealed_message_is_refused(payload: bytes, data: st.DataObject) -> None:
    client, server = handshake()
    body = sealed_by(client, payload)
    start = body.index(b"application/octet-stream\r\n") + len(b"application/octet-stream\r\n")
    end = body.rindex(b"--Encrypted Boundary--")
    position = data.draw(st.integers(min_value=start, max_value=end - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    changed = body[:position] + bytes([body[position] ^ flip]) + body[position + 1:]
    with pytest.raises(SealError):
        unseal(server, changed, ENCRYPTED_CONTENT_TYPE)


@settings(max_examples=80, deadline=None)
@given(token=st.binary(max_size=300))
def test_broken_handshake_tokens_are_refused(token: bytes) -> None:
    from emulator.wsman.security import AuthFailed

    auth = Authentication(Authenticator(None), PASSWORD)
    try:
        context, _ = auth.step(None, "Negotiate", base64.b64encode(token).decode())
    except AuthFailed:
        return
    assert not context.complete


def test_operation_timeout_gives_the_timed_out_fault(world: Runtime,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An operation still running when OperationTimeout passes is answered w:TimedOut."""
    import time

    from emulator.wsman import operations

    real = operations.run

    def slow(call: operations.Call) -> operations.Reply:
        time.sleep(0.5)
        return real(call)

    monkeypatch.setattr(operations, "run", slow)
    request = REQUESTS["enumerate"].replace("PT20S", "PT0.1S").encode()
    started = time.monotonic()
    status, reply = post(world, request)
    assert time.monotonic() - started < 0.45
    root = check(status, reply)
    fault = root.find(f".//{FAULT_NS}WSManFault")
    assert status == 500 and fault is not None and fault.get("Code") == str(0x80338029)


def test_a_failure_outside_soap_processing_is_still_a_soap_fault(
        world: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.wsman import app as wsman_app

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(wsman_app.WsmanEndpoint, "process", broken)
    status, reply = post(world, REQUESTS["get"].encode())
    assert status == 500
    fault = ET.fromstring(reply).find(f".//{FAULT_NS}WSManFault")
    assert fault is not None and fault.get("Code") == str(INTERNAL_ERROR)
