"""The client load of bench/db_outage.py: reading and migrating clients, and an Identify prober.

Each client thread owns a share of the VMs and is the only one to migrate them (between their
first host and the next, as in soakclient.py), so it always knows where they are. It reads
(pywbem GetInstance and EnumerateInstances, pypsrp Get) and migrates
(MigrateVirtualSystemToHost over CIM-XML or WS-Management, the job then polled over the same
protocol until it ends, between the thread's other requests); every request goes to either
process at random and is recorded with its start, end and outcome. A VM whose migration had an
unknown outcome (the call failed, the job failed or was lost) is left alone for the rest of the
round and looked up afterwards.

The prober sends WS-Man Identify, which needs no database, every 50 ms, alternately to each
process, over raw keep-alive connections.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import random
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from xml.sax.saxutils import escape

import pywbem
import requests
from pypsrp.exceptions import WinRMTransportError, WSManFaultError
from pypsrp.wsman import NAMESPACES, SelectorSet
from rawhttp import WSMAN_HEADERS, RawHttp
from soakclient import Client
from soakworld import SVC, TERMINAL_JOB_STATES, Tally, World, vm_epr, vm_path
from wsman import CS, selectors

JOB_STARTED = 4096
COMPLETED = 7
POLL_INTERVAL = 0.2
# Longest a client follows one job: past the longest fault (a 75 s lock) and its recovery.
JOB_GIVE_UP = 240.0
WEIGHTS = {"get_cimxml": 25, "enumerate_cimxml": 10, "get_wsman": 25, "migrate_cimxml": 20,
           "migrate_wsman": 20}
T = TypeVar("T")
IDENTIFY = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            b'xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">'
            b"<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>")

# pypsrp logs every read timeout and unparsable fault with a traceback; the benchmark counts them.
logging.getLogger("pypsrp").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Sample:
    """One client request: kind ("get/cimxml", "poll/wsman", ...), monotonic start and end,
    and its outcome ("ok" or an error label from `outcome_of`)."""

    kind: str
    start: float
    end: float
    result: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


class NotAccepted(Exception):
    """A migration the service did not start (ReturnValue other than 4096), or a reply without
    the expected output."""


def outcome_of(error: Exception) -> str:
    """Label of a failed request; the first word is its class: CIM, WS-Man, HTTP, connection,
    timeout or other."""
    if isinstance(error, pywbem.CIMError):
        return f"CIM {error.status_code_name}"
    if isinstance(error, WSManFaultError):
        code = error.code
        return f"WS-Man {code:#010x}" if isinstance(code, int) else f"WS-Man {code or 'fault'}"
    if isinstance(error, pywbem.HTTPError):
        return f"HTTP {error.status}"
    if isinstance(error, WinRMTransportError):  # an HTTP error without a SOAP fault
        return f"HTTP {error.code}"
    if isinstance(error, pywbem.TimeoutError | requests.Timeout):
        return "timeout"
    if isinstance(error, pywbem.ConnectionError | requests.ConnectionError | OSError):
        return "connection"
    return f"other {type(error).__name__}: {str(error)[:80]}"


class Record:
    """What the client threads of one round saw: every request, the first error message of each
    outcome, and the migrations accepted and how their jobs ended."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.details: dict[str, str] = {}
        self.migrations: Counter[str] = Counter()

    def request(self, sample: Sample, error: Exception | None) -> None:
        with self.lock:
            self.samples.append(sample)
            if error is not None:
                self.details.setdefault(sample.result, f"{type(error).__name__}: {error}"[:300])

    def migration(self, what: str) -> None:
        with self.lock:
            self.migrations[what] += 1


@dataclass
class Job:
    """A migration a client follows: its VM, where the VM goes, and how to poll the job."""

    guid: str
    destination: str
    kind: str
    poll: Callable[[], int]
    give_up: float
    next_poll: float


class OutageClient(Client):
    """One client thread of a round: random reads and migrations until `stop` is set. Its
    migrations' jobs are polled between the other operations, every 0.2 s each, so the thread
    keeps reading while they run (and while a fault keeps them from ending); after `stop` it
    only polls, until every job has ended."""

    def __init__(self, index: int, world: World, location: dict[str, str], record: Record,
                 stop: threading.Event, round_index: int, args: argparse.Namespace) -> None:
        super().__init__(index, world, sorted(location), Tally(), 0.0, args)
        self.name = f"outage-client-{index}"
        self.location = location  # kept across rounds: where each own VM is
        self.record, self.stop = record, stop
        self.rng = random.Random(f"{args.seed}-{round_index}-{index}")
        self.uncertain: set[str] = set()
        self.jobs: list[Job] = []

    def run(self) -> None:
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while self.jobs or not self.stop.is_set():
            due = min(self.jobs, key=lambda job: job.next_poll, default=None)
            if due is not None and due.next_poll <= time.monotonic():
                self.poll(due)
            elif self.stop.is_set() and due is not None:
                time.sleep(max(0.0, due.next_poll - time.monotonic()))
                continue
            else:
                getattr(self, self.rng.choices(kinds, weights)[0])()
            time.sleep(self.args.think_ms / 1000)

    def timed(self, kind: str, request: Callable[[], T]) -> T | None:
        """Run request(); record it; its result, or None when it failed."""
        start = time.monotonic()
        result: T | None = None
        failure: Exception | None = None
        try:
            result = request()
        except Exception as error:  # every failure is a finding, counted by kind
            failure = error
        outcome = "ok" if failure is None else outcome_of(failure)
        self.record.request(Sample(kind, start, time.monotonic(), outcome), failure)
        return result

    def own_vm(self) -> str | None:
        moving = self.uncertain | {job.guid for job in self.jobs}
        settled = [guid for guid in self.vms if guid not in moving]
        return self.rng.choice(settled) if settled else None

    # -- reads -------------------------------------------------------------------------------

    def get_cimxml(self) -> None:
        if guid := self.own_vm():
            conn = self.cim(self.location[guid])
            self.timed("get/cimxml", lambda: conn.GetInstance(vm_path(guid)))

    def enumerate_cimxml(self) -> None:
        conn = self.cim(self.rng.choice(self.world.hosts))
        self.timed("enumerate/cimxml", lambda: conn.EnumerateInstances("Msvm_ComputerSystem"))

    def get_wsman(self) -> None:
        if guid := self.own_vm():
            client = self.wsman(self.location[guid])
            self.timed("get/wsman", lambda: client.get(CS, selector_set=selectors(guid)))

    # -- migrations --------------------------------------------------------------------------

    def migrate_cimxml(self) -> None:
        guid = self.own_vm()
        if guid is None:
            return
        source, destination = self.location[guid], self.other_host(guid)
        conn = self.cim(source)

        def submit() -> pywbem.CIMInstanceName:
            rv, out = conn.InvokeMethod(
                "MigrateVirtualSystemToHost", self.world.services[source],
                ComputerSystem=vm_path(guid), DestinationHost=destination,
                MigrationSettingData=self.world.settings)
            if int(rv) != JOB_STARTED:
                raise NotAccepted(f"ReturnValue {rv}")
            job: pywbem.CIMInstanceName = out["Job"].copy()
            job.host = job.namespace = None
            return job

        job = self.timed("migrate/cimxml", submit)
        if job is None:
            self.uncertain.add(guid)
            return
        self.record.migration("accepted")

        def poll() -> int:
            instance = self.cim(source).GetInstance(job, PropertyList=["JobState"])
            return int(instance["JobState"])

        self.follow(guid, destination, "poll/cimxml", poll)

    def migrate_wsman(self) -> None:
        guid = self.own_vm()
        if guid is None:
            return
        source, destination = self.location[guid], self.other_host(guid)
        params = (f"<p:ComputerSystem>{vm_epr(guid)}</p:ComputerSystem>"
                  f"<p:DestinationHost>{destination}</p:DestinationHost>"
                  f"<p:MigrationSettingData>{escape(self.world.settings)}"
                  "</p:MigrationSettingData>")

        def submit() -> tuple[str, SelectorSet]:
            out = self.invoke_wsman(source, "MigrateVirtualSystemToHost", params)
            rv = out.findtext(f"{{{SVC}}}ReturnValue")
            if rv != str(JOB_STARTED):
                raise NotAccepted(f"ReturnValue {rv}")
            job = out.find(f"{{{SVC}}}Job")
            uri = (None if job is None
                   else job.findtext(".//wsman:ResourceURI", namespaces=NAMESPACES))
            if job is None or not uri:
                raise NotAccepted("no job reference in the reply")
            keys = SelectorSet()
            for selector in job.iterfind(".//wsman:Selector", NAMESPACES):
                keys.add_option(selector.get("Name") or "", selector.text or "")
            return uri, keys

        job = self.timed("migrate/wsman", submit)
        if job is None:
            self.uncertain.add(guid)
            return
        self.record.migration("accepted")
        uri, keys = job

        def poll() -> int:
            reply: ET.Element = self.wsman(source).get(uri, selector_set=keys)
            return int(reply.findtext(f".//{{{uri}}}JobState") or 0)

        self.follow(guid, destination, "poll/wsman", poll)

    def follow(self, guid: str, destination: str, kind: str, poll: Callable[[], int]) -> None:
        """Poll the job from now on until it ends (through any fault)."""
        now = time.monotonic()
        self.jobs.append(Job(guid, destination, kind, poll, now + JOB_GIVE_UP,
                             now + POLL_INTERVAL))

    def poll(self, job: Job) -> None:
        """Poll once; when the job has ended (or is given up), note where its VM is."""
        state = self.timed(job.kind, job.poll)
        job.next_poll = time.monotonic() + POLL_INTERVAL
        if state in TERMINAL_JOB_STATES:
            if state == COMPLETED:
                self.record.migration("completed")
                self.location[job.guid] = job.destination
            else:
                self.record.migration(f"ended in JobState {state}")
                self.uncertain.add(job.guid)
        elif time.monotonic() > job.give_up:
            self.record.migration("lost (still running when the client gave up)")
            self.uncertain.add(job.guid)
        else:
            return
        self.jobs.remove(job)

    def settle_uncertain(self, patience: float = 60.0) -> None:
        """After the round: find out where each VM with an unknown migration outcome is."""
        deadline = time.monotonic() + patience
        for guid in sorted(self.uncertain):
            before = self.location[guid]
            self.location[guid] = ""
            while not self.location[guid] and time.monotonic() < deadline:
                self.relocate(guid)
                if not self.location[guid]:
                    time.sleep(0.5)
            self.location[guid] = self.location[guid] or before
        self.uncertain.clear()


class Prober(threading.Thread):
    """WS-Man Identify every `interval` seconds, alternately to each process; (start, end, ok)
    of every request."""

    def __init__(self, ports: list[int], interval: float, timeout: float) -> None:
        super().__init__(name="identify-prober", daemon=True)
        self.clients = [RawHttp(port, "/wsman", timeout=timeout) for port in ports]
        self.interval = interval
        self.samples: list[tuple[float, float, bool]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        turn = 0
        next_send = time.monotonic()
        while not self._halt.is_set():
            client = self.clients[turn % len(self.clients)]
            turn += 1
            start = time.monotonic()
            try:
                status, reply = client.post(IDENTIFY, WSMAN_HEADERS)
                ok = status == 200 and b"IdentifyResponse" in reply
            except (http.client.HTTPException, OSError):
                ok = False
            self.samples.append((start, time.monotonic(), ok))
            next_send = max(next_send + self.interval, time.monotonic())
            self._halt.wait(next_send - time.monotonic())

    def finish(self) -> None:
        self._halt.set()
        self.join()
        for client in self.clients:
            client.close()

    def during(self, start: float, end: float) -> list[tuple[float, bool]]:
        """(latency, ok) of the probes in flight at any moment of [start, end]."""
        return [(finish - begun, ok) for begun, finish, ok in list(self.samples)
                if begun <= end and finish >= start]
