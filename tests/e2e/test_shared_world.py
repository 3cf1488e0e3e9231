"""Several hvsim processes on one PostgreSQL database serve one world."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import pywbem
from pywbem import CIMInstanceName, Uint16

from tests.support.postgres import fresh_database
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e


def test_two_processes_started_together_share_one_world(
        hvsim_server: Callable[..., HvsimServer], postgres_url: str) -> None:
    database = fresh_database(postgres_url)
    servers: list[HvsimServer] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            servers.append(hvsim_server(scenario=DEMO_SCENARIO, database=database))
        except BaseException as error:  # reported below, with the server log
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    views = []
    for server in servers:
        conn = wbem_connection(server.url("HV-02"), "root/HyperVCluster/v2")
        views.append(sorted(i["Name"] for i in conn.EnumerateInstances("Msvm_ComputerSystem")))
    assert views[0] == views[1] and len(views[0]) == 8


# -- a migration between hosts served by different processes ----------------------------------

# Simulated seconds per real second: web-01's live migration (about 6 simulated s) takes ~3 s.
TIME_SCALE = 2
CLUSTER_NAMESPACE = "root/HyperVCluster/v2"


def _vm_hosts(conns: dict[str, pywbem.WBEMConnection], name: str) -> list[str]:
    """The hosts whose endpoint lists the VM called `name`."""
    return sorted(host for host, conn in conns.items()
                  if any(vm["ElementName"] == name
                         for vm in conn.EnumerateInstances("Msvm_ComputerSystem")))


def _migrate(conn: pywbem.WBEMConnection, name: str, destination: str) -> CIMInstanceName:
    service = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")[0]
    vm = next(v for v in conn.EnumerateInstances("Msvm_ComputerSystem")
              if v["ElementName"] == name)
    template = conn.ExecQuery("WQL", "select * from Msvm_VirtualSystemMigrationSettingData "
                                     "where MigrationType = 32768")[0]
    rv, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service, ComputerSystem=vm.path,
                                DestinationHost=destination,
                                MigrationSettingData=template.tocimxmlstr())
    assert rv == 4096, rv
    return out["Job"]


def _progress(conn: pywbem.WBEMConnection, job: CIMInstanceName) -> tuple[int, int]:
    path = job.copy()
    path.host = path.namespace = None
    instance = conn.GetInstance(path, PropertyList=["JobState", "PercentComplete"])
    return int(instance["JobState"]), int(instance["PercentComplete"])


@pytest.fixture
def two_processes(hvsim_server: Callable[..., HvsimServer],
                  postgres_url: str) -> tuple[HvsimServer, HvsimServer]:
    database = fresh_database(postgres_url)
    first = hvsim_server(scenario=DEMO_SCENARIO, database=database, time_scale=TIME_SCALE)
    second = hvsim_server(scenario=DEMO_SCENARIO, database=database, time_scale=TIME_SCALE)
    return first, second


def test_a_vm_migrates_between_hosts_served_by_different_processes(
        two_processes: tuple[HvsimServer, HvsimServer]) -> None:
    a, b = two_processes
    # A answers for the source HV-01, B for the destination HV-02; B sees the job on its own
    # HV-01 endpoint and in the cluster namespace of its HV-02 endpoint.
    source = wbem_connection(a.url("HV-01"))
    via_b = [wbem_connection(b.url("HV-01")),
             wbem_connection(b.url("HV-02"), CLUSTER_NAMESPACE)]
    job = _migrate(source, "web-01", "HV-02")
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 30
    while True:
        before = _progress(source, job)
        others = [_progress(conn, job) for conn in via_b]
        after = _progress(source, job)
        # Both processes derive progress from the same stored timeline: what B says at a
        # moment lies between what A said just before and just after.
        for other in others:
            assert before <= other <= after, (before, others, after)
        seen.append(after)
        if after[0] >= 7:
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
    assert after == (7, 100), seen
    assert any(state == 4 and 0 < percent < 100 for state, percent in seen), seen
    assert [p for _s, p in seen] == sorted(p for _s, p in seen)
    for conn in via_b:
        assert _progress(conn, job) == (7, 100)
    placements = [
        _vm_hosts({"HV-01": wbem_connection(server.url("HV-01")),
                   "HV-02": wbem_connection(server.url("HV-02"))}, "web-01")
        for server in (a, b)]
    assert placements == [["HV-02"], ["HV-02"]]


def test_a_job_created_through_one_process_is_cancelled_through_the_other(
        two_processes: tuple[HvsimServer, HvsimServer]) -> None:
    a, b = two_processes
    source = wbem_connection(a.url("HV-01"))
    job = _migrate(source, "web-02", "HV-02")
    through_b = wbem_connection(b.url("HV-01"))
    path = job.copy()
    path.host = path.namespace = None
    assert _progress(through_b, job)[0] in (3, 4)
    rv, _out = through_b.InvokeMethod("RequestStateChange", path, RequestedState=Uint16(4))
    assert rv == 0
    cancelled = _progress(source, job)
    assert cancelled[0] == 8 and cancelled[1] < 100
    assert _progress(through_b, job) == cancelled
    # Past the moment the migration would have ended, the VM is still where it was.
    time.sleep(4)
    for server in (a, b):
        conns = {host: wbem_connection(server.url(host)) for host in ("HV-01", "HV-02")}
        assert _vm_hosts(conns, "web-02") == ["HV-01"]
        assert _progress(conns["HV-01"], job) == cancelled
        vm = next(v for v in conns["HV-01"].EnumerateInstances("Msvm_ComputerSystem")
                  if v["ElementName"] == "web-02")
        assert list(vm["OperationalStatus"]) == [2]
    rv, _out = through_b.InvokeMethod("RequestStateChange", path, RequestedState=Uint16(4))
    assert rv == 32775
