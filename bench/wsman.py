"""WS-Management benchmark: a live `hvsim serve` measured from a separate process with pypsrp.

For each cluster size N (VMs on one host, so Msvm_ComputerSystem has N+1 instances) it measures
Get latency (p50/p99 over 4,200 pypsrp calls on instances read before) and the server's CPU per
Get (median of 7 rounds), the same Gets NTLM-sealed (pypsrp's default auth and encryption over
http) in rounds alternating with the plain ones, and their cost relative to plain ones, Get
throughput with 8 pypsrp threads, an optimized Enumerate of every Msvm_ComputerSystem with
MaxEnvelopeSize 512000 followed by Pulls to the end (server CPU for the whole enumeration, the
first one and the median of 7 rounds of repeated ones), and wrk's Get throughput (8 keep-alive
connections).
Server CPU is user+system time of the server's process tree over a phase, divided by the
operations it served. Peers: shared/perf/peers.md. Targets: Get <= 0.4 ms, Enumerate of 10,000
<= 150 ms, sealed <= 1.5 x plain.

    python bench/wsman.py                  # N = 10, 10000
    python bench/wsman.py --sizes 10 1000  # quicker
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from benchserver import BenchServer, measure
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
CS = V2 + "Msvm_ComputerSystem"
NTLM_PASSWORD = "Hvsim-NTLM-1"
ENUMERATE = ('<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
             'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">'
             "<wsman:OptimizeEnumeration/><wsman:MaxElements>32000</wsman:MaxElements>"
             "</wsen:Enumerate>")
PULL = ('<wsen:Pull xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration">'
        "<wsen:EnumerationContext>{context}</wsen:EnumerationContext>"
        "<wsen:MaxElements>32000</wsen:MaxElements></wsen:Pull>")
GET_BODY = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
    '<wsa:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get'
    "</wsa:Action><wsa:MessageID>uuid:8C1E34A4-6E0B-4C38-9B52-2E3E0A27F0B1</wsa:MessageID>"
    f'<wsman:ResourceURI s:mustUnderstand="true">{CS}</wsman:ResourceURI>'
    '<wsman:MaxEnvelopeSize s:mustUnderstand="true">153600</wsman:MaxEnvelopeSize>'
    "<wsman:OperationTimeout>PT20S</wsman:OperationTimeout><wsman:SelectorSet>"
    '<wsman:Selector Name="CreationClassName">Msvm_ComputerSystem</wsman:Selector>'
    '<wsman:Selector Name="Name">{name}</wsman:Selector></wsman:SelectorSet></s:Header>'
    "<s:Body/></s:Envelope>")


class Server(BenchServer):
    def __init__(self, vms: int, workdir: Path) -> None:
        super().__init__(workdir, ["--hosts", "1", "--vms-per-host", str(vms), "--seed", "1"],
                         startup_seconds=900)

    def client(self, auth: str = "basic", **options: Any) -> WSMan:
        if auth == "basic":
            options.setdefault("encryption", "never")
            return WSMan("127.0.0.1", port=self.port, ssl=False, auth="basic",
                         username="bench", password="bench", operation_timeout=60,
                         read_timeout=600, **options)
        return WSMan("127.0.0.1", port=self.port, ssl=False, auth=auth, username="bench",
                     password=NTLM_PASSWORD, operation_timeout=60, read_timeout=600, **options)


def selectors(name: str) -> SelectorSet:
    keys = SelectorSet()
    keys.add_option("CreationClassName", "Msvm_ComputerSystem")
    keys.add_option("Name", name)
    return keys


def envelope(action: str, body: str, message_id: int, resource_uri: str = CS) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
        'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
        f'<wsa:Action s:mustUnderstand="true">{action}</wsa:Action>'
        f"<wsa:MessageID>uuid:00000000-0000-0000-0000-{message_id:012d}</wsa:MessageID>"
        f'<wsman:ResourceURI s:mustUnderstand="true">{resource_uri}</wsman:ResourceURI>'
        '<wsman:MaxEnvelopeSize s:mustUnderstand="true">512000</wsman:MaxEnvelopeSize>'
        f"<wsman:OperationTimeout>PT60S</wsman:OperationTimeout></s:Header><s:Body>{body}"
        "</s:Body></s:Envelope>").encode()


def enumerate_all(wsman: WSMan) -> tuple[int, int]:
    """(instances, requests) of an optimized Enumerate followed by Pulls to the end.

    Sent through pypsrp's transport as raw envelopes: parsing 10,000 instances with
    ElementTree takes the client seconds, and the server's cost is what is measured.
    """
    action = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/"
    reply = wsman.transport.send(envelope(action + "Enumerate", ENUMERATE, 1))
    count, requests = reply.count(b"<p:Msvm_ComputerSystem "), 1
    while context := re.search(rb"<n:EnumerationContext>([^<]+)<", reply):
        requests += 1
        reply = wsman.transport.send(envelope(
            action + "Pull", PULL.format(context=context.group(1).decode()), requests))
        count += reply.count(b"<p:Msvm_ComputerSystem ")
    return count, requests


def names_of(wsman: WSMan) -> list[str]:
    body = wsman.enumerate(CS, ET.fromstring(
        ENUMERATE.replace("</wsen:Enumerate>",
                          "<wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>"
                          "</wsen:Enumerate>")))
    names = [s.text or "" for s in body.iterfind(".//wsman:Selector[@Name='Name']", NAMESPACES)]
    context = body.findtext("wsen:EnumerateResponse/wsen:EnumerationContext",
                            namespaces=NAMESPACES)
    while context:
        body = wsman.pull(CS, ET.fromstring(PULL.format(context=context)))
        names += [s.text or "" for s in body.iterfind(".//wsman:Selector[@Name='Name']",
                                                      NAMESPACES)]
        context = body.findtext("wsen:PullResponse/wsen:EnumerationContext",
                                namespaces=NAMESPACES)
    return names


def bench_size(vms: int, wrk_seconds: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"hvsim-wsman-bench-{vms}-"))
    server = Server(vms, workdir)
    try:
        plain = server.client(max_envelope_size=512000)
        vm_names = [n for n in names_of(plain) if len(n) == 36]
        rng = random.Random(1)
        polled = rng.sample(vm_names, min(50, len(vm_names)))
        for name in polled:
            plain.get(CS, selector_set=selectors(name))
        latencies: list[float] = []

        def get_loop(client: WSMan, count: int, record: bool) -> None:
            for _ in range(count):
                name = rng.choice(polled)
                start = time.perf_counter()
                client.get(CS, selector_set=selectors(name))
                if record:
                    latencies.append(time.perf_counter() - start)

        sealed = server.client("negotiate")
        get_loop(sealed, 5, False)  # handshake outside the measurement
        # Plain and sealed rounds alternate: on a small machine the client shares the CPU.
        plain_rounds: list[float] = []
        sealed_rounds: list[float] = []
        for _ in range(7):
            plain_rounds.append(measure(server, 600, lambda: get_loop(plain, 600, True))[1])
            sealed_rounds.append(measure(server, 600, lambda: get_loop(sealed, 600, False))[1])
        get_cpu = statistics.median(plain_rounds)
        sealed_cpu = statistics.median(sealed_rounds)
        result: dict[str, float] = {
            "vms": vms,
            "get_p50_ms": statistics.median(latencies) * 1000,
            "get_p99_ms": sorted(latencies)[int(len(latencies) * 0.99)] * 1000,
            "get_cpu_ms": get_cpu,
            "sealed_get_cpu_ms": sealed_cpu,
            "sealed_ratio": sealed_cpu / get_cpu if get_cpu else 0.0,
        }
        counted: list[tuple[int, int]] = []
        _, enum_cold = measure(server, 1, lambda: counted.append(enumerate_all(plain)))
        # Repeated enumerations, each measured on its own: the rendered items are reused while
        # the world is unchanged, until clock-derived values (VM uptime) move on.
        per_round = max(1, 5000 // (vms + 1))
        rounds = [measure(server, per_round, lambda: counted.extend(
            enumerate_all(plain) for _ in range(per_round))) for _ in range(7)]
        assert all(c[0] == vms + 1 for c in counted), counted
        result.update(enum_cpu_ms=statistics.median(r[1] for r in rounds),
                      enum_cold_cpu_ms=enum_cold, enum_requests=counted[-1][1],
                      enum_wall_ms=statistics.median(r[0] for r in rounds) * 1000 / per_round)

        done = [0]
        stop_at = time.monotonic() + 5

        def worker(seed: int) -> None:
            client, local = server.client(), random.Random(seed)
            while time.monotonic() < stop_at:
                client.get(CS, selector_set=selectors(local.choice(polled)))
                done[0] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result["threads8_ops_s"] = done[0] / (time.perf_counter() - start)
        result.update(wrk(server, polled[0], wrk_seconds))
        return result
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _wrk_figure(pattern: str, output: str) -> str:
    found = re.search(pattern, output)
    if found is None:
        raise RuntimeError(f"wrk's report has no {pattern!r}:\n{output}")
    return found.group(1)


def wrk(server: Server, name: str, seconds: int) -> dict[str, float]:
    if shutil.which("wrk") is None:
        return {}
    script = Path(tempfile.mkdtemp()) / "get.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(GET_BODY.format(name=name))}\n"
        'wrk.headers["Content-Type"] = "application/soap+xml;charset=UTF-8"\n'
        'wrk.headers["Authorization"] = "Basic YmVuY2g6YmVuY2g="\n')
    cpu = server.cpu_seconds()
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script),
                          f"{server.url}/wsman"], capture_output=True, text=True, check=True)
    cpu = server.cpu_seconds() - cpu
    rate = float(_wrk_figure(r"Requests/sec:\s+([\d.]+)", out.stdout))
    total = int(_wrk_figure(r"(\d+) requests in", out.stdout))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    return {"wrk_ops_s": rate, "wrk_cpu_ms": cpu * 1000 / max(total, 1),
            "wrk_errors": int(bad.group(1)) if bad else 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10000])
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = [bench_size(n, args.wrk_seconds) for n in args.sizes]
    columns = [("VMs", "vms", "{:.0f}"), ("Get p50 ms", "get_p50_ms", "{:.2f}"),
               ("Get p99 ms", "get_p99_ms", "{:.2f}"), ("Get CPU ms", "get_cpu_ms", "{:.3f}"),
               ("sealed Get CPU ms", "sealed_get_cpu_ms", "{:.3f}"),
               ("sealed/plain", "sealed_ratio", "{:.2f}"),
               ("Enum CPU ms", "enum_cpu_ms", "{:.1f}"),
               ("Enum first CPU ms", "enum_cold_cpu_ms", "{:.1f}"),
               ("Enum requests", "enum_requests", "{:.0f}"),
               ("8 thr ops/s", "threads8_ops_s", "{:.0f}"), ("wrk ops/s", "wrk_ops_s", "{:.0f}"),
               ("wrk CPU ms", "wrk_cpu_ms", "{:.3f}")]
    print(" | ".join(title for title, _, _ in columns))
    for result in results:
        print(" | ".join(fmt.format(result[key]) if key in result else "-"
                         for _, key, fmt in columns))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
