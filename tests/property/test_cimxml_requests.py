"""Random and mutated CIM-XML requests never produce a 500, a crash or a malformed reply."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pywbem._tupleparse import TupleParser
from pywbem._tupletree import xml_to_tupletree_sax
from starlette.types import Message

from emulator.app import Runtime, Settings, create_app, open_world
from emulator.setup.scenario import demo_scenario

NS = ('<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virtualization"/>'
      '<NAMESPACE NAME="v2"/></LOCALNAMESPACEPATH>')
VM = ('<INSTANCENAME CLASSNAME="Msvm_ComputerSystem"><KEYBINDING NAME="CreationClassName">'
      '<KEYVALUE VALUETYPE="string">Msvm_ComputerSystem</KEYVALUE></KEYBINDING>'
      '<KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string">5C3A1E2B-7D4F-4A8B-9C0D-'
      "1E2F3A4B5C6D</KEYVALUE></KEYBINDING></INSTANCENAME>")
CALLS = {
    "GetInstance": f'<IPARAMVALUE NAME="InstanceName">{VM}</IPARAMVALUE>',
    "EnumerateInstances": '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="Msvm_ComputerSystem"/>'
                          '</IPARAMVALUE><IPARAMVALUE NAME="DeepInheritance"><VALUE>TRUE</VALUE>'
                          "</IPARAMVALUE>",
    "Associators": f'<IPARAMVALUE NAME="ObjectName">{VM}</IPARAMVALUE>'
                   '<IPARAMVALUE NAME="ResultClass"><CLASSNAME NAME="CIM_SettingData"/>'
                   "</IPARAMVALUE>",
    "ExecQuery": '<IPARAMVALUE NAME="QueryLanguage"><VALUE>WQL</VALUE></IPARAMVALUE>'
                 '<IPARAMVALUE NAME="Query"><VALUE>SELECT * FROM Msvm_ComputerSystem WHERE '
                 "EnabledState = 2</VALUE></IPARAMVALUE>",
    "OpenEnumerateInstances": '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="CIM_System"/>'
                              '</IPARAMVALUE><IPARAMVALUE NAME="MaxObjectCount"><VALUE>1</VALUE>'
                              "</IPARAMVALUE>",
    "PullInstancesWithPath": '<IPARAMVALUE NAME="EnumerationContext"><VALUE>nope</VALUE>'
                             '</IPARAMVALUE><IPARAMVALUE NAME="MaxObjectCount"><VALUE>1</VALUE>'
                             "</IPARAMVALUE>",
}


def body(method: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0">'
            '<MESSAGE ID="1001" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
            f'<IMETHODCALL NAME="{method}">{NS}{CALLS[method]}</IMETHODCALL></SIMPLEREQ>'
            "</MESSAGE></CIM>")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    world = open_world(Settings(database_url=f"sqlite:///{path}", scenario=demo_scenario()))
    yield world
    world.store.dispose()


def post(world: Runtime, payload: bytes, method: str) -> tuple[int, dict[str, str], bytes]:
    app = create_app(Settings(), world)
    headers = [(b"content-type", b'application/xml; charset="utf-8"'),
               (b"cimoperation", b"MethodCall"), (b"cimmethod", method.encode("latin-1")),
               (b"cimobject", b"root/virtualization/v2"),
               (b"authorization", b"Basic dTpw")]
    scope = {"type": "http", "method": "POST", "path": "/cimom", "headers": headers,
             "query_string": b"", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2)}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in sent[1:])


def check(status: int, headers: dict[str, str], reply: bytes) -> None:
    assert status in (200, 400, 413, 501), (status, reply[:300])
    if status != 200:
        assert headers.get("cimerror"), "an HTTP-level refusal names its DSP0200 CIMError"
        return
    tree = TupleParser().parse_cim(xml_to_tupletree_sax(reply, "reply"))
    simplersp = tree[2][2]
    assert simplersp[0] == "SIMPLERSP"


def mutate(text: bytes, data: st.DataObject) -> bytes:
    edits = data.draw(st.lists(st.tuples(
        st.sampled_from(["insert", "delete", "replace", "truncate"]),
        st.integers(min_value=0, max_value=max(0, len(text) - 1)),
        st.binary(min_size=1, max_size=8) | st.sampled_from(
            [b"<", b">", b"/", b'"', b"&", b"&amp;", b"<!DOCTYPE x>", b"\x00", b"\xff",
             b"</IPARAMVALUE>", b"<VALUE>", b"NAME", b"ISARRAY"])), min_size=1, max_size=4))
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


@pytest.mark.parametrize("method", list(CALLS))
def test_valid_requests_are_answered(world: Runtime, method: str) -> None:
    status, headers, reply = post(world, body(method).encode(), method)
    check(status, headers, reply)
    assert status == 200


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(list(CALLS)), data=st.data())
def test_mutated_requests_never_fail_badly(world: Runtime, method: str,
                                           data: st.DataObject) -> None:
    payload = mutate(body(method).encode(), data)
    check(*post(world, payload, method))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=400) | st.text(max_size=400).map(str.encode),
       method=st.sampled_from([*CALLS, "Bogus", ""]))
def test_random_bodies_never_fail_badly(world: Runtime, payload: bytes, method: str) -> None:
    status, headers, reply = post(world, payload, method or "GetInstance")
    check(status, headers, reply)
