"""Migration throughput: 200 migrations in flight across 20 hosts, polled by 8 clients.

Starts `hvsim serve --hosts 20 --vms-per-host 10 --time-scale 1`, submits one
MigrateVirtualSystemToHost (MigrationType 32768) per VM, each VM to the next host, through the
source host's endpoint, then polls the jobs with 8 pywbem threads (GetInstance of JobState and
PercentComplete, each thread owning every 8th job) until every job has ended. Two rounds on a
fresh world each:

  queued  the hosts' default MaximumActiveVirtualSystemMigration (2): 8 of 10 jobs per host queue
  raised  the limit raised to 10 with ModifyServiceSettings first: all 200 run at once

It reports wall completion time against the time the simulation should take (each job's
pre-copy plan from the model of §16.2, run in slots of the host's limit, divided by the time
scale), simulated job durations against the model, errors (non-4096 returns, jobs that did not
complete, exceptions), the server's CPU per poll (user + system of its process tree over the
polling phase) and poll latency.

    python bench/migration.py
    python bench/migration.py --hosts 10 --vms-per-host 5 --json out.json
"""

from __future__ import annotations

import argparse
import heapq
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pywbem
from benchserver import ROOT, BenchServer

sys.path.insert(0, str(ROOT))

from emulator.setup.scenario import generated_scenario
from providers.migration import timing

NAMESPACE = "root/virtualization/v2"
SERVICE = "Msvm_VirtualSystemMigrationService"
TERMINAL = {7, 8, 9, 10}


def connection(url: str) -> pywbem.WBEMConnection:
    return pywbem.WBEMConnection(url, creds=("bench", "bench"), default_namespace=NAMESPACE,
                                 timeout=60)


def expected_seconds(hosts: int, vms: int, seed: int) -> dict[str, float]:
    """Simulated seconds of each VM's live migration to the next host, by the model."""
    scenario = generated_scenario(hosts, vms, seed)
    by_name = {h.name: h for h in scenario.hosts}
    names = [h.name for h in scenario.hosts]
    result = {}
    for vm in scenario.vms:
        source = by_name[vm.host]
        target = by_name[names[(names.index(vm.host) + 1) % len(names)]]
        bandwidth = float(min(source.migration_bandwidth_mbps, target.migration_bandwidth_mbps))
        rate = timing.link_rate(bandwidth, compression=source.migration_compression, smb=False)
        transfer = timing.memory_transfer(vm.memory_mb, vm.dirty_rate_mbps, rate,
                                         enabled_state=vm.state)
        result[vm.guid.upper()] = (timing.SETUP_SECONDS + sum(p.seconds for p in transfer.phases)
                                   + timing.RESUME_SECONDS)
    return result


def makespan(jobs: list[tuple[float, float]], slots: int) -> float:
    """When the last of (submitted at, wall duration) jobs ends, run in order on `slots`
    slots, each job as soon as it is submitted and a slot is free."""
    free = [0.0] * slots
    end = 0.0
    for submitted, duration in jobs:
        start = max(heapq.heappop(free), submitted)
        end = max(end, start + duration)
        heapq.heappush(free, start + duration)
    return end


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_round(args: argparse.Namespace, limit: int | None) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hvsim-bench-migration-"))
    server = BenchServer(workdir, ["--hosts", str(args.hosts), "--vms-per-host",
                                   str(args.vms_per_host), "--seed", str(args.seed),
                                   "--time-scale", str(args.time_scale)], startup_seconds=300)
    errors: dict[str, int] = {"non_4096": 0, "not_completed": 0, "exceptions": 0}
    try:
        hosts = sorted(server.urls)
        conns = {h: connection(server.urls[h]) for h in hosts}
        services = {h: conns[h].EnumerateInstanceNames(SERVICE)[0] for h in hosts}
        if limit is not None:
            for host in hosts:
                setting = pywbem.CIMInstance(
                    "Msvm_VirtualSystemMigrationServiceSettingData",
                    properties={"MaximumActiveVirtualSystemMigration": pywbem.Uint32(limit)})
                rv, _ = conns[host].InvokeMethod("ModifyServiceSettings", services[host],
                                                 ServiceSettingData=setting.tocimxmlstr())
                assert rv == 0, rv
        settings = conns[hosts[0]].ExecQuery(
            "WQL", "select * from Msvm_VirtualSystemMigrationSettingData where "
                   "MigrationType = 32768")[0].tocimxmlstr()
        vms = {h: [p for p in conns[h].EnumerateInstanceNames("Msvm_ComputerSystem")
                   if p["Name"] != h] for h in hosts}
        jobs: list[tuple[str, pywbem.CIMInstanceName, str]] = []
        submit_times: dict[str, float] = {}
        submitted = time.monotonic()
        for index, host in enumerate(hosts):
            destination = hosts[(index + 1) % len(hosts)]
            for vm in vms[host]:
                try:
                    rv, out = conns[host].InvokeMethod(
                        "MigrateVirtualSystemToHost", services[host], ComputerSystem=vm,
                        DestinationHost=destination, MigrationSettingData=settings)
                except pywbem.Error:
                    errors["exceptions"] += 1
                    continue
                if rv != 4096:
                    errors["non_4096"] += 1
                    continue
                path = out["Job"].copy()
                path.host = path.namespace = None
                jobs.append((host, path, str(vm["Name"]).upper()))
                submit_times[str(vm["Name"]).upper()] = time.monotonic() - submitted
        submit_seconds = time.monotonic() - submitted

        latencies: list[float] = []
        finals: dict[str, pywbem.CIMInstance] = {}
        lock = threading.Lock()

        def poller(worker: int) -> None:
            mine = jobs[worker::args.clients]
            own = {h: connection(server.urls[h]) for h in hosts}
            pending = list(mine)
            local: list[float] = []
            while pending:
                still = []
                for host, path, guid in pending:
                    started = time.perf_counter()
                    try:
                        job = own[host].GetInstance(
                            path, PropertyList=["JobState", "PercentComplete", "StartTime",
                                                "ElapsedTime", "ErrorDescription"])
                    except pywbem.Error:
                        with lock:
                            errors["exceptions"] += 1
                        still.append((host, path, guid))
                        continue
                    local.append(time.perf_counter() - started)
                    if int(job["JobState"]) in TERMINAL:
                        with lock:
                            finals[guid] = job
                    else:
                        still.append((host, path, guid))
                pending = still
                if pending:
                    time.sleep(args.poll_interval)
            with lock:
                latencies.extend(local)

        cpu_before = server.cpu_seconds()
        threads = [threading.Thread(target=poller, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        completed_wall = time.monotonic() - submitted
        cpu = server.cpu_seconds() - cpu_before

        model_seconds = expected_seconds(args.hosts, args.vms_per_host, args.seed)
        ratios = []
        for guid, job in finals.items():
            if int(job["JobState"]) != 7:
                errors["not_completed"] += 1
                continue
            elapsed = job["ElapsedTime"].timedelta.total_seconds() * args.time_scale
            ratios.append(elapsed / model_seconds[guid])
        slots = limit or 2
        per_host: dict[str, list[tuple[float, float]]] = {}
        for host, _path, guid in jobs:
            per_host.setdefault(host, []).append(
                (submit_times[guid], model_seconds[guid] / args.time_scale))
        expected_wall = max(makespan(d, slots) for d in per_host.values())
        simulated = sorted(model_seconds[guid] for _h, _p, guid in jobs)
        polls = len(latencies)
        return {
            "limit": slots, "jobs": len(jobs), "submit_seconds": round(submit_seconds, 2),
            "completion_wall_seconds": round(completed_wall, 2),
            "expected_wall_seconds": round(expected_wall, 2),
            "model_job_seconds_min_median_max": [round(simulated[0], 1),
                                                 round(simulated[len(simulated) // 2], 1),
                                                 round(simulated[-1], 1)],
            "simulated_over_model_min": round(min(ratios), 4) if ratios else None,
            "simulated_over_model_max": round(max(ratios), 4) if ratios else None,
            "errors": errors, "polls": polls,
            "server_cpu_ms_per_poll": round(cpu * 1000 / polls, 3) if polls else None,
            "poll_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "poll_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "polls_per_second": round(polls / max(completed_wall - submit_seconds, 1e-9), 1),
        }
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--vms-per-host", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    # At 60x a 10 GbE live migration (3-10 simulated s) ends before the 200 submissions do;
    # at 1x all 200 are in flight together.
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--poll-interval", type=float, default=0.05,
                        help="seconds a client waits between passes over its jobs")
    parser.add_argument("--rounds", nargs="+", default=["queued", "raised"],
                        choices=["queued", "raised"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = {}
    for name in args.rounds:
        limit = None if name == "queued" else args.vms_per_host
        results[name] = run_round(args, limit)
        print(name, json.dumps(results[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(sum(r["errors"].values()) == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
