"""kill -9 of a server with dozens of live migrations in flight, then a restart on the same
database (SQLite and PostgreSQL): the world is consistent and the migrations finish.

Consistent means: every VM on exactly one host, every job either ended or still progressing,
each host's ActiveVirtualSystemMigrationCount equal to its running jobs, no job lost.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest
import pywbem

from tests.reliability.world import TERMINAL_STATES, VM_QUERY, connections
from tests.support.server import HvsimServer

pytestmark = pytest.mark.e2e
HOSTS, VMS_PER_HOST = 2, 12  # 24 migrations, two running per host at a time, the rest queued
# A migration takes a few simulated seconds, the queue about a minute: some 12 s of real time.
# Slow enough that jobs still run when the restarted server answers on a loaded machine.
TIME_SCALE = 2
RUNNING_STATES = frozenset({3, 4})
CLUSTER = "root/HyperVCluster/v2"


def start_migrations(conns: dict[str, pywbem.WBEMConnection]) -> dict[str, tuple[str, str]]:
    """Every VM to the other host; job InstanceID -> (VM GUID, destination)."""
    jobs: dict[str, tuple[str, str]] = {}
    hosts = sorted(conns)
    for index, (_host, conn) in enumerate(sorted(conns.items())):
        destination = hosts[(index + 1) % len(hosts)]
        service = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")[0]
        template = conn.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData"
                                         " WHERE MigrationType = 32768")[0]
        for vm in conn.ExecQuery("WQL", VM_QUERY):
            rv, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service,
                                        ComputerSystem=vm.path, DestinationHost=destination,
                                        MigrationSettingData=template.tocimxmlstr())
            assert rv == 4096, (vm["Name"], rv)
            jobs[str(out["Job"].keybindings["InstanceID"])] = (str(vm["Name"]).upper(),
                                                               destination)
    return jobs


def jobs_by_host(conns: dict[str, pywbem.WBEMConnection]) -> dict[str, dict[str, int]]:
    return {host: {str(j["InstanceID"]): int(j["JobState"]) for j in conn.EnumerateInstances(
        "Msvm_MigrationJob", PropertyList=["InstanceID", "JobState"])}
        for host, conn in conns.items()}


def active_count(conn: pywbem.WBEMConnection) -> int:
    (service,) = conn.EnumerateInstances("Msvm_VirtualSystemMigrationService")
    return int(service["ActiveVirtualSystemMigrationCount"])


def placements(conns: dict[str, pywbem.WBEMConnection]) -> dict[str, list[str]]:
    """VM GUID -> the hosts whose endpoint lists it."""
    found: dict[str, list[str]] = {}
    for host, conn in conns.items():
        for vm in conn.ExecQuery("WQL", VM_QUERY):
            found.setdefault(str(vm["Name"]).upper(), []).append(host)
    return found


def check_consistent(conns: dict[str, pywbem.WBEMConnection], cluster: pywbem.WBEMConnection,
                     vms: set[str]) -> dict[str, int]:
    """Assert the invariants once; returns every job's state."""
    # Each endpoint is read separately, so a VM moving between two reads can look absent or
    # doubled: only a view that two reads in a row agree on counts.
    where = placements(conns)
    for _attempt in range(20):
        again = placements(conns)
        if again == where:
            break
        where = again
    assert set(where) == vms, f"VMs lost or invented: {set(where) ^ vms}"
    doubled = {vm: hosts for vm, hosts in where.items() if len(hosts) != 1}
    assert not doubled, f"VMs not on exactly one host: {doubled}"
    in_cluster = Counter(str(vm["Name"]).upper() for vm in cluster.ExecQuery("WQL", VM_QUERY))
    assert set(in_cluster) == vms and set(in_cluster.values()) == {1}, in_cluster
    # Jobs move on between reads; a snapshot counts only when the active count is the same
    # before and after listing the jobs.
    for host, conn in conns.items():
        for _attempt in range(20):
            before = active_count(conn)
            states = jobs_by_host({host: conn})[host]
            running = sum(1 for state in states.values() if state in RUNNING_STATES)
            if active_count(conn) == before == running:
                break
        else:
            pytest.fail(f"{host}: ActiveVirtualSystemMigrationCount {before} but {running} "
                        f"running jobs: {states}")
    return {job: state for by_host in jobs_by_host(conns).values()
            for job, state in by_host.items()}


def test_kill_9_with_migrations_in_flight_then_restart(
        hvsim_server: Callable[..., HvsimServer], database_url: str) -> None:
    """database_url is a fresh SQLite file, then a fresh PostgreSQL database (conftest)."""
    options = {"hosts": HOSTS, "vms_per_host": VMS_PER_HOST, "seed": 5,
               "database": database_url, "time_scale": TIME_SCALE}
    first = hvsim_server(**options)
    conns = connections(first)
    vms = set(placements(conns))
    assert len(vms) == HOSTS * VMS_PER_HOST
    started = start_migrations(conns)
    states = {job: state for by_host in jobs_by_host(conns).values()
              for job, state in by_host.items()}
    in_flight = [job for job, state in states.items() if state not in TERMINAL_STATES]
    assert len(in_flight) >= len(started) // 2, states  # the kill must hit a busy server
    assert any(state in RUNNING_STATES for state in states.values()), states
    os.kill(first.pid, signal.SIGKILL)
    first.stop()
    assert first.returncode == -signal.SIGKILL

    second = hvsim_server(**options)
    conns = connections(second)
    cluster = pywbem.WBEMConnection(second.url("HV-01"), ("testuser", "Passw0rd"),
                                    default_namespace=CLUSTER, timeout=30)
    deadline = time.monotonic() + 90
    history: dict[str, list[int]] = {}
    busy_checks = 0
    while True:
        states = check_consistent(conns, cluster, vms)
        busy_checks += any(state in RUNNING_STATES for state in states.values())
        assert set(started) <= set(states), f"jobs lost: {set(started) - set(states)}"
        for job, state in states.items():
            history.setdefault(job, []).append(state)
        if all(state in TERMINAL_STATES for state in states.values()):
            break
        assert time.monotonic() < deadline, f"jobs not ending: {states}"
        time.sleep(0.3)
    print(f"\n{database_url.split(':')[0]}: {len(in_flight)} of {len(started)} migrations in "
          f"flight at the kill; all ended after the restart: {Counter(states.values())}; "
          f"{busy_checks} consistency checks while jobs ran")
    assert busy_checks > 0, "the restarted server was checked only once everything had ended"
    assert all(states[job] == 7 for job in started), {j: history[j] for j in started}
    where = placements(conns)
    for vm, destination in started.values():
        assert where[vm] == [destination]
