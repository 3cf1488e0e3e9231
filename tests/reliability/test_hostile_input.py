"""Hostile input against both front ends of one live server (issue 8): entity expansion,
external entities, deep nesting, oversized bodies, huge attributes, hundreds of thousands of
attributes.

Each request is refused or answered promptly with a proper protocol answer; the server's memory
stays flat across repeats (each repeat is a distinct request, so no cache can hold it twice);
and a bystander client polling GetInstance on the same process is still served. The bounds are
generous (CI machines are slow and shared); the goals (50 ms of extra bystander wait, memory
within the cache budget) are measured in bench/reliability.py.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.reliability.observe import MB, WEB01, Bystander, rss_bytes, serve_supports
from tests.support.server import DEMO_SCENARIO, TEST_PASSWORD, TEST_USER, HvsimServer, wsman_url

pytestmark = pytest.mark.e2e
AUTH = (TEST_USER, TEST_PASSWORD)
# Bounds that tell "answered" from "hung" and "unaffected" from "stalled" (before the
# isolation the bystander waited for the whole parse, 15 s and more); they hold on a loaded
# 2-core CI machine. The figures to beat live in bench/reliability.py (bystander).
PROMPT_SECONDS = 20.0
BYSTANDER_BOUND_SECONDS = 2.0
REPEATS = 4
# The first requests of a size move the allocator's thresholds (glibc keeps a freed block
# of the last large size for reuse): growth is measured from the second answer on.
WARM_UP = 2
# Growth allowed between the first and the last repeat of one hostile request.
RSS_GROWTH_BOUND = 50 * MB
# With --cache-mb 64 (where the server has it), RSS may grow by the budget plus this.
CACHE_MB = 64
FIXED_OVERHEAD = 64 * MB
FAULT_NS = "{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}"
PASSWD_LINE = b"root:x:0:0"

MESSAGE_OPEN = ('<?xml version="1.0" encoding="utf-8" ?>\n<CIM CIMVERSION="2.0" '
                'DTDVERSION="2.0"><MESSAGE ID="{salt}" PROTOCOLVERSION="1.0"><SIMPLEREQ>')
MESSAGE_CLOSE = "</SIMPLEREQ></MESSAGE></CIM>"
NAMESPACE_PATH = ('<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virtualization"/>'
                  '<NAMESPACE NAME="v2"/></LOCALNAMESPACEPATH>')
VM_NAME = ('<INSTANCENAME CLASSNAME="{classname}"><KEYBINDING NAME="CreationClassName">'
           '<KEYVALUE VALUETYPE="string">Msvm_ComputerSystem</KEYVALUE></KEYBINDING>'
           f'<KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string">{WEB01}</KEYVALUE>'
           "</KEYBINDING></INSTANCENAME>")
CIM_HEAD = MESSAGE_OPEN + '<IMETHODCALL NAME="GetInstance">' + NAMESPACE_PATH
CIM_TAIL = "</IMETHODCALL>" + MESSAGE_CLOSE
INSTANCE_NAME = '<IPARAMVALUE NAME="InstanceName">' + VM_NAME + "</IPARAMVALUE>"
CIM_HEADERS = {"Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
               "CIMMethod": "GetInstance", "CIMObject": "root/virtualization/v2"}
LAUGHS = ('<!DOCTYPE CIM [<!ENTITY lol "lolololololololololol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";" if i > 1 else "&lol;") * 10}">'
                    for i in range(1, 10)) + "]>")


def cim_get_instance(salt: int, classname: str = "Msvm_ComputerSystem", padding: str = "",
                     attributes: str = "") -> bytes:
    head = CIM_HEAD.format(salt=salt)
    if attributes:
        head = head.replace('<IMETHODCALL NAME="GetInstance"',
                            f'<IMETHODCALL NAME="GetInstance"{attributes}')
    return (head + padding + INSTANCE_NAME.format(classname=classname) + CIM_TAIL).encode()


def many_attributes(salt: int, count: int) -> str:
    return "".join(f' a{salt}x{i}=""' for i in range(count))


CIMXML_CASES: dict[str, Callable[[int], bytes]] = {
    "entity-expansion": lambda salt: cim_get_instance(salt).replace(
        b"<CIM ", LAUGHS.encode() + b"<CIM ", 1).replace(b"Msvm_ComputerSystem<", b"&lol9;<"),
    "external-entity": lambda salt: cim_get_instance(salt).replace(
        b"<CIM ", b'<!DOCTYPE CIM [<!ENTITY x SYSTEM "file:///etc/passwd">]><CIM ', 1).replace(
        b"Msvm_ComputerSystem<", b"&x;<"),
    "external-dtd": lambda salt: cim_get_instance(salt).replace(
        b"<CIM ", b'<!DOCTYPE CIM SYSTEM "http://127.0.0.1:9/cim.dtd"><CIM ', 1),
    "deep-nesting": lambda salt: cim_get_instance(
        salt, padding='<IPARAMVALUE NAME="X">' + "<VALUE.ARRAY>" * 100_000
        + "</VALUE.ARRAY>" * 100_000 + "</IPARAMVALUE>"),
    # A mutant of a captured pywbemcli call that found a bare 500 (RecursionError).
    "nested-paths": lambda salt: (
        MESSAGE_OPEN.format(salt=salt) + '<METHODCALL NAME="RequestStateChange">'
        + "<LOCALINSTANCEPATH>" * 300 + NAMESPACE_PATH
        + VM_NAME.format(classname="Msvm_ComputerSystem") + "</LOCALINSTANCEPATH>" * 300
        + "</METHODCALL>" + MESSAGE_CLOSE).encode(),
    "oversized-body": lambda salt: cim_get_instance(salt, padding=" " * (17 * MB)),
    "huge-attribute": lambda salt: cim_get_instance(salt, classname=f"{salt}" + "A" * (15 * MB)),
    "many-attributes": lambda salt: cim_get_instance(
        salt, attributes=many_attributes(salt, 300_000)),
}

WSMAN_GET = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"{attributes}><s:Header>'
    '<wsa:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get'
    "</wsa:Action><wsa:MessageID>uuid:{salt}</wsa:MessageID>"
    '<wsman:ResourceURI s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/wmi/'
    "root/virtualization/v2/Msvm_ComputerSystem</wsman:ResourceURI>{header}"
    '<wsman:SelectorSet><wsman:Selector Name="CreationClassName">Msvm_ComputerSystem'
    f'</wsman:Selector><wsman:Selector Name="Name">{WEB01}</wsman:Selector>'
    "</wsman:SelectorSet></s:Header><s:Body>{body}</s:Body></s:Envelope>")


def wsman_get(salt: int, attributes: str = "", header: str = "", body: str = "") -> bytes:
    return WSMAN_GET.format(salt=salt, attributes=attributes, header=header, body=body).encode()


WSMAN_CASES: dict[str, Callable[[int], bytes]] = {
    "entity-expansion": lambda salt: LAUGHS.replace("CIM", "s:Envelope").encode()
    + wsman_get(salt, body="&lol9;"),
    "external-entity": lambda salt: b'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM '
    b'"file:///etc/passwd">]>' + wsman_get(salt, body="&x;"),
    "deep-nesting": lambda salt: wsman_get(salt, body="<a>" * 100_000 + "</a>" * 100_000),
    "oversized-body": lambda salt: wsman_get(salt, header="<!--" + "x" * (16 * MB) + "-->"),
    "huge-attribute": lambda salt: wsman_get(salt, attributes=f' x="{salt}' + "A" * (15 * MB)
                                             + '"'),
    "many-attributes": lambda salt: wsman_get(salt, attributes=many_attributes(salt, 300_000)),
    "many-attributes-within-limit": lambda salt: wsman_get(
        salt, attributes=many_attributes(salt, 40_000)),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    options: dict[str, object] = {"scenario": DEMO_SCENARIO}
    if serve_supports("--cache-mb"):
        options["cache_mb"] = CACHE_MB
    with HvsimServer(options, workdir=tmp_path_factory.mktemp("hostile")) as started:
        yield started


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(auth=AUTH, timeout=60) as opened:
        yield opened


def test_bystander_baseline(server: HvsimServer) -> None:
    """What the bystander sees with nobody attacking: the reference for the numbers below."""
    with Bystander(server.url("HV-01")) as bystander:
        time.sleep(2)
    latencies = [took for _sent, took in bystander.samples]
    print(f"\nbystander, idle server: {Bystander.describe(latencies)}")
    assert not bystander.errors, bystander.errors[:3]
    assert statistics.median(latencies) < 0.1


def cimxml_headers(body: bytes) -> dict[str, str]:
    """The headers a client sends with this body: CIMMethod names the call in it."""
    match = re.search(rb'METHODCALL NAME="(\w+)"', body[:4096])
    method = match.group(1).decode() if match else "GetInstance"
    cim_object = CIM_HEADERS["CIMObject"]
    if b"<METHODCALL" in body[:4096]:
        cim_object += (':Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
                       f'Name="{WEB01}"')
    return {**CIM_HEADERS, "CIMMethod": method, "CIMObject": cim_object}


def check_cimxml(reply: httpx.Response) -> str:
    assert PASSWD_LINE not in reply.content
    if reply.status_code == 200:
        assert b"<ERROR " in reply.content or b"<IRETURNVALUE" in reply.content, \
            reply.content[:300]
        return "200 ERROR" if b"<ERROR " in reply.content else "200"
    assert reply.headers.get("CIMError"), (reply.status_code, reply.content[:300])
    return f"{reply.status_code} {reply.headers['CIMError']}"


def check_wsman(reply: httpx.Response) -> str:
    assert PASSWD_LINE not in reply.content
    assert reply.headers.get("Content-Type", "").startswith("application/soap+xml"), \
        (reply.status_code, reply.content[:300])
    if reply.status_code == 200:
        return "200"
    assert reply.status_code == 500, (reply.status_code, reply.content[:300])
    fault = ET.fromstring(reply.content).find(f".//{FAULT_NS}WSManFault")
    assert fault is not None, reply.content[:300]
    return f"500 Fault {fault.get('Code')}"


def attack(server: HvsimServer, client: httpx.Client, url: str, make: Callable[[int], bytes],
           headers: Callable[[bytes], dict[str, str]],
           check: Callable[[httpx.Response], str]) -> None:
    """Send `make(salt)` REPEATS times with a bystander watching; assert and print the figures."""
    outcomes, durations, rss = [], [], []
    with Bystander(server.url("HV-01")) as bystander:
        started = time.monotonic()
        for salt in range(REPEATS):
            body = make(salt)
            sent = time.monotonic()
            reply = client.post(url, content=body, headers=headers(body))
            durations.append(time.monotonic() - sent)
            outcomes.append(check(reply))
            rss.append(rss_bytes(server.pid))
            del body
        waited = bystander.since(started)
    growth = rss[-1] - rss[WARM_UP - 1]
    print(f"\n{url.rsplit('/', 1)[-1]} {outcomes[0]}: {len(make(0)) / MB:.2f} MB request "
          f"answered in {max(durations):.2f} s max; RSS {rss[0] / MB:.0f} -> {rss[-1] / MB:.0f} "
          f"MB over {REPEATS - WARM_UP} repeats after warm-up; "
          f"bystander: {Bystander.describe(waited)}")
    assert not bystander.errors, bystander.errors[:3]
    assert max(durations) < PROMPT_SECONDS, durations
    assert growth < RSS_GROWTH_BOUND, f"RSS grew {growth / MB:.0f} MB: {rss}"
    assert max(waited) < BYSTANDER_BOUND_SECONDS, Bystander.describe(waited)


@pytest.mark.parametrize("case", list(CIMXML_CASES))
def test_cimxml_hostile_request(server: HvsimServer, client: httpx.Client, case: str) -> None:
    attack(server, client, server.url("HV-01") + "/cimom", CIMXML_CASES[case], cimxml_headers,
           check_cimxml)


@pytest.mark.parametrize("case", list(WSMAN_CASES))
def test_wsman_hostile_request(server: HvsimServer, client: httpx.Client, case: str) -> None:
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
    attack(server, client, wsman_url(server.url("HV-01")), WSMAN_CASES[case],
           lambda _body: headers, check_wsman)


def test_parallel_huge_cimxml_attributes_leave_a_bystander_served(server: HvsimServer) -> None:
    url = server.url("HV-01") + "/cimom"
    outcomes: list[str] = []

    def one(salt: int) -> None:
        with httpx.Client(auth=AUTH, timeout=60) as own:
            body = CIMXML_CASES["huge-attribute"](1000 + salt)
            outcomes.append(check_cimxml(own.post(url, content=body, headers=CIM_HEADERS)))

    with Bystander(server.url("HV-01")) as bystander:
        started = time.monotonic()
        threads = [threading.Thread(target=one, args=(salt,)) for salt in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        waited = bystander.since(started)
    print(f"\n4 parallel 15 MB attributes: {outcomes}; bystander: {Bystander.describe(waited)}")
    assert len(outcomes) == 4
    assert not bystander.errors, bystander.errors[:3]
    assert max(waited) < BYSTANDER_BOUND_SECONDS, Bystander.describe(waited)


def test_distinct_large_valid_cimxml_requests_keep_memory_bounded(
        server: HvsimServer, client: httpx.Client) -> None:
    """Issue 8, defect 1: 60 distinct valid 8 MB requests took RSS from 0.12 to 1.61 GB. Thirty
    here, after a few to warm up; growth must stay within the cache budget plus overhead."""
    url = server.url("HV-01") + "/cimom"

    def send(salt: int) -> None:
        body = cim_get_instance(10_000 + salt, padding=" " * (8 * MB))
        reply = client.post(url, content=body, headers=CIM_HEADERS)
        assert reply.status_code == 200 and WEB01.encode() in reply.content, reply.text[:300]

    for salt in range(3):
        send(salt)
    before = rss_bytes(server.pid)
    started = time.monotonic()
    for salt in range(3, 33):
        send(salt)
    after = rss_bytes(server.pid)
    print(f"\n30 distinct valid 8 MB CIM-XML requests in {time.monotonic() - started:.1f} s: "
          f"RSS {before / MB:.0f} -> {after / MB:.0f} MB")
    bound = CACHE_MB * MB + FIXED_OVERHEAD
    assert after - before < bound, f"RSS grew {(after - before) / MB:.0f} MB"


def test_distinct_large_valid_wsman_requests_keep_memory_bounded(
        server: HvsimServer, client: httpx.Client) -> None:
    url = wsman_url(server.url("HV-01"))
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}

    def send(salt: int) -> None:
        # Just under MaxEnvelopeSize (500 KB): a valid Get with a long comment in its header.
        body = wsman_get(20_000 + salt, header="<!--" + "x" * 400_000 + "-->")
        reply = client.post(url, content=body, headers=headers)
        assert reply.status_code == 200, reply.text[:300]

    for salt in range(20):
        send(salt)
    before = rss_bytes(server.pid)
    for salt in range(20, 220):
        send(salt)
    after = rss_bytes(server.pid)
    print(f"\n200 distinct valid 400 KB WS-Man requests: RSS {before / MB:.0f} -> "
          f"{after / MB:.0f} MB")
    assert after - before < CACHE_MB * MB + FIXED_OVERHEAD
