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
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pywbem
from benchserver import ROOT, BenchServer
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan
from wsman import CS, V2, enumerate_all, names_of, selectors

sys.path.insert(0, str(ROOT))

from tests.support.postgres import PostgresCluster, PostgresUnavailable

NAMESPACE = "root/virtualization/v2"
SERVICE = "Msvm_VirtualSystemMigrationService"
SVC = V2 + SERVICE
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
TERMINAL_JOB_STATES = {7, 8, 9, 10}
ALREADY_MOVING = 32774
INCOMPATIBLE = 32784
WEIGHTS = {"read": 30, "enumerate": 15, "query": 10, "associators": 5, "compat": 15,
           "migrate": 25}
QUERIES = ("SELECT * FROM Msvm_ComputerSystem WHERE EnabledState = 2",
           "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'")
JOB_TIMEOUT = 300.0
MB = 1024 * 1024


class Tally:
    """Operations, errors and expected refusals by kind, shared by every client thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    def operation(self, kind: str) -> None:
        with self.lock:
            self.operations[kind] += 1

    def refusal(self, kind: str) -> None:
        with self.lock:
            self.refusals[kind] += 1

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.samples.setdefault(kind, detail[:300])

    def totals(self) -> tuple[int, int, int]:
        with self.lock:
            return (sum(self.operations.values()), sum(self.errors.values()),
                    self.operations["migrate"])


def error_kind(error: Exception) -> str:
    if isinstance(error, pywbem.CIMError):
        return f"CIMError {error.status_code_name}"
    if isinstance(error, WSManFaultError):
        return f"WSManFault {error.code}"
    return type(error).__name__


def vm_path(guid: str) -> pywbem.CIMInstanceName:
    return pywbem.CIMInstanceName("Msvm_ComputerSystem", {
        "CreationClassName": "Msvm_ComputerSystem", "Name": guid})


def vm_epr(guid: str) -> str:
    return (f'<a:Address xmlns:a="{ADDRESSING}">{ADDRESSING}/role/anonymous</a:Address>'
            f'<a:ReferenceParameters xmlns:a="{ADDRESSING}" xmlns:w="{WSMAN}">'
            f"<w:ResourceURI>{CS}</w:ResourceURI><w:SelectorSet>"
            '<w:Selector Name="CreationClassName">Msvm_ComputerSystem</w:Selector>'
            f'<w:Selector Name="Name">{guid}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters>")


def service_selectors(host: str) -> SelectorSet:
    keys = SelectorSet()
    for key, value in (("CreationClassName", SERVICE), ("Name", "migrationwmi"),
                       ("SystemCreationClassName", "Msvm_ComputerSystem"),
                       ("SystemName", host)):
        keys.add_option(key, value)
    return keys


class World:
    """What every client needs to know once: endpoints, service paths, the VMs' first hosts."""

    def __init__(self, urls: list[dict[str, str]]) -> None:
        self.urls = urls
        self.hosts = sorted(urls[0])
        conn = cim_connection(urls[0][self.hosts[0]])
        self.services = {}
        self.homes: dict[str, str] = {}
        for host in self.hosts:
            local = cim_connection(urls[0][host])
            (service,) = local.EnumerateInstanceNames(SERVICE)
            service.host = service.namespace = None
            self.services[host] = service
            for path in local.EnumerateInstanceNames("Msvm_ComputerSystem"):
                if path["Name"] != host:
                    self.homes[str(path["Name"])] = host
        self.settings = conn.ExecQuery(
            "WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                   "WHERE MigrationType = 32768")[0].tocimxmlstr()

    def partner(self, host: str) -> str:
        return self.hosts[(self.hosts.index(host) + 1) % len(self.hosts)]


def cim_connection(url: str) -> pywbem.WBEMConnection:
    return pywbem.WBEMConnection(url, creds=("bench", "bench"), default_namespace=NAMESPACE,
                                 timeout=120)


class Client(threading.Thread):
    """One client thread: random operations until the deadline, each on a random process."""

    def __init__(self, index: int, world: World, vms: list[str], tally: Tally,
                 deadline: float, args: argparse.Namespace) -> None:
        super().__init__(name=f"soak-client-{index}", daemon=True)
        self.world, self.tally, self.deadline, self.args = world, tally, deadline, args
        self.vms = vms
        self.location = {guid: world.homes[guid] for guid in vms}
        self.rng = random.Random(args.seed * 1000 + index)
        self._cim: dict[tuple[int, str], pywbem.WBEMConnection] = {}
        self._wsman: dict[tuple[int, str], WSMan] = {}

    # -- connections, each kept alive for the whole run --------------------------------------

    def cim(self, host: str) -> pywbem.WBEMConnection:
        key = (self.rng.randrange(2), host)
        if key not in self._cim:
            self._cim[key] = cim_connection(self.world.urls[key[0]][host])
        return self._cim[key]

    def wsman(self, host: str) -> WSMan:
        key = (self.rng.randrange(2), host)
        if key not in self._wsman:
            port = int(self.world.urls[key[0]][host].rsplit(":", 1)[1])
            self._wsman[key] = WSMan("127.0.0.1", port=port, ssl=False, auth="basic",
                                     encryption="never", username="bench", password="bench",
                                     operation_timeout=60, read_timeout=120)
        return self._wsman[key]

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < self.deadline:
            kind = self.rng.choices(kinds, weights)[0]
            over_wsman = kind != "migrate" and kind != "associators" and \
                self.rng.random() < self.args.wsman_share
            protocol = "wsman" if over_wsman else "cimxml"
            try:
                getattr(self, f"{kind}_{protocol}")()
                self.tally.operation(kind)
            except Exception as error:  # every failure is a finding, counted by kind
                self.tally.error(f"{kind}/{protocol}: {error_kind(error)}", repr(error))
            if self.args.think_ms:
                time.sleep(self.args.think_ms / 1000)

    def read_cimxml(self) -> None:
        guid = self.rng.choice(self.vms)
        self.cim(self.location[guid]).GetInstance(vm_path(guid))

    def read_wsman(self) -> None:
        guid = self.rng.choice(self.vms)
        self.wsman(self.location[guid]).get(CS, selector_set=selectors(guid))

    def enumerate_cimxml(self) -> None:
        self.cim(self.rng.choice(self.world.hosts)).EnumerateInstances("Msvm_ComputerSystem")

    def enumerate_wsman(self) -> None:
        client = self.wsman(self.rng.choice(self.world.hosts))
        if self.rng.random() < 0.5:
            enumerate_all(client)
        else:
            names_of(client)

    def query_cimxml(self) -> None:
        self.cim(self.rng.choice(self.world.hosts)).ExecQuery("WQL", self.rng.choice(QUERIES))

    def query_wsman(self) -> None:
        client = self.wsman(self.rng.choice(self.world.hosts))
        body = client.enumerate(V2 + "*", ET.fromstring(
            '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
            f'xmlns:wsman="{WSMAN}"><wsman:OptimizeEnumeration/><wsman:MaxElements>32000'
            "</wsman:MaxElements><wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>"
            f'<wsman:Filter Dialect="{WQL_DIALECT}">{self.rng.choice(QUERIES)}'
            "</wsman:Filter></wsen:Enumerate>"))
        context = body.findtext("wsen:EnumerateResponse/wsen:EnumerationContext",
                                namespaces=NAMESPACES)
        while context:
            body = client.pull(V2 + "*", ET.fromstring(
                '<wsen:Pull xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration">'
                f"<wsen:EnumerationContext>{context}</wsen:EnumerationContext>"
                "<wsen:MaxElements>32000</wsen:MaxElements></wsen:Pull>"))
            context = body.findtext("wsen:PullResponse/wsen:EnumerationContext",
                                    namespaces=NAMESPACES)

    def associators_cimxml(self) -> None:
        host = self.rng.choice(self.world.hosts)
        self.cim(host).Associators(
            self.world.services[host],
            ResultClass="Msvm_VirtualSystemMigrationServiceSettingData")

    def compat_cimxml(self) -> None:
        guid = self.rng.choice(self.vms)
        source = self.location[guid]
        rv, out = self.cim(source).InvokeMethod(
            "GetSystemCompatibilityInfo", self.world.services[source],
            ComputerSystem=vm_path(guid))
        if int(rv) != 0:
            raise RuntimeError(f"GetSystemCompatibilityInfo returned {rv}")
        destination = self.other_host(guid)
        rv, _ = self.cim(destination).InvokeMethod(
            "CheckSystemCompatibilityInfo", self.world.services[destination],
            CompatibilityInfo=list(out["CompatibilityInfo"]))
        self.check_verdict(int(rv))

    def compat_wsman(self) -> None:
        guid = self.rng.choice(self.vms)
        source = self.location[guid]
        info = self.invoke_wsman(source, "GetSystemCompatibilityInfo",
                                 f"<p:ComputerSystem>{vm_epr(guid)}</p:ComputerSystem>")
        if info.findtext(f"{{{SVC}}}ReturnValue") != "0":
            raise RuntimeError(f"GetSystemCompatibilityInfo returned "
                               f"{info.findtext(f'{{{SVC}}}ReturnValue')}")
        blob = "".join(f"<p:CompatibilityInfo>{e.text}</p:CompatibilityInfo>"
                       for e in info.iterfind(f"{{{SVC}}}CompatibilityInfo"))
        checked = self.invoke_wsman(self.other_host(guid), "CheckSystemCompatibilityInfo", blob)
        self.check_verdict(int(checked.findtext(f"{{{SVC}}}ReturnValue") or -1))

    def invoke_wsman(self, host: str, method: str, params: str) -> ET.Element:
        body = ET.fromstring(f'<p:{method}_INPUT xmlns:p="{SVC}">{params}</p:{method}_INPUT>')
        reply = self.wsman(host).invoke(f"{SVC}/{method}", SVC, body,
                                        selector_set=service_selectors(host))
        output = reply.find(f".//{{{SVC}}}{method}_OUTPUT")
        if output is None:
            raise RuntimeError(f"{method}: no {method}_OUTPUT in the reply")
        return output

    def check_verdict(self, rv: int) -> None:
        if rv == INCOMPATIBLE:
            self.tally.refusal("compat: incompatible")
        elif rv != 0:
            raise RuntimeError(f"CheckSystemCompatibilityInfo returned {rv}")

    def other_host(self, guid: str) -> str:
        """The host this VM moves to next: back and forth between its first host and the
        next one."""
        home = self.world.homes[guid]
        return self.world.partner(home) if self.location[guid] == home else home

    def migrate_cimxml(self) -> None:
        guid = self.rng.choice(self.vms)
        source, destination = self.location[guid], self.other_host(guid)
        try:
            rv, out = self.cim(source).InvokeMethod(
                "MigrateVirtualSystemToHost", self.world.services[source],
                ComputerSystem=vm_path(guid), DestinationHost=destination,
                MigrationSettingData=self.world.settings)
        except Exception:
            self.relocate(guid)
            raise
        if int(rv) == ALREADY_MOVING:
            self.tally.refusal("migrate: already moving")
            return
        if int(rv) != 4096:
            raise RuntimeError(f"MigrateVirtualSystemToHost returned {rv}")
        job = out["Job"].copy()
        job.host = job.namespace = None
        give_up = time.monotonic() + JOB_TIMEOUT
        while True:
            time.sleep(0.1)
            try:
                state = self.cim(source).GetInstance(
                    job, PropertyList=["JobState", "ErrorDescription"])
            except Exception as error:
                self.tally.error(f"poll/cimxml: {error_kind(error)}", repr(error))
                if time.monotonic() > give_up:
                    raise
                continue
            self.tally.operation("poll")
            if int(state["JobState"]) in TERMINAL_JOB_STATES:
                break
            if time.monotonic() > give_up:
                raise RuntimeError(f"job still in JobState {state['JobState']} after "
                                   f"{JOB_TIMEOUT:.0f} s")
        if int(state["JobState"]) != 7:
            self.relocate(guid)
            raise RuntimeError(f"job ended in JobState {state['JobState']}: "
                               f"{state['ErrorDescription']}")
        self.location[guid] = destination

    def relocate(self, guid: str) -> None:
        """After a failed migration: find out where the VM is now."""
        for host in (self.world.homes[guid], self.world.partner(self.world.homes[guid])):
            try:
                self.cim(host).GetInstance(vm_path(guid), PropertyList=["Name"])
            except pywbem.Error:
                continue
            self.location[guid] = host
            return


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
