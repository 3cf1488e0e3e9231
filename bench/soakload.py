"""The soak of bench/reliability.py: mixed client load on two processes sharing PostgreSQL.

A private PostgreSQL cluster is started the way the test suite starts one
(tests/support/postgres.py), and two `hvsim serve --hosts H --vms-per-host V --time-scale X`
processes (A and B) serve one world from it. Each client thread owns a share of the VMs and is
the only one to migrate them, always between the VM's first host and the next one, so no
migration meets a VM that is already moving; it knows where its VMs are, so its reads never
look for a VM on the wrong host. Each operation goes to process A or B at random; reads,
enumerations, queries and compatibility checks go over WS-Management (pypsrp, Basic) for a
share of them and CIM-XML (pywbem) otherwise; migrations and their job polls use CIM-XML.

Operations (weights): read = GetInstance of an own VM (30); enumerate = all
Msvm_ComputerSystem of a host (15); query = a WQL query (10); associators = the migration
service's settings (5); compat = GetSystemCompatibilityInfo of an own VM on its host, then
CheckSystemCompatibilityInfo of that blob on the other host (15); migrate = a live migration
(MigrationType 32768) polled with GetInstance until it ends (25).

The clients are in soakclient.py, what they share (the world, the tally) in soakworld.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchserver import ROOT, BenchServer
from figures import MB
from soakclient import Client
from soakworld import TERMINAL_JOB_STATES, Tally, World, cim_connection

sys.path.insert(0, str(ROOT))

from tests.support.postgres import PostgresCluster, PostgresUnavailable


def consistency(world: World, clients: list[Client]) -> dict[str, int]:
    """Every VM on exactly one host, the same in both processes and as its client believes;
    no migration job still running."""
    expected = {guid: host for client in clients for guid, host in client.location.items()}
    problems: Counter[str] = Counter()
    for urls in world.urls:
        seen: Counter[str] = Counter()
        for host in world.hosts:
            conn = cim_connection(urls[host])
            for path in conn.EnumerateInstanceNames("Msvm_ComputerSystem"):
                guid = str(path["Name"])
                if guid == host:
                    continue
                seen[guid] += 1
                if expected.get(guid) != host:
                    problems["VM not where its client put it"] += 1
            running = [job for job in conn.EnumerateInstances(
                "Msvm_MigrationJob", PropertyList=["JobState"])
                if int(job["JobState"]) not in TERMINAL_JOB_STATES]
            problems["jobs still running"] += len(running)
        problems["VMs not on exactly one host"] += sum(
            1 for guid in expected if seen[guid] != 1)
    return {kind: count for kind, count in problems.items() if count}


def soak(args: argparse.Namespace) -> dict[str, Any]:
    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as error:
        raise SystemExit(f"the soak needs PostgreSQL: {error}") from None
    workdir = Path(tempfile.mkdtemp(prefix="hvsim-bench-soak-"))
    keep_logs = False
    servers: list[BenchServer] = []
    try:
        options = ["--hosts", str(args.hosts), "--vms-per-host", str(args.vms_per_host),
                   "--seed", str(args.seed), "--time-scale", str(args.time_scale)]
        for name in ("a", "b"):  # one after the other: the second finds the world seeded
            servers.append(BenchServer(workdir / name, options, startup_seconds=300,
                                       database=cluster.url))
        world = World([server.urls for server in servers])
        guids = sorted(world.homes)
        tally = Tally()
        started = time.monotonic()
        deadline = started + args.minutes * 60
        clients = [Client(i, world, guids[i::args.threads], tally, deadline, args)
                   for i in range(args.threads)]
        minutes = [minute_row(0, servers, (0, 0, 0), (0, 0, 0))]
        for client in clients:
            client.start()
        previous = (0, 0, 0)
        minute = 0
        while time.monotonic() < deadline:
            minute += 1
            time.sleep(max(0.0, min(started + minute * 60, deadline) - time.monotonic()))
            totals = tally.totals()
            elapsed = (time.monotonic() - started) / 60
            minutes.append(minute_row(round(elapsed, 2), servers, totals, previous))
            previous = totals
        for client in clients:
            client.join()
        checked = consistency(world, clients)
        growth_from = min(args.growth_from, args.minutes / 2)
        at_from = next(row for row in minutes if row["minute"] >= growth_from)
        end = minutes[-1]
        errors = sum(tally.errors.values()) + sum(checked.values())
        if errors:
            keep_logs = True
            print(f"server logs kept in {workdir}")
        return {
            "benchmark": "soak", "minutes_run": round((time.monotonic() - started) / 60, 2),
            "threads": args.threads, "hosts": args.hosts, "vms_per_host": args.vms_per_host,
            "time_scale": args.time_scale, "minutes": minutes,
            "operations": dict(tally.operations), "errors": dict(tally.errors),
            "error_samples": tally.samples, "refusals": dict(tally.refusals),
            "consistency": checked,
            "error_total": errors,
            "rss_growth": {
                "from_minute": at_from["minute"],
                "a_percent": round((end["rss_a_mb"] / at_from["rss_a_mb"] - 1) * 100, 1),
                "b_percent": round((end["rss_b_mb"] / at_from["rss_b_mb"] - 1) * 100, 1)},
        }
    except BaseException:
        keep_logs = True
        print(f"server logs kept in {workdir}")
        raise
    finally:
        for server in servers:
            server.stop()
        cluster.stop()
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)


def minute_row(minute: float, servers: list[BenchServer], totals: tuple[int, int, int],
               previous: tuple[int, int, int]) -> dict[str, Any]:
    return {"minute": minute, "ops": totals[0] - previous[0], "errors": totals[1] - previous[1],
            "migrations": totals[2] - previous[2],
            "rss_a_mb": round(servers[0].rss_bytes() / MB, 1),
            "rss_b_mb": round(servers[1].rss_bytes() / MB, 1)}
