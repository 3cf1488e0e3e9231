"""Reliability benchmark: memory under large requests, bystander latency, and a soak.

Three subcommands, each printing a short table and one JSON line of figures:

  memory     `hvsim serve` (demo cluster) receives 60 distinct valid 8 MB CIM-XML requests
             (alternately an ExecQuery with an 8 MB WQL string literal and a GetInstance with an
             8 MB MESSAGE ID, so half the replies are 8 MB too), then, on a fresh server, distinct
             valid WS-Management Enumerates of exactly MaxEnvelopeSizekb (500 KB) carrying a WQL
             filter with a long literal (as many bytes in all as the CIM-XML stream by default).
             Reports the server's RSS (process tree) before, at the peak, after, and after 10 s
             idle, and the `--cache-mb` budget when `hvsim serve` has that flag.
  bystander  a client reading one instance in a loop over a keep-alive connection (raw HTTP,
             one request every few ms) measures its latency alone, then while the same process
             receives (a) one request with a 15 MB attribute, (b) four of them in parallel,
             (c) one with 300,000 attributes; for CIM-XML, then for WS-Management with its largest
             allowed envelope (500 KB: one 500 KB attribute, four in parallel, ~50,000
             attributes). Extra delay = the bystander's worst latency during a case minus its
             median alone; goal <= 50 ms.
  soak       two `hvsim serve` processes on one private PostgreSQL cluster (started as the test
             suite starts it), 16 client threads mixing reads, enumerations, WQL queries,
             associators, compatibility checks and live migrations back and forth (see
             soakload.py); errors and operations by kind, both processes' RSS each minute, RSS
             growth from minute 5 to the end (goal < 10 %) and a final consistency check.

    python bench/reliability.py memory
    python bench/reliability.py bystander --repeat 3
    python bench/reliability.py soak --minutes 30
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

from benchserver import ROOT, BenchServer
from cimxml import GETINSTANCE_BODY
from wsman import GET_BODY, V2, envelope

MB = 1024 * 1024
BASIC = "Basic YmVuY2g6YmVuY2g="  # bench:bench; the sandbox accepts any Basic credentials
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
MAX_ENVELOPE_BYTES = 500 * 1024  # MaxEnvelopeSizekb of hvsim's WinRM config resource
BYSTANDER_GOAL_MS = 50.0


def cimxml_headers(method: str) -> dict[str, str]:
    return {"Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
            "CIMMethod": method, "CIMObject": "root/virtualization/v2", "Authorization": BASIC}


WSMAN_HEADERS = {"Content-Type": "application/soap+xml;charset=UTF-8", "Authorization": BASIC}


class RawHttp:
    """One keep-alive HTTP connection to the server, reopened after a failure."""

    def __init__(self, port: int, path: str, timeout: float = 300) -> None:
        self.path = path
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            self.connection.request("POST", self.path, body, headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            raise

    def close(self) -> None:
        self.connection.close()


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


def start_server(workdir: Path, options: list[str] | None = None) -> BenchServer:
    return BenchServer(workdir, options or [], startup_seconds=120)


def mb(value: float) -> float:
    return round(value / MB, 1)


# -- memory ------------------------------------------------------------------------------------


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


# -- bystander ---------------------------------------------------------------------------------


class Bystander:
    """A client reading one instance in a loop, in a process of its own so that nothing the
    benchmark does meanwhile (building and sending heavy requests) delays it on the client's
    side; every request's start (CLOCK_MONOTONIC, shared by all processes) and latency."""

    def __init__(self, port: int, path: str, body: bytes, headers: dict[str, str],
                 interval: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results, sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=bystander_loop, args=(port, path, body, headers, interval, self._stop,
                                         sender), daemon=True)
        self._process.start()
        self.samples: list[tuple[float, float]] = []
        self.failures = 0

    def stop(self) -> None:
        self._stop.set()
        self.samples, self.failures = self._results.recv()
        self._process.join()

    def during(self, start: float, end: float) -> list[float]:
        """Latencies of the requests in flight at any moment of [start, end]."""
        return [latency for begun, latency in self.samples
                if begun <= end and begun + latency >= start]


def bystander_loop(port: int, path: str, body: bytes, headers: dict[str, str],
                   interval: float, stop: ProcessEvent, results: Connection) -> None:
    client = RawHttp(port, path, timeout=60)
    samples: list[tuple[float, float]] = []
    failures = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, _ = client.post(body, headers)
        except (http.client.HTTPException, OSError):
            status = 0
        samples.append((started, time.perf_counter() - started))
        failures += status != 200
        time.sleep(interval)
    client.close()
    results.send((samples, failures))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def heavy_cimxml_cases(attribute_mb: int, attributes: int) -> dict[str, Callable[[int], bytes]]:
    """Builders of distinct heavy CIM-XML GetInstance requests (argument: a serial number)."""
    shell = GETINSTANCE_BODY.format(name="HV-01")

    def big_attribute(serial: int) -> bytes:
        message_id = f"{serial:06d}".ljust(attribute_mb * MB, "7")
        return shell.replace('MESSAGE ID="1001"', f'MESSAGE ID="{message_id}"').encode()

    def many_attributes(serial: int) -> bytes:
        names = " ".join(f'a{i}=""' for i in range(1, attributes))
        return shell.replace('<IMETHODCALL NAME="GetInstance">',
                             f'<IMETHODCALL NAME="GetInstance" s{serial}="" {names}>').encode()

    return {f"1 x {attribute_mb} MB attribute": big_attribute,
            f"4 x {attribute_mb} MB attribute": big_attribute,
            f"{attributes:,} attributes": many_attributes}


def heavy_wsman_cases(size: int) -> dict[str, Callable[[int], bytes]]:
    """Builders of distinct heavy WS-Man Gets of exactly `size` bytes (the largest envelope)."""
    shell = GET_BODY.format(name="HV-01")

    def big_attribute(serial: int) -> bytes:
        pad = f"{serial:06d}".ljust(size - len(shell) - len(' pad=""'), "z")
        return shell.replace("<s:Body/>", f'<s:Body pad="{pad}"/>').encode()

    def many_attributes(serial: int) -> bytes:
        names, length, index = [f's{serial}=""'], len(shell) + len(f' s{serial}=""'), 1
        while length + len(f' a{index}=""') <= size:
            names.append(f'a{index}=""')
            length += len(f' a{index}=""')
            index += 1
        return shell.replace("<s:Body/>", f"<s:Body {' '.join(names)}/>").encode()

    count = len(many_attributes(0).split(b'=""')) - 1
    return {f"1 x {size // 1024} KB attribute": big_attribute,
            f"4 x {size // 1024} KB attribute": big_attribute,
            f"{count:,} attributes": many_attributes}


def send_heavy(port: int, path: str, headers: dict[str, str], bodies: list[bytes],
               statuses: Counter[str]) -> None:
    """Send the bodies in parallel, one connection each, and wait for every answer."""
    def one(body: bytes) -> None:
        client = RawHttp(port, path)
        try:
            status, _ = client.post(body, headers)
            statuses[f"HTTP {status}"] += 1
        except (http.client.HTTPException, OSError) as error:
            statuses[type(error).__name__] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def bystander_round(server: BenchServer, protocol: str, args: argparse.Namespace
                    ) -> list[dict[str, Any]]:
    if protocol == "CIM-XML":
        path, headers = "/cimom", cimxml_headers("GetInstance")
        small = GETINSTANCE_BODY.format(name="HV-01").encode()
        cases = heavy_cimxml_cases(args.attribute_mb, args.attributes)
    else:
        path, headers = "/wsman", WSMAN_HEADERS
        small = GET_BODY.format(name="HV-01").encode()
        cases = heavy_wsman_cases(MAX_ENVELOPE_BYTES)
    bystander = Bystander(server.port, path, small, headers, args.interval_ms / 1000)
    windows: dict[str, list[tuple[float, float]]] = {}
    statuses: dict[str, Counter[str]] = {}
    sizes: dict[str, int] = {}
    serial = 0
    try:
        time.sleep(2)  # the bystander is running, its connection and cached reply warm
        start = time.perf_counter()
        time.sleep(args.baseline)
        alone_window = (start, time.perf_counter())
        for name, build in cases.items():
            parallel = 4 if name.startswith("4 x") else 1
            statuses[name], windows[name] = Counter(), []
            for _ in range(args.repeat):
                bodies = []
                for _ in range(parallel):
                    serial += 1
                    bodies.append(build(serial))
                sizes[name] = len(bodies[0])
                start = time.perf_counter()
                send_heavy(server.port, path, headers, bodies, statuses[name])
                windows[name].append((start, time.perf_counter()))
                time.sleep(args.gap)
    finally:
        bystander.stop()
    alone = bystander.during(*alone_window)
    base_p50 = statistics.median(alone)
    rows = [{"protocol": protocol, "case": "alone", "samples": len(alone),
             "p50_ms": base_p50 * 1000, "p99_ms": percentile(alone, 0.99) * 1000,
             "max_ms": max(alone) * 1000, "bystander_failures": bystander.failures}]
    for name, spans in windows.items():
        during = [latency for span in spans for latency in bystander.during(*span)]
        rows.append({"protocol": protocol, "case": name, "request_mb": round(sizes[name] / MB, 2),
                     "samples": len(during), "p50_ms": statistics.median(during) * 1000,
                     "p99_ms": percentile(during, 0.99) * 1000, "max_ms": max(during) * 1000,
                     "extra_ms": (max(during) - base_p50) * 1000,
                     "heavy_wall_s": round(max(end - begin for begin, end in spans), 2),
                     "heavy_statuses": dict(statuses[name])})
    return rows


def run_bystander(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="hvsim-bench-bystander-"))
    try:
        for protocol in ("CIM-XML", "WS-Man"):
            server = start_server(workdir / protocol)
            try:
                rows += bystander_round(server, protocol, args)
            finally:
                server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    columns = [("protocol", "protocol"), ("case", "case"), ("samples", "samples"),
               ("p50 ms", "p50_ms"), ("p99 ms", "p99_ms"), ("max ms", "max_ms"),
               ("extra ms", "extra_ms"), ("heavy answers", "heavy_statuses")]
    print_table(columns, rows)
    worst = max(r.get("extra_ms", 0.0) for r in rows)
    print(f"worst extra delay {worst:.1f} ms (goal <= {BYSTANDER_GOAL_MS:.0f} ms)")
    return {"benchmark": "bystander", "goal_ms": BYSTANDER_GOAL_MS,
            "worst_extra_ms": round(worst, 1), "meets_goal": worst <= BYSTANDER_GOAL_MS,
            "results": [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
                        for r in rows]}


# -- soak --------------------------------------------------------------------------------------


def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    from soakload import soak  # PostgreSQL and the test-support helpers only for this one

    result = soak(args)
    columns = [("minute", "minute"), ("ops", "ops"), ("errors", "errors"),
               ("migrations", "migrations"), ("RSS A MB", "rss_a_mb"), ("RSS B MB", "rss_b_mb")]
    print_table(columns, result["minutes"])
    for key in ("operations", "errors", "refusals", "error_samples", "consistency"):
        print(f"{key}: {json.dumps(result[key])}")
    growth = result["rss_growth"]
    print(f"RSS growth minute {growth['from_minute']} -> end: A {growth['a_percent']:+.1f} %, "
          f"B {growth['b_percent']:+.1f} % (goal < 10 %); errors {result['error_total']}")
    return result


# -- output ------------------------------------------------------------------------------------


def print_table(columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.1f}"
        return "-" if value is None else str(value)

    print(" | ".join(title for title, _ in columns))
    for row in rows:
        print(" | ".join(cell(row.get(key)) for _, key in columns))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    commands = parser.add_subparsers(dest="command", required=True)
    memory = commands.add_parser("memory", help="RSS under distinct large valid requests")
    memory.add_argument("--requests", type=int, default=60, help="CIM-XML requests")
    memory.add_argument("--request-mb", type=int, default=8)
    memory.add_argument("--wsman-requests", type=int, default=0,
                        help="WS-Man requests (default: as many bytes as the CIM-XML stream)")
    memory.add_argument("--idle", type=float, default=10.0, help="seconds idle before the last "
                                                                 "RSS reading")
    memory.add_argument("--cache-mb", type=int, default=0,
                        help="pass --cache-mb to the server (when it has that flag)")
    bystander = commands.add_parser("bystander", help="latency of a small client meanwhile")
    bystander.add_argument("--attribute-mb", type=int, default=15)
    bystander.add_argument("--attributes", type=int, default=300_000)
    bystander.add_argument("--repeat", type=int, default=3, help="rounds of each case")
    bystander.add_argument("--baseline", type=float, default=5.0, help="seconds alone")
    bystander.add_argument("--gap", type=float, default=1.0, help="seconds between rounds")
    bystander.add_argument("--interval-ms", type=float, default=5.0,
                           help="pause between the bystander's requests")
    soak = commands.add_parser("soak", help="16 threads of mixed load on two processes")
    soak.add_argument("--minutes", type=float, default=30.0)
    soak.add_argument("--threads", type=int, default=16)
    soak.add_argument("--hosts", type=int, default=4)
    soak.add_argument("--vms-per-host", type=int, default=25)
    soak.add_argument("--time-scale", type=float, default=30.0)
    soak.add_argument("--growth-from", type=float, default=5.0,
                      help="minute RSS growth is measured from (at most half the run)")
    soak.add_argument("--wsman-share", type=float, default=0.4,
                      help="share of reads, enumerations and checks sent over WS-Man")
    soak.add_argument("--think-ms", type=float, default=0.0,
                      help="pause of each client thread between operations")
    soak.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    run = {"memory": run_memory, "bystander": run_bystander, "soak": run_soak}[args.command]
    figures = run(args)
    line = json.dumps(figures)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")
    if args.command == "soak":
        return 0 if figures["error_total"] == 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
