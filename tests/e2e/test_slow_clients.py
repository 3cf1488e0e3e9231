"""Slow and greedy clients are cut off at the HTTP-connection level; others are served meanwhile.

One server with small limits (headers within 1 s, bodies at >= 1000 bytes/s per 1 s window,
12 connections); time bounds are generous, the tight figures belong in benchmarks.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.server import (
    DEMO_SCENARIO,
    TEST_PASSWORD,
    TEST_USER,
    HvsimServer,
    sqlite_url,
    wbem_connection,
)

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 1.0
BODY_WINDOW = 1.0
MAX_CONNECTIONS = 12
# A slow sender must be closed within its bound plus this much (scheduling on a busy machine).
SLACK = 4.0

BASIC = "Basic " + base64.b64encode(f"{TEST_USER}:{TEST_PASSWORD}".encode()).decode()
CIMXML_BODY = (
    '<?xml version="1.0" encoding="utf-8" ?>'
    '<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1001" PROTOCOLVERSION="1.0">'
    '<SIMPLEREQ><IMETHODCALL NAME="EnumerateInstanceNames"><LOCALNAMESPACEPATH>'
    '<NAMESPACE NAME="root"/><NAMESPACE NAME="virtualization"/><NAMESPACE NAME="v2"/>'
    '</LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="Msvm_ComputerSystem"/>'
    "</IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"
)
CIMXML_HEADERS = (f"Authorization: {BASIC}\r\nContent-Type: application/xml; charset=utf-8\r\n"
                  "CIMOperation: MethodCall\r\nCIMMethod: EnumerateInstanceNames\r\n"
                  "CIMObject: root/virtualization/v2\r\n")
WSMAN_HEADERS = f"Authorization: {BASIC}\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    workdir = tmp_path_factory.mktemp("slow-clients")
    options = {"scenario": DEMO_SCENARIO, "database": sqlite_url(workdir / "hvsim.db"),
               "header_timeout": HEADER_TIMEOUT, "body_timeout": BODY_WINDOW,
               "body_min_rate": 1000, "max_connections": MAX_CONNECTIONS}
    with HvsimServer(options, workdir=workdir) as running:
        yield running


def address(server: HvsimServer) -> tuple[str, int]:
    parts = urlsplit(server.url("HV-01"))
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def request_head(path: str, extra_headers: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: hv-01\r\n{extra_headers}"
            f"Content-Length: {length}\r\n\r\n").encode()


class SlowSender(threading.Thread):
    """Sends `head`, then one byte of `trickle` every `interval` s until the server closes."""

    def __init__(self, server: HvsimServer, head: bytes, trickle: bytes,
                 interval: float = 0.2, give_up: float = 20.0) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(address(server))
        self.head, self.trickle, self.interval, self.give_up = head, trickle, interval, give_up
        self.answer = b""
        self.lasted = float("inf")

    def run(self) -> None:
        started = time.monotonic()
        with self.sock:
            try:
                self.sock.sendall(self.head)
                for byte in self.trickle:
                    if time.monotonic() - started > self.give_up:
                        return
                    readable, _, _ = select.select([self.sock], [], [], self.interval)
                    if readable:
                        data = self.sock.recv(65536)
                        if not data:
                            break
                        self.answer += data
                        continue
                    self.sock.sendall(bytes([byte]))
            except OSError:
                pass  # closed by the server while we were sending: what we want
            with contextlib.suppress(OSError):
                self.sock.settimeout(2)
                while data := self.sock.recv(65536):
                    self.answer += data
        self.lasted = time.monotonic() - started

    def result(self) -> tuple[float, bytes]:
        self.join(self.give_up + 10)
        return self.lasted, self.answer


def slow_header_sender(server: HvsimServer) -> SlowSender:
    return SlowSender(server, b"POST /cimom HTTP/1.1\r\nHost: hv-01\r\n", b"X-Slow: " + b"a" * 500)


def slow_body_sender(server: HvsimServer, path: str = "/cimom") -> SlowSender:
    extra = CIMXML_HEADERS if path == "/cimom" else WSMAN_HEADERS
    return SlowSender(server, request_head(path, extra, 10_000) + b"<?xml", b" " * 9_000)


def test_silent_connection_gets_408_within_the_header_timeout(server: HvsimServer) -> None:
    with socket.create_connection(address(server)) as sock:
        started = time.monotonic()
        sock.settimeout(HEADER_TIMEOUT + SLACK)
        answer = sock.recv(65536)
        lasted = time.monotonic() - started
        while data := sock.recv(65536):  # until the server closes
            answer += data
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert HEADER_TIMEOUT - 0.2 < lasted < HEADER_TIMEOUT + SLACK


def test_slow_header_sender_gets_408_and_is_closed(server: HvsimServer) -> None:
    sender = slow_header_sender(server)
    sender.start()
    lasted, answer = sender.result()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"request headers not complete within 1 s" in answer
    assert HEADER_TIMEOUT - 0.2 < lasted < HEADER_TIMEOUT + SLACK


@pytest.mark.parametrize("path", ["/cimom", "/wsman"])
def test_slow_body_sender_gets_408_and_is_closed(server: HvsimServer, path: str) -> None:
    sender = slow_body_sender(server, path)
    sender.start()
    lasted, answer = sender.result()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"request body slower than 1000 bytes/s" in answer
    assert BODY_WINDOW - 0.2 < lasted < BODY_WINDOW + SLACK


def test_body_arriving_in_pieces_at_a_fair_rate_is_served(server: HvsimServer) -> None:
    # 20 KB over about 1.6 s, well above 1000 bytes/s but crossing the body window.
    body = (CIMXML_BODY + " " * 20_000).encode()
    pieces = [body[i:i + 5_000] for i in range(0, len(body), 5_000)]
    with socket.create_connection(address(server)) as sock:
        sock.sendall(request_head("/cimom", CIMXML_HEADERS, len(body)))
        for piece in pieces:
            time.sleep(0.3)
            sock.sendall(piece)
        sock.settimeout(10)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]


def test_keep_alive_client_idle_beyond_the_header_timeout_is_unaffected(
        server: HvsimServer) -> None:
    host, port = address(server)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"Authorization": BASIC, "Content-Type": "application/xml; charset=utf-8",
               "CIMOperation": "MethodCall", "CIMMethod": "EnumerateInstanceNames",
               "CIMObject": "root/virtualization/v2"}
    try:
        for _ in range(2):
            connection.request("POST", "/cimom", CIMXML_BODY, headers)
            first_socket = connection.sock
            response = connection.getresponse()
            assert response.status == 200 and b"Msvm_ComputerSystem" in response.read()
            time.sleep(HEADER_TIMEOUT + 0.5)  # idle between requests: keep-alive, not headers
            assert connection.sock is first_socket  # the same TCP connection every time
    finally:
        connection.close()


def test_oversized_headers_get_400(server: HvsimServer) -> None:
    with socket.create_connection(address(server)) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: hv-01\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(65536).startswith(b"HTTP/1.1 400 ")


def test_websocket_upgrade_is_answered_as_plain_http(server: HvsimServer) -> None:
    # A connection switched to another protocol would leave the cap's count and deadlines.
    with socket.create_connection(address(server)) as sock:
        sock.sendall(b"GET /cimom HTTP/1.1\r\nHost: hv-01\r\nConnection: Upgrade\r\n"
                     b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(65536).startswith(b"HTTP/1.1 405 ")


def test_bystander_is_served_while_slow_senders_hold_connections(server: HvsimServer) -> None:
    senders = [slow_header_sender(server) for _ in range(3)]
    senders += [slow_body_sender(server, path) for path in ("/cimom", "/wsman", "/cimom")]
    for sender in senders:
        sender.start()
    latencies = []
    with wbem_connection(server.url("HV-01")) as bystander:
        deadline = time.monotonic() + HEADER_TIMEOUT + 0.5  # while the senders are still slow
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert len(bystander.EnumerateInstanceNames("Msvm_ComputerSystem")) >= 2
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    results = [sender.result() for sender in senders]
    assert len(latencies) >= 5 and max(latencies) < 2.0, latencies
    for lasted, answer in results:
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert lasted < max(HEADER_TIMEOUT, BODY_WINDOW) + SLACK


def served(sock: socket.socket) -> bytes:
    """One whole response (headers and Content-Length body), or what came before a close."""
    sock.sendall(b"GET /nothing HTTP/1.1\r\nHost: hv-01\r\n\r\n")
    sock.settimeout(10)
    answer = b""
    while True:
        head, _, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head) if _ else None
        if length and len(body) >= int(length.group(1)):
            return answer
        data = sock.recv(65536)
        if not data:
            return answer
        answer += data


def test_connection_cap_refuses_with_503_and_serves_again_below_it(server: HvsimServer) -> None:
    time.sleep(0.3)  # connections of earlier tests are gone
    held: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS):
            held.append(socket.create_connection(address(server)))
            assert served(held[-1]).startswith(b"HTTP/1.1 404 ")  # admitted, kept alive
        with socket.create_connection(address(server)) as extra:
            answer = served(extra)
            while data := extra.recv(65536):  # until the server closes
                answer += data
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        assert b"connection: close" in answer.lower()
        assert answer.endswith(b"too many open connections; retry later\n")
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:
            with socket.create_connection(address(server)) as again:
                answer = served(again)
            if answer.startswith(b"HTTP/1.1 404 ") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert answer.startswith(b"HTTP/1.1 404 "), answer
        # Connections admitted before the cap was reached are still served.
        assert served(held[0]).startswith(b"HTTP/1.1 404 ")
    finally:
        for sock in held:
            sock.close()


def test_refusals_are_logged(server: HvsimServer) -> None:
    log = server.log_text()
    assert "request headers not complete within 1 s" in log
    assert "refusing new ones with 503" in log
    assert "Traceback" not in log and "WebSocket" not in log, log[-5000:]

