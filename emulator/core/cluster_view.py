"""The cluster at a glance, for the dashboard and the metrics: hosts with their VMs, and jobs.

Read through the dispatcher's CIM operations in each host's `root/virtualization/v2`, so it
shows exactly what a client of that host would see (jobs settled, VMs where their migration
left them) and needs nothing beyond the core. A host that cannot be read (the database is
away) raises the dispatcher's CIMError, for the caller to answer as unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from emulator.core.dispatch import Dispatcher
from providers.base import V2

# What Hyper-V Manager calls a VM's EnabledState (Msvm_ComputerSystem, reference §5).
VM_STATE_NAMES: dict[int, str] = {
    2: "Running", 3: "Off", 4: "Stopping", 6: "Saved", 9: "Paused", 10: "Starting",
    11: "Resetting", 32773: "Saving", 32776: "Pausing", 32777: "Resuming",
}
JOB_STATE_NAMES: dict[int, str] = {
    2: "Queued", 3: "Starting", 4: "Running", 5: "Suspended", 6: "Shutting down",
    7: "Completed", 8: "Cancelled", 9: "Killed", 10: "Failed", 11: "Service",
}
RUNNING_JOB_STATES = frozenset({2, 3, 4, 5, 6})
MIGRATION_TYPE_NAMES: dict[int, str] = {
    32768: "virtual machine", 32769: "storage", 32770: "staged",
    32771: "virtual machine and storage", 32772: "compatibility check",
}
MIGRATION_JOB = "Msvm_MigrationJob"
VIRTUAL_MACHINE_CAPTION = "Virtual Machine"


@dataclass(frozen=True)
class VmSummary:
    name: str
    guid: str
    host: str
    state: int
    state_name: str
    migrating: bool  # a move job holds it (OperationalStatus 32774, Migrating)


@dataclass(frozen=True)
class HostSummary:
    name: str
    vms: tuple[VmSummary, ...]


@dataclass(frozen=True)
class JobSummary:
    instance_id: str
    host: str  # the host that accepted the job
    migration: bool  # an Msvm_MigrationJob (else a VM state change or a refused call)
    description: str
    vm: str | None  # the VM's name when the job names it
    destination: str | None
    migration_type: str | None
    job_state: int
    state_name: str
    running: bool  # queued or running, not yet in a final state
    percent: int
    status: str  # JobStatus: the phase of a running job
    error_code: int
    error: str | None
    submitted: float | None  # seconds since the epoch
    since: float | None  # when the job entered its JobState (a finished job: when it ended)

    @property
    def outcome(self) -> str:
        """"running", "completed", "failed", "cancelled" or "killed"."""
        if self.running:
            return "running"
        return {7: "completed", 8: "cancelled", 9: "killed"}.get(self.job_state, "failed")


@dataclass(frozen=True)
class ClusterSnapshot:
    time: float
    hosts: tuple[HostSummary, ...]
    jobs: tuple[JobSummary, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "hosts": [asdict(host) for host in self.hosts],
                "jobs": [{**asdict(job), "outcome": job.outcome} for job in self.jobs]}


class ClusterView:
    def __init__(self, dispatcher: Dispatcher, host_names: Sequence[str]) -> None:
        self.dispatcher = dispatcher
        self.host_names = tuple(host_names)

    def snapshot(self) -> ClusterSnapshot:
        hosts = tuple(HostSummary(name, tuple(self._vms(name))) for name in self.host_names)
        names = {vm.guid.upper(): vm.name for host in hosts for vm in host.vms}
        jobs = [job for name in self.host_names for job in self._jobs(name, names)]
        jobs.sort(key=lambda job: job.submitted or 0.0)
        return ClusterSnapshot(self.dispatcher.clock.now().timestamp(), hosts, tuple(jobs))

    def _vms(self, host: str) -> list[VmSummary]:
        vms = []
        for result in self.dispatcher.enumerate_instances(host, V2, "Msvm_ComputerSystem"):
            values = result.values()
            if values.get("Caption") != VIRTUAL_MACHINE_CAPTION:
                continue
            state = int(values.get("EnabledState") or 0)
            vms.append(VmSummary(
                name=str(values.get("ElementName") or values["Name"]), guid=str(values["Name"]),
                host=host, state=state, state_name=VM_STATE_NAMES.get(state, f"State {state}"),
                migrating=32774 in (values.get("OperationalStatus") or ())))
        vms.sort(key=lambda vm: vm.name.lower())
        return vms

    def _jobs(self, host: str, vm_names: dict[str, str]) -> list[JobSummary]:
        jobs = []
        for result in self.dispatcher.enumerate_instances(host, V2, "CIM_ConcreteJob"):
            values = result.values()
            state = int(values.get("JobState") or 0)
            migration = result.record.classname == MIGRATION_JOB
            guid = str(values.get("VirtualSystemName") or "").upper()
            migration_type = values.get("MigrationType") if migration else None
            jobs.append(JobSummary(
                instance_id=str(values["InstanceID"]), host=host, migration=migration,
                description=str(values.get("Description") or ""),
                vm=vm_names.get(guid) if guid else None,
                destination=values.get("DestinationHost") if migration else None,
                migration_type=(MIGRATION_TYPE_NAMES.get(int(migration_type))
                                if migration_type is not None else None),
                job_state=state, state_name=JOB_STATE_NAMES.get(state, f"State {state}"),
                running=state in RUNNING_JOB_STATES,
                percent=int(values.get("PercentComplete") or 0),
                status=str(values.get("JobStatus") or ""),
                error_code=int(values.get("ErrorCode") or 0),
                error=values.get("ErrorDescription") or values.get("ErrorSummaryDescription"),
                submitted=_timestamp(values.get("TimeSubmitted")),
                since=_timestamp(values.get("TimeOfLastStateChange"))))
        return jobs


def _timestamp(value: Any) -> float | None:
    """Seconds since the epoch of a datetime or CIMDateTime value."""
    moment = getattr(value, "datetime", value)
    return moment.timestamp() if isinstance(moment, datetime) else None
