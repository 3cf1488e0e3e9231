"""VM lifecycle and definition benchmark: server CPU per method call, measured with pywbem
against a live `hvsim serve` (one host, the request log off).

Each phase makes one call per VM for N VMs the benchmark defines itself and reports the server's
CPU (user + system of its process tree) over the phase divided by N, and the client's p50/p99
latency. Definition: DefineSystem (memory and processor settings), ModifyResourceSettings
(memory), AddResourceSettings (a VHD, which gets a drive of its own), RemoveResourceSettings
(that drive), DestroySystem. Lifecycle (RequestStateChange): start, pause, resume, save, start
from saved (restore), turn off; between phases the VMs are polled until every job has ended
(not counted). `--time-scale` keeps the simulated durations short.

    python bench/lifecycle.py            # 100 VMs
    python bench/lifecycle.py --vms 20   # quicker
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pywbem
from benchserver import BenchServer
from figures import percentile, print_table
from pywbem import CIMInstance, CIMInstanceName, Uint16, Uint64

NAMESPACE = "root/virtualization/v2"
MEMORY_PART = "4764334d-e001-4176-82ee-5594ec9b530e"  # a VM's memory settings
STATES = {"start": (2, 2), "pause": (9, 9), "resume": (2, 2), "save": (6, 6),
          "restore": (2, 2), "turn off": (3, 3)}  # request, state it ends in


def embedded(classname: str, **values: Any) -> str:
    return CIMInstance(classname, properties=values).tocimxmlstr()


class Bench:
    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.conn = pywbem.WBEMConnection(server.url, ("bench", "bench"),
                                          default_namespace=NAMESPACE, timeout=600)
        (self.service,) = self.conn.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")
        self.rows: list[dict[str, Any]] = []

    def phase(self, name: str, calls: list[Callable[[], Any]]) -> list[Any]:
        """Run the calls one after another; record CPU per call and latency."""
        latencies, results = [], []
        cpu = self.server.cpu_seconds()
        for call in calls:
            start = time.perf_counter()
            results.append(call())
            latencies.append((time.perf_counter() - start) * 1000)
        cpu_ms = (self.server.cpu_seconds() - cpu) * 1000 / len(calls)
        self.rows.append({"operation": name, "calls": len(calls), "cpu_ms": cpu_ms,
                          "p50_ms": percentile(latencies, 0.5),
                          "p99_ms": percentile(latencies, 0.99)})
        return results

    def invoke(self, method: str, target: Any = None, **params: Any) -> Any:
        rv, out = self.conn.InvokeMethod(method, target or self.service, **params)
        if int(rv) not in (0, 4096):
            raise RuntimeError(f"{method} returned {rv}")
        return out

    def wait_for(self, vms: list[CIMInstanceName], state: int) -> None:
        deadline = time.monotonic() + 300
        pending = list(vms)
        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} VMs never reached {state}")
            pending = [vm for vm in pending if self.conn.GetInstance(vm)["EnabledState"] != state]
            if pending:
                time.sleep(0.05)


def run(vms: int, time_scale: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="hvsim-bench-lifecycle-") as tmp:
        server = BenchServer(Path(tmp), ["--hosts", "1", "--vms-per-host", "1",
                                         "--time-scale", str(time_scale)], startup_seconds=120)
        try:
            bench = Bench(server)
            names = [f"bench-{n:04d}" for n in range(vms)]
            defined = bench.phase("DefineSystem", [partial(
                bench.invoke, "DefineSystem",
                SystemSettings=embedded("Msvm_VirtualSystemSettingData", ElementName=name,
                                        VirtualSystemSubType="Microsoft:Hyper-V:SubType:2"),
                ResourceSettings=[embedded("Msvm_MemorySettingData", VirtualQuantity=Uint64(512)),
                                  embedded("Msvm_ProcessorSettingData",
                                           VirtualQuantity=Uint64(1))]) for name in names])
            systems: list[CIMInstanceName] = []
            for out in defined:
                path = out["ResultingSystem"].copy()
                path.host = path.namespace = None
                systems.append(path)
            guids = [str(path.keybindings["Name"]) for path in systems]
            bench.phase("ModifyResourceSettings", [partial(
                bench.invoke, "ModifyResourceSettings", ResourceSettings=[embedded(
                    "Msvm_MemorySettingData", VirtualQuantity=Uint64(1024),
                    InstanceID=f"Microsoft:{guid}\\{MEMORY_PART}")]) for guid in guids])
            added = bench.phase("AddResourceSettings", [partial(
                bench.invoke, "AddResourceSettings",
                AffectedConfiguration=CIMInstanceName(
                    "Msvm_VirtualSystemSettingData", {"InstanceID": f"Microsoft:{guid}"}),
                ResourceSettings=[embedded("Msvm_StorageAllocationSettingData",
                                           ResourceType=Uint16(31),
                                           HostResource=[f"C:\\VMs\\{guid}.vhdx"])])
                for guid in guids])
            drives = []
            for out in added:
                (disk,) = out["ResultingResourceSettings"]
                drive_id = str(disk.keybindings["InstanceID"])[:-1] + "D"  # ...\L -> ...\D
                drives.append(CIMInstanceName("Msvm_ResourceAllocationSettingData",
                                              {"InstanceID": drive_id}))
            bench.phase("RemoveResourceSettings", [partial(
                bench.invoke, "RemoveResourceSettings", ResourceSettings=[drive])
                for drive in drives])
            for name, (requested, final) in STATES.items():
                bench.phase(f"RequestStateChange {name}", [partial(
                    bench.invoke, "RequestStateChange", vm, RequestedState=Uint16(requested))
                    for vm in systems])
                bench.wait_for(systems, final)
            bench.phase("DestroySystem", [partial(bench.invoke, "DestroySystem",
                                                  AffectedSystem=vm) for vm in systems])
            return bench.rows
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=100)
    parser.add_argument("--time-scale", type=float, default=200.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rows = run(args.vms, args.time_scale)
    print_table([("operation", "operation"), ("calls", "calls"), ("server CPU ms", "cpu_ms"),
                 ("p50 ms", "p50_ms"), ("p99 ms", "p99_ms")], rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
