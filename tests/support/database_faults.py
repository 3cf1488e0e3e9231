"""Database faults under client load, for the end-to-end fault tests: one client thread
per request kind sending requests back to back, each fault injected into PostgreSQL
while a live migration runs, and the report of what clients, the world and the log saw."""

from __future__ import annotations

import itertools
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import pywbem
from pypsrp.exceptions import WSManFaultError
from pywbem import CIMInstanceName, Uint32

from tests.support.postgres import PostgresCluster
from tests.support.server import WMI_V2, HvsimServer, wbem_connection, wsman_client

LOCK_TIMEOUT = 1  # --db-lock-timeout, seconds
LOCK_HELD = 3.0  # seconds a test holds a table lock, well past the lock timeout
STOPPED = 2.5  # seconds PostgreSQL stays stopped
ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
IDENTIFY = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            b'xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">'
            b"<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>")


# -- clients ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    result: str  # ok, cim (a CIM error), fault (a WS-Man fault), http (bare HTTP error), other
    detail: str
    seconds: float


def _vm_path(conn: pywbem.WBEMConnection, name: str) -> CIMInstanceName:
    return next(v.path for v in conn.EnumerateInstances("Msvm_ComputerSystem")
                if v["ElementName"] == name)


def client_requests(server: HvsimServer) -> dict[str, Callable[[], Callable[[], object]]]:
    """Request kind -> a factory of one client's request (each thread gets its own client)."""
    url = server.url("HV-01")

    def cimxml_method() -> Callable[[], object]:
        conn = wbem_connection(url, timeout=15)
        (vsms,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")
        return lambda: conn.InvokeMethod("GetSummaryInformation", vsms,
                                         RequestedInformation=[Uint32(4)])

    def cimxml_get() -> Callable[[], object]:
        conn = wbem_connection(url, timeout=15)
        path = _vm_path(conn, "db-01")
        return lambda: conn.GetInstance(path)

    def cimxml_query() -> Callable[[], object]:
        conn = wbem_connection(url, timeout=15)
        counter = itertools.count()
        # A new query text each time: never answered from the reply cache, always read.
        return lambda: conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem WHERE "
                                             f"ElementName <> 'no-such-vm-{next(counter)}'")

    def wsman_query() -> Callable[[], object]:
        wsman = wsman_client(url, operation_timeout=10, read_timeout=15)
        counter = itertools.count()

        def query() -> object:
            # A new filter each time: never answered from a cached listing, always read.
            body = ET.fromstring(
                f'<wsen:Enumerate xmlns:wsen="{ENUMERATION}" xmlns:wsman="{WSMAN}">'
                "<wsman:OptimizeEnumeration/><wsman:MaxElements>100</wsman:MaxElements>"
                f'<wsman:Filter Dialect="{WQL}">SELECT * FROM Msvm_ComputerSystem WHERE '
                f"ElementName &lt;&gt; 'no-such-vm-{next(counter)}'</wsman:Filter>"
                "</wsen:Enumerate>")
            return wsman.enumerate(WMI_V2 + "*", body)
        return query

    def wsman_identify() -> Callable[[], object]:
        wsman = wsman_client(url, read_timeout=15)
        return lambda: wsman.transport.send(IDENTIFY)

    return {"cimxml method": cimxml_method, "cimxml get": cimxml_get,
            "cimxml query": cimxml_query, "wsman query": wsman_query,
            "wsman identify": wsman_identify}


def attempt(kind: str, request: Callable[[], object]) -> Outcome:
    started = time.monotonic()
    try:
        request()
        result, detail = "ok", ""
    except pywbem.CIMError as error:
        result, detail = "cim", f"{error.status_code}: {error.status_description}"
    except pywbem.HTTPError as error:
        result, detail = "http", f"HTTP {error.status}: {error.reason}"
    except WSManFaultError as error:
        result, detail = "fault", f"{error.code}: {error.reason}"
    except Exception as error:
        result, detail = "other", f"{type(error).__name__}: {error}"
    return Outcome(kind, result, detail, time.monotonic() - started)


class Load:
    """One client thread per request kind, sending requests back to back until stopped."""

    def __init__(self, server: HvsimServer) -> None:
        self.requests = {kind: factory() for kind, factory in client_requests(server).items()}
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(kind, request), daemon=True)
                         for kind, request in self.requests.items()]

    def _loop(self, kind: str, request: Callable[[], object]) -> None:
        while not self._stop.is_set():
            self.outcomes.append(attempt(kind, request))
            time.sleep(0.05)  # two cores are shared with the server and PostgreSQL

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


# -- one fault, under load ---------------------------------------------------------------------


@dataclass
class Report:
    fault: str
    during: list[Outcome]
    after: list[Outcome]  # one request of each kind, right after the database is back
    job_state: int
    vm_hosts: list[str]
    destination: str
    log: str  # the server log written from just before the fault to the end of the run
    failures_seen: bool = field(default=False)


def _migrate(server: HvsimServer, name: str, source: str,
             destination: str) -> tuple[pywbem.WBEMConnection, CIMInstanceName]:
    conn = wbem_connection(server.url(source))
    (service,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    template = conn.ExecQuery("WQL", "select * from Msvm_VirtualSystemMigrationSettingData "
                                     "where MigrationType = 32768")[0]
    rv, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service,
                                ComputerSystem=_vm_path(conn, name),
                                DestinationHost=destination,
                                MigrationSettingData=template.tocimxmlstr())
    assert rv == 4096, rv
    job = out["Job"].copy()
    job.host = job.namespace = None
    return conn, job


def _finished_state(conn: pywbem.WBEMConnection, job: CIMInstanceName) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:
            state = int(conn.GetInstance(job, PropertyList=["JobState"])["JobState"])
        except pywbem.Error:
            state = 0  # the database may still be coming back; the test checks that elsewhere
        if state >= 7 or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def _hosts_listing(server: HvsimServer, name: str) -> list[str]:
    return sorted(host for host in server.hosts
                  if any(vm["ElementName"] == name for vm in
                         wbem_connection(server.url(host)).EnumerateInstances(
                             "Msvm_ComputerSystem")))


def _admin(cluster: PostgresCluster) -> psycopg.Connection:
    return psycopg.connect(cluster.url, autocommit=True, connect_timeout=10)


def _terminate_hvsim_connections(cluster: PostgresCluster) -> None:
    with _admin(cluster) as admin:
        for _ in range(3):
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname LIKE 'hvsim_t_%' AND pid <> pg_backend_pid()")
            time.sleep(0.4)


def _hold_table_lock(cluster: PostgresCluster, server: HvsimServer) -> None:
    database = server.options["database"]
    assert isinstance(database, str)
    with psycopg.connect(database, connect_timeout=10) as holder:
        holder.execute("LOCK TABLE virtual_machines IN ACCESS EXCLUSIVE MODE")
        time.sleep(LOCK_HELD)
        holder.rollback()


def _stop_then_start(cluster: PostgresCluster) -> None:
    cluster.stop_server()
    time.sleep(STOPPED)
    cluster.start_server()


# fault -> the VM migrated across it (from wherever it is to the other host)
FAULTS = {"restart": "web-01", "stop and start": "web-02", "terminate connections": "web-01",
          "table lock": "web-02"}


def run_fault(fault: str, cluster: PostgresCluster, server: HvsimServer) -> Report:
    inject: Callable[[], None] = {
        "restart": cluster.restart_server,
        "stop and start": lambda: _stop_then_start(cluster),
        "terminate connections": lambda: _terminate_hvsim_connections(cluster),
        "table lock": lambda: _hold_table_lock(cluster, server),
    }[fault]
    vm = FAULTS[fault]
    (source,) = _hosts_listing(server, vm)
    (destination,) = set(server.hosts) - {source}
    log_start = len(server.log_text())
    with Load(server) as load:
        conn, job = _migrate(server, vm, source, destination)
        time.sleep(0.3)
        inject()
        requests = load.requests
    after = [attempt(kind, request) for kind, request in requests.items()]
    state = _finished_state(conn, job)
    hosts = _hosts_listing(server, vm)
    time.sleep(0.2)  # the log line of the last request
    return Report(fault, load.outcomes, after, state, hosts, destination,
                  server.log_text()[log_start:])
