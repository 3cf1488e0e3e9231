"""The bystander benchmark of reliability.py: how much a small client's latency grows while
the same server receives huge requests (CIM-XML 15 MB attributes, WS-Man 500 KB envelopes)."""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

from benchserver import BenchServer
from cimxml import GETINSTANCE_BODY
from figures import MB, percentile, print_table
from rawhttp import MAX_ENVELOPE_BYTES, WSMAN_HEADERS, RawHttp, cimxml_headers, start_server
from wsman import GET_BODY

BYSTANDER_GOAL_MS = 50.0


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
