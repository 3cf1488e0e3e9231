"""CIM-XML benchmark: a live `hvsim serve` measured from a separate process.

For each cluster size N (VMs on one host, so Msvm_ComputerSystem has N+1 instances) it measures
GetInstance latency (p50/p99 over 2,000 pywbem calls polling instances read before),
EnumerateInstances of every Msvm_ComputerSystem, GetInstance throughput with 8 pywbem threads
and with wrk (8 keep-alive connections), and the server's CPU per operation: user+system time of
the server's process tree over each phase, divided by the operations it served. "Cold" columns
are first reads (nothing rendered or cached yet): a first GetInstance of 300 distinct VMs and the
first enumeration. Peers: shared/perf/peers.md.

    python bench/cimxml.py                 # N = 10, 1000, 10000
    python bench/cimxml.py --sizes 10 100  # quicker
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pywbem
from benchserver import BenchServer, measure

NAMESPACE = "root/virtualization/v2"
GETINSTANCE_BODY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<CIM CIMVERSION="2.0" DTDVERSION="2.0">'
    '<MESSAGE ID="1001" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="GetInstance">'
    '<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="virtualization"/>'
    '<NAMESPACE NAME="v2"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="InstanceName">'
    '<INSTANCENAME CLASSNAME="Msvm_ComputerSystem"><KEYBINDING NAME="CreationClassName">'
    '<KEYVALUE VALUETYPE="string">Msvm_ComputerSystem</KEYVALUE></KEYBINDING>'
    '<KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string">{name}</KEYVALUE></KEYBINDING>'
    '</INSTANCENAME></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE>'
    "</IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"
)


def connection(url: str) -> pywbem.WBEMConnection:
    return pywbem.WBEMConnection(url, ("bench", "bench"), default_namespace=NAMESPACE,
                                 timeout=600)


def bench_size(vms: int, rounds_scale: float, wrk_seconds: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"hvsim-bench-{vms}-"))
    server = BenchServer(workdir, ["--hosts", "1", "--vms-per-host", str(vms), "--seed", "1"],
                         startup_seconds=600)
    try:
        conn = connection(server.url)
        paths = conn.EnumerateInstanceNames("Msvm_ComputerSystem")
        vm_paths = [p for p in paths if len(p["Name"]) == 36] or paths
        rng = random.Random(1)
        # Cold: the first read of each instance (nothing rendered or cached yet).
        cold = rng.sample(vm_paths, min(300, len(vm_paths)))
        _, cold_cpu = measure(server, len(cold), lambda: [conn.GetInstance(p) for p in cold])
        # Warm: a client polling instances it has read before (the steady state).
        polled = cold[:50]
        latencies: list[float] = []

        def get_loop() -> None:
            for _ in range(2000):
                path = rng.choice(polled)
                start = time.perf_counter()
                conn.GetInstance(path, LocalOnly=False)
                latencies.append(time.perf_counter() - start)

        _, get_cpu = measure(server, 2000, get_loop)
        result = {
            "vms": vms,
            "get_p50_ms": statistics.median(latencies) * 1000,
            "get_p99_ms": sorted(latencies)[int(len(latencies) * 0.99)] * 1000,
            "get_cpu_ms": get_cpu,
            "get_cold_cpu_ms": cold_cpu,
        }
        wall, enum_cold_cpu = measure(server, 1, lambda: conn.EnumerateInstances(
            "Msvm_ComputerSystem"))
        rounds = max(3, int(rounds_scale * 2000 / (vms + 1)))
        wall, enum_cpu = measure(server, rounds, lambda: [
            conn.EnumerateInstances("Msvm_ComputerSystem") for _ in range(rounds)])
        result.update(enum_wall_ms=wall * 1000 / rounds, enum_cpu_ms=enum_cpu,
                      enum_cold_cpu_ms=enum_cold_cpu)

        done = [0]
        stop_at = time.monotonic() + 5

        def worker(seed: int) -> None:
            local, local_rng = connection(server.url), random.Random(seed)
            while time.monotonic() < stop_at:
                local.GetInstance(local_rng.choice(vm_paths))
                done[0] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        vm_paths = polled
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result["threads8_ops_s"] = done[0] / (time.perf_counter() - start)
        result.update(wrk(server, vm_paths[0]["Name"], wrk_seconds))
        return result
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def wrk(server: BenchServer, name: str, seconds: int) -> dict[str, float]:
    if shutil.which("wrk") is None:
        return {}
    body = GETINSTANCE_BODY.format(name=name)
    script = Path(tempfile.mkdtemp()) / "getinstance.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = \'application/xml; charset="utf-8"\'\n'
        'wrk.headers["CIMOperation"] = "MethodCall"\n'
        'wrk.headers["CIMMethod"] = "GetInstance"\n'
        'wrk.headers["CIMObject"] = "root/virtualization/v2"\n'
        'wrk.headers["Authorization"] = "Basic YmVuY2g6YmVuY2g="\n')
    cpu = server.cpu_seconds()
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script),
                          f"{server.url}/cimom"], capture_output=True, text=True, check=True)
    cpu = server.cpu_seconds() - cpu
    rate_match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    total_match = re.search(r"(\d+) requests in", out.stdout)
    assert rate_match and total_match, f"unexpected wrk output: {out.stdout}"
    rate = float(rate_match.group(1))
    total = int(total_match.group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    return {"wrk_ops_s": rate, "wrk_cpu_ms": cpu * 1000 / max(total, 1),
            "wrk_errors": int(bad.group(1)) if bad else 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--rounds", type=float, default=1.0, help="scale enumeration rounds")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = [bench_size(n, args.rounds, args.wrk_seconds) for n in args.sizes]
    header = ("VMs", "Get p50 ms", "Get p99 ms", "Get CPU ms", "Get cold CPU ms",
              "Enum wall ms", "Enum CPU ms", "Enum cold CPU ms", "8 thr ops/s", "wrk ops/s",
              "wrk CPU ms")
    keys = ("vms", "get_p50_ms", "get_p99_ms", "get_cpu_ms", "get_cold_cpu_ms",
            "enum_wall_ms", "enum_cpu_ms", "enum_cold_cpu_ms", "threads8_ops_s", "wrk_ops_s",
            "wrk_cpu_ms")
    print(" | ".join(header))
    for row in results:
        print(" | ".join(f"{row.get(k, float('nan')):.3f}" if isinstance(row.get(k), float)
                         else str(row.get(k, "-")) for k in keys))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
