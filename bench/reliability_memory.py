"""The memory benchmark of reliability.py: the server's RSS under a stream of distinct
large valid requests, CIM-XML (8 MB) then WS-Management (500 KB, MaxEnvelopeSizekb)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchserver import ROOT, BenchServer
from cimxml import GETINSTANCE_BODY
from figures import MB, mb, print_table
from rawhttp import MAX_ENVELOPE_BYTES, WSMAN_HEADERS, RawHttp, cimxml_headers, start_server
from wsman import GET_BODY, V2, envelope

NAMESPACE_PATH = ('<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virtualization"/>'
                  '<NAMESPACE NAME="v2"/></LOCALNAMESPACEPATH>')
EXECQUERY_BODY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<CIM CIMVERSION="2.0" DTDVERSION="2.0">'
    '<MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="ExecQuery">'
    f'{NAMESPACE_PATH}<IPARAMVALUE NAME="QueryLanguage"><VALUE>WQL</VALUE></IPARAMVALUE>'
    '<IPARAMVALUE NAME="Query"><VALUE>SELECT * FROM Msvm_ComputerSystem WHERE '
    "ElementName = '{literal}'</VALUE></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>")
ENUMERATE_ACTION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
WQL_ENUMERATE = (
    "<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>100</wsman:MaxElements>"
    '<wsman:Filter Dialect="http://schemas.microsoft.com/wbem/wsman/1/WQL">'
    "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{literal}'</wsman:Filter>"
    "</wsen:Enumerate>")


def cache_budget_flag() -> tuple[bool, str | None]:
    """Whether `hvsim serve` has --cache-mb, and the default its help names, if any."""
    help_text = subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    return cache_budget_in(help_text)


def cache_budget_in(help_text: str) -> tuple[bool, str | None]:
    lines = help_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("--cache-mb")),
                 None)
    if start is None:
        return False, None
    block = [lines[start]]
    for line in lines[start + 1:]:
        if line.strip().startswith("-") or not line.strip():
            break
        block.append(line)
    default = re.search(r"default:?\s*(\d+)", " ".join(" ".join(block).split()))
    return True, default.group(1) if default else None


def large_cimxml_requests(count: int, size: int) -> Iterator[tuple[str, bytes]]:
    """(CIMMethod, body) of `count` distinct valid requests of `size` bytes, built one at a time.

    Even ones: ExecQuery with a long WQL string literal (a small, empty answer). Odd ones:
    GetInstance of the host with a long MESSAGE ID, which the reply echoes.
    """
    for index in range(count):
        if index % 2 == 0:
            shell = EXECQUERY_BODY.format(literal="")
            literal = f"{index:06d}-".ljust(size - len(shell), "x")
            yield "ExecQuery", EXECQUERY_BODY.format(literal=literal).encode()
        else:
            shell = GETINSTANCE_BODY.format(name="HV-01")
            message_id = f"{index:06d}".ljust(size - len(shell) + len("1001"), "7")
            yield "GetInstance", shell.replace('MESSAGE ID="1001"',
                                               f'MESSAGE ID="{message_id}"').encode()


def large_wsman_requests(count: int, size: int) -> Iterator[bytes]:
    """`count` distinct valid WQL Enumerates of exactly `size` bytes (optimized, so no
    enumeration context is left behind)."""
    shell = len(envelope(ENUMERATE_ACTION, WQL_ENUMERATE.format(literal=""), 0, V2 + "*"))
    for index in range(count):
        literal = f"{index:06d}-".ljust(size - shell, "x")
        yield envelope(ENUMERATE_ACTION, WQL_ENUMERATE.format(literal=literal), index, V2 + "*")


class RssSampler:
    """The peak RSS of a server's process tree, sampled in the background."""

    def __init__(self, server: BenchServer, interval: float = 0.25) -> None:
        self.server, self.interval, self.peak = server, interval, server.rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.server.rss_bytes())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def memory_stream(server: BenchServer, label: str, path: str,
                  requests: Iterator[tuple[dict[str, str], bytes, bytes]],
                  idle_seconds: float) -> dict[str, Any]:
    """Send `requests` ((headers, body, marker of a good answer)) over one keep-alive
    connection; the RSS of the server around it."""
    client = RawHttp(server.port, path)
    # A few ordinary requests first, so "before" holds what any served process holds.
    warm = ((GETINSTANCE_BODY, cimxml_headers("GetInstance")) if path == "/cimom"
            else (GET_BODY, WSMAN_HEADERS))
    for _ in range(20):
        client.post(warm[0].format(name="HV-01").encode(), warm[1])
    before = server.rss_bytes()
    sampler = RssSampler(server)
    statuses: Counter[str] = Counter()
    sent = total_bytes = 0
    started = time.monotonic()
    for headers, body, marker in requests:
        status, reply = client.post(body, headers)
        good = status == 200 and marker in reply and b"<ERROR" not in reply
        statuses["answered" if good else f"HTTP {status}"] += 1
        sent += 1
        total_bytes += len(body)
    wall = time.monotonic() - started
    after = server.rss_bytes()
    time.sleep(idle_seconds)
    idle = server.rss_bytes()
    peak = max(sampler.stop(), idle)
    client.close()
    return {"stream": label, "requests": sent, "request_mb": round(total_bytes / sent / MB, 2),
            "total_mb": mb(total_bytes), "answered": statuses.get("answered", 0),
            "statuses": dict(statuses), "wall_s": round(wall, 1), "rss_before_mb": mb(before),
            "rss_peak_mb": mb(peak), "rss_after_mb": mb(after), "rss_idle_mb": mb(idle),
            "growth_idle_mb": mb(idle - before)}


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    supported, default_budget = cache_budget_flag()
    options = ["--cache-mb", str(args.cache_mb)] if supported and args.cache_mb else []
    budget = (str(args.cache_mb) if options else default_budget) if supported else None
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="hvsim-bench-memory-"))
    try:
        server = start_server(workdir / "cimxml", options)
        try:
            requests = ((cimxml_headers(method), body, b"<IMETHODRESPONSE")
                        for method, body in large_cimxml_requests(args.requests,
                                                                  args.request_mb * MB))
            results.append(memory_stream(server, "CIM-XML", "/cimom", requests, args.idle))
        finally:
            server.stop()
        server = start_server(workdir / "wsman", options)
        try:
            wsman_count = args.wsman_requests or (args.requests * args.request_mb * MB
                                                  // MAX_ENVELOPE_BYTES)
            requests = ((WSMAN_HEADERS, body, b"EnumerateResponse")
                        for body in large_wsman_requests(wsman_count, MAX_ENVELOPE_BYTES))
            results.append(memory_stream(server, "WS-Man", "/wsman", requests, args.idle))
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("--cache-mb: " + (f"supported, budget {budget or 'not stated'} MB" if supported
                            else "not supported by this hvsim serve"))
    columns = [("stream", "stream"), ("requests", "requests"), ("MB each", "request_mb"),
               ("answered", "answered"), ("wall s", "wall_s"), ("RSS before MB", "rss_before_mb"),
               ("peak MB", "rss_peak_mb"), ("after MB", "rss_after_mb"),
               (f"after {args.idle:.0f} s idle MB", "rss_idle_mb")]
    print_table(columns, results)
    return {"benchmark": "memory", "cache_mb_flag": supported, "cache_mb_budget": budget,
            "results": results}
