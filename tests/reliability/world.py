"""A cheap fingerprint of the emulated world, read through pywbem, for "changed nothing" checks.

Where each VM is (by GUID, over every host endpoint) and which migration jobs exist. Jobs vanish
on their own some minutes after they end, so comparisons ask only that no job *appeared*.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import pywbem

from tests.support.server import TEST_PASSWORD, TEST_USER, HvsimServer, wbem_connection

TERMINAL_STATES = frozenset({7, 8, 9, 10, 11, 12})  # completed, terminated, killed, exception...
VM_QUERY = "SELECT Name FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'"


@dataclass(frozen=True)
class Fingerprint:
    placement: tuple[tuple[str, str], ...]  # (VM GUID, host), sorted
    jobs: Mapping[str, int]  # InstanceID -> JobState

    def new_jobs(self, earlier: Fingerprint) -> set[str]:
        return set(self.jobs) - set(earlier.jobs)

    @property
    def unfinished(self) -> set[str]:
        return {job for job, state in self.jobs.items() if state not in TERMINAL_STATES}


def connections(server: HvsimServer, *, user: str = TEST_USER,
                password: str = TEST_PASSWORD) -> dict[str, pywbem.WBEMConnection]:
    return {host: wbem_connection(server.url(host), user=user, password=password)
            for host in server.hosts}


def fingerprint(conns: Mapping[str, pywbem.WBEMConnection]) -> Fingerprint:
    placement: list[tuple[str, str]] = []
    jobs: dict[str, int] = {}
    for host, conn in conns.items():
        placement += [(str(vm["Name"]).upper(), host) for vm in conn.ExecQuery("WQL", VM_QUERY)]
        for job in conn.EnumerateInstances("Msvm_MigrationJob",
                                           PropertyList=["InstanceID", "JobState"]):
            jobs[str(job["InstanceID"])] = int(job["JobState"])
    return Fingerprint(tuple(sorted(placement)), jobs)


def wait_until_settled(conns: Mapping[str, pywbem.WBEMConnection],
                       timeout: float = 30.0) -> Fingerprint:
    """The fingerprint once no job is queued or running any more."""
    deadline = time.monotonic() + timeout
    while True:
        current = fingerprint(conns)
        if not current.unfinished:
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still unfinished after {timeout} s: {current.jobs}")
        time.sleep(0.05)
