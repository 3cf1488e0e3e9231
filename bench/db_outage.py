"""Database outage benchmark: what clients, the world and the log see when PostgreSQL fails.

A private PostgreSQL cluster, started as the test suite starts one (tests/support/postgres.py),
and two `hvsim serve --hosts 2 --vms-per-host 24 --time-scale 10` processes sharing it; 8 client
threads read and migrate over CIM-XML and WS-Management and one prober sends WS-Man Identify (no
database work) every 50 ms (outageload.py). Each fault has a round of its own: steady load for a
few seconds, the fault, 8 s more, then the clients stop once their migrations have ended and the
world is checked.

  restart     pg_ctl restart -m fast
  stop        pg_ctl stop -m fast, 20 s, pg_ctl start
  terminate   pg_terminate_backend of every hvsim connection, 3 times, 3 s apart
  lock        LOCK TABLE virtual_machines IN ACCESS EXCLUSIVE MODE held 15 s, and in another
              round 75 s (the servers keep their default --db-lock-timeout, if they have one)

Per round: client requests by outcome (ok, CIM error by code, WS-Man fault by code, bare HTTP
error, connection error, client timeout, other); recovery = from the database being back (pg_ctl
returned, the kill, the lock released) to the end of the first successful database request
begun after the fault started; Identify p99 and maximum while the fault lasts; the longest
database request and the longest wait for an error; migrations accepted and completed; whether
every VM is on exactly one host (seen by both processes) with no job left running; WARNING /
INFO / ERROR lines and tracebacks in each server's log. A markdown table, then one JSON line.

    python bench/db_outage.py
    python bench/db_outage.py --project-root /tmp/before-outage   # another checkout's code
    python bench/db_outage.py --rounds restart lock --locks 15    # a shorter run
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pywbem
from benchserver import ROOT, BenchServer
from figures import percentile
from outageload import JOB_GIVE_UP, OutageClient, Prober, Record, Sample
from soakload import consistency
from soakworld import TERMINAL_JOB_STATES, World, cim_connection

sys.path.insert(0, str(ROOT))  # tests.support of this checkout, whatever --project-root says

from tests.support.postgres import PostgresCluster, PostgresUnavailable

Event = tuple[float, float]  # (fault began, database back), monotonic seconds
Injection = Callable[[], tuple[list[Event], dict[str, Any]]]  # a fault: its events and notes
LOG_LEVEL = re.compile(r"^(?:\d{4}-\d\d-\d\d \S+ )?(DEBUG|INFO|WARNING|ERROR|CRITICAL)[: ]",
                       re.MULTILINE)
TRACEBACK = re.compile(r"^\s*Traceback \(most recent call last\):", re.MULTILINE)
TIMEOUT_FLAG = re.compile(r"--db-(\w+)-timeout SECONDS\n(.*?)(?=\n  -|\n\n|\Z)", re.DOTALL)
ROUND_KINDS = ("restart", "stop", "terminate", "lock")


# -- the code under test -------------------------------------------------------------------------


def serve_help(root: Path) -> str:
    return subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], cwd=root,
                          capture_output=True, text=True, check=True).stdout


def timeout_flags(help_text: str) -> dict[str, str]:
    """--db-*-timeout flags of `hvsim serve` and their documented defaults (empty: none)."""
    flags = {}
    for name, text in TIMEOUT_FLAG.findall(help_text):
        default = re.search(r"default:?\s*([\d.]+)", " ".join(text.split()))
        flags[name] = f"{default.group(1)} s" if default else "?"
    return flags


def commit_of(root: Path) -> str:
    """The checkout's commit ("-dirty" with local changes) and the start of its subject."""
    def git(*command: str) -> str:
        return subprocess.run(["git", "-C", str(root), *command], capture_output=True,
                              text=True, check=False).stdout.strip()
    subject = git("log", "-1", "--format=%s")[:60]
    return f"{git('describe', '--always', '--dirty') or 'unknown'} {subject}"


# -- faults --------------------------------------------------------------------------------------


class Faults:
    """The faults, each returning its events and notes for the report."""

    def __init__(self, cluster: PostgresCluster, args: argparse.Namespace) -> None:
        self.cluster, self.args = cluster, args

    def rounds(self) -> list[tuple[str, Injection]]:
        args = self.args
        every: list[tuple[str, Injection]] = [
            ("restart", self.restart),
            (f"stop {args.stop_seconds:g} s", self.stop_and_start),
            (f"terminate x{args.kills}", self.terminate),
        ]
        every += [(f"lock {seconds:g} s", functools.partial(self.lock, seconds))
                  for seconds in args.locks]
        return [(name, inject) for name, inject in every if name.split()[0] in args.rounds]

    def restart(self) -> tuple[list[Event], dict[str, Any]]:
        began = time.monotonic()
        self.cluster.restart_server()
        return [(began, time.monotonic())], {}

    def stop_and_start(self) -> tuple[list[Event], dict[str, Any]]:
        began = time.monotonic()
        self.cluster.stop_server()
        time.sleep(max(0.0, began + self.args.stop_seconds - time.monotonic()))
        self.cluster.start_server()
        return [(began, time.monotonic())], {}

    def terminate(self) -> tuple[list[Event], dict[str, Any]]:
        events, killed = [], []
        with psycopg.connect(self.cluster.url, autocommit=True, connect_timeout=10) as admin:
            for kill in range(self.args.kills):
                if kill:
                    time.sleep(self.args.kill_gap)
                # Every other client of this database is an hvsim process.
                row = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'").fetchone()
                now = time.monotonic()
                events.append((now, now))
                killed.append(int(row[0]) if row else 0)
        return events, {"connections_terminated": killed}

    def lock(self, seconds: float) -> tuple[list[Event], dict[str, Any]]:
        with psycopg.connect(self.cluster.url, connect_timeout=10) as holder:
            asked = time.monotonic()
            holder.execute(f"LOCK TABLE {self.args.lock_table} IN ACCESS EXCLUSIVE MODE")
            began = time.monotonic()
            time.sleep(seconds)
            holder.rollback()
            return [(began, time.monotonic())], {"lock_acquired_after_s": round(began - asked, 3)}


# -- one round ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, servers: list[BenchServer], world: World,
                 prober: Prober) -> None:
        self.args, self.servers, self.world, self.prober = args, servers, world, prober
        guids = sorted(world.homes)
        self.locations = [{guid: world.homes[guid] for guid in guids[i::args.threads]}
                          for i in range(args.threads)]

    def round(self, index: int, name: str,
              inject: Injection) -> dict[str, Any]:
        offsets = [server.log_path.stat().st_size for server in self.servers]
        record, stop = Record(), threading.Event()
        clients = [OutageClient(i, self.world, location, record, stop, index, self.args)
                   for i, location in enumerate(self.locations)]
        for client in clients:
            client.start()
        time.sleep(self.args.before)
        events, notes = inject()
        time.sleep(self.args.after)
        stop.set()
        for client in clients:
            client.join(JOB_GIVE_UP + 60)
        self.wait_for_jobs()
        for client in clients:
            client.settle_uncertain()
        try:
            checked: dict[str, Any] = consistency(self.world, [*clients])
        except pywbem.Error as error:
            checked = {"check failed": repr(error)[:200]}
        time.sleep(0.5)  # the last log lines reach the files
        logs = {label: log_counts(server.log_path, offset) for label, server, offset
                in zip("AB", self.servers, offsets, strict=True)}
        alive = [server.process.poll() is None for server in self.servers]
        return summarize(name, record, events, self.prober, checked, logs, alive, notes)

    def wait_for_jobs(self, patience: float = 60.0) -> None:
        """Until no migration job is left running (a VM whose submission failed may still
        move), so that where every VM ended is final."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                running = sum(
                    1 for host in self.world.hosts
                    for job in cim_connection(self.world.urls[0][host]).EnumerateInstances(
                        "Msvm_MigrationJob", PropertyList=["JobState"])
                    if int(job["JobState"]) not in TERMINAL_JOB_STATES)
            except pywbem.Error:
                running = -1
            if running == 0:
                return
            time.sleep(0.5)


def log_counts(path: Path, offset: int) -> dict[str, int]:
    with path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    levels = Counter(LOG_LEVEL.findall(text))
    return {"WARNING": levels["WARNING"], "INFO": levels["INFO"],
            "ERROR": levels["ERROR"] + levels["CRITICAL"],
            "tracebacks": len(TRACEBACK.findall(text)), "lines": text.count("\n")}


def summarize(name: str, record: Record, events: list[Event], prober: Prober,
              checked: dict[str, Any], logs: dict[str, dict[str, int]], alive: list[bool],
              notes: dict[str, Any]) -> dict[str, Any]:
    samples = list(record.samples)
    outcomes = Counter(sample.result for sample in samples)
    by_class: dict[str, Counter[str]] = {key: Counter() for key in
                                         ("CIM", "WS-Man", "HTTP", "connection", "timeout",
                                          "other")}
    for outcome, count in outcomes.items():
        if outcome != "ok":
            kind, _, code = outcome.partition(" ")
            by_class[kind if kind in by_class else "other"][code or kind] += count
    by_kind: dict[str, Counter[str]] = {}
    for sample in samples:
        by_kind.setdefault(sample.kind, Counter())[sample.result] += 1
    fault_window = (min(e[0] for e in events), max(e[1] for e in events))
    probes = prober.during(*fault_window)
    latencies = [latency for latency, _ in probes]
    failed = [sample.seconds for sample in samples if sample.result != "ok"]
    recoveries = [recovery(samples, event) for event in events]
    return {
        "round": name, "requests": len(samples), "ok": outcomes["ok"],
        "cim_errors": dict(by_class["CIM"]), "wsman_faults": dict(by_class["WS-Man"]),
        "bare_http": dict(by_class["HTTP"]), "connection_errors": by_class["connection"].total(),
        "client_timeouts": by_class["timeout"].total(), "other": dict(by_class["other"]),
        "fault_s": round(fault_window[1] - fault_window[0], 2),
        "recovery_s": (None if None in recoveries
                       else round(max(r for r in recoveries if r is not None), 3)),
        "recovery_each_s": [None if r is None else round(r, 3) for r in recoveries],
        "identify": {"probes": len(probes), "failed": sum(1 for _, ok in probes if not ok),
                     "p50_ms": ms(statistics.median(latencies)) if latencies else None,
                     "p99_ms": ms(percentile(latencies, 0.99)) if latencies else None,
                     "max_ms": ms(max(latencies)) if latencies else None},
        "db_request_max_s": round(max((s.seconds for s in samples), default=0.0), 2),
        "error_wait_max_s": round(max(failed, default=0.0), 2),
        "slowest": [{"kind": s.kind, "result": s.result, "seconds": round(s.seconds, 2)}
                    for s in sorted(samples, key=lambda s: -s.seconds)[:5]],
        "migrations": dict(record.migrations),
        "vms_on_one_host": not checked, "consistency": checked,
        "servers_alive": all(alive), "logs": logs, "notes": notes,
        "error_messages": record.details,
        "by_kind": {kind: dict(counts) for kind, counts in sorted(by_kind.items())},
    }


def recovery(samples: list[Sample], event: Event) -> float | None:
    """Seconds from the database being back to the end of the first successful request begun
    after the fault started and ending after the database was back."""
    began, back = event
    ends = [s.end for s in samples if s.result == "ok" and s.start >= began and s.end >= back]
    return min(ends) - back if ends else None


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# -- report ------------------------------------------------------------------------------------


def markdown(rows: list[dict[str, Any]]) -> str:
    def counts(values: dict[str, int]) -> str:
        return ", ".join(f"{key} {count}" for key, count in sorted(values.items())) or "0"

    def logs(entry: dict[str, int]) -> str:
        return f"{entry['WARNING']}/{entry['INFO']}/{entry['ERROR']}/{entry['tracebacks']}"

    header = ["round", "requests", "ok", "CIM errors", "WS-Man faults", "bare HTTP errors",
              "conn. errors", "client timeouts", "other", "recovery s", "Identify p99 / max ms",
              "DB request max s", "migrations accepted / completed", "VMs on one host",
              "log A W/I/E/tb", "log B W/I/E/tb"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        identify = row["identify"]
        cells = [row["round"], row["requests"], row["ok"], counts(row["cim_errors"]),
                 counts(row["wsman_faults"]), counts(row["bare_http"]),
                 row["connection_errors"], row["client_timeouts"],
                 sum(row["other"].values()),
                 "-" if row["recovery_s"] is None else f"{row['recovery_s']:.2f}",
                 f"{identify['p99_ms']} / {identify['max_ms']}", row["db_request_max_s"],
                 f"{row['migrations'].get('accepted', 0)} / "
                 f"{row['migrations'].get('completed', 0)}",
                 "yes" if row["vms_on_one_host"] else "NO", logs(row["logs"]["A"]),
                 logs(row["logs"]["B"])]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = args.project_root.resolve()
    bounds = timeout_flags(serve_help(root))
    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as error:
        raise SystemExit(f"the benchmark needs PostgreSQL: {error}") from None
    workdir = Path(tempfile.mkdtemp(prefix="hvsim-bench-outage-"))
    # Every step of the clean-up runs even when an earlier one fails, in reverse order.
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(cluster.stop)
        cleanup.callback(keep_or_remove, workdir, args)
        options = ["--hosts", str(args.hosts), "--vms-per-host", str(args.vms_per_host),
                   "--seed", str(args.seed), "--time-scale", str(args.time_scale)]
        servers: list[BenchServer] = []
        try:
            for name in ("a", "b"):  # one after the other: the second finds the world seeded
                servers.append(BenchServer(workdir / name, options, startup_seconds=300,
                                           database=cluster.url, root=root, log_level="info"))
                cleanup.callback(servers[-1].stop)
            world = World([server.urls for server in servers])
            prober = Prober([server.port for server in servers], args.probe_ms / 1000,
                            timeout=args.client_timeout)
            prober.start()
            cleanup.callback(prober.finish)
            bench = Bench(args, servers, world, prober)
            started = time.monotonic()
            rows = []
            for index, (name, inject) in enumerate(Faults(cluster, args).rounds()):
                rows.append(bench.round(index, name, inject))
                print(f"{name}: done after {time.monotonic() - started:.0f} s",
                      file=sys.stderr)
        except BaseException:
            args.keep_logs = True
            raise
        return {"benchmark": "db_outage", "project_root": str(root), "commit": commit_of(root),
                "db_timeout_flags": bounds, "threads": args.threads, "hosts": args.hosts,
                "vms_per_host": args.vms_per_host, "time_scale": args.time_scale,
                "lock_table": args.lock_table, "wall_s": round(time.monotonic() - started),
                "rounds": rows}


def keep_or_remove(workdir: Path, args: argparse.Namespace) -> None:
    if args.keep_logs:
        print(f"server logs kept in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--project-root", type=Path, default=ROOT,
                        help="checkout whose `python -m emulator serve` runs (default: this one)")
    parser.add_argument("--rounds", nargs="+", choices=ROUND_KINDS, default=list(ROUND_KINDS))
    parser.add_argument("--stop-seconds", type=float, default=20.0)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--kill-gap", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--locks", type=float, nargs="+", default=[15.0, 75.0],
                        help="seconds the table lock is held, one round each")
    parser.add_argument("--lock-table", default="virtual_machines")
    parser.add_argument("--before", type=float, default=4.0, help="seconds of load before")
    parser.add_argument("--after", type=float, default=8.0, help="seconds of load after")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--vms-per-host", type=int, default=24)
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--think-ms", type=float, default=20.0,
                        help="pause of each client thread between operations")
    parser.add_argument("--probe-ms", type=float, default=50.0, help="Identify interval")
    parser.add_argument("--client-timeout", type=float, default=120.0,
                        help="Identify prober timeout (the clients' is soakload's, 120 s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = run(args)
    bounds = figures["db_timeout_flags"]
    print(f"code: {figures['commit']} ({figures['project_root']}); database bounds: "
          + (", ".join(f"{k} {v}" for k, v in bounds.items()) if bounds
             else "none (no --db-*-timeout flags)"))
    print(markdown(figures["rounds"]))
    line = json.dumps(figures)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
