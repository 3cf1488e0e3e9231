"""Migration jobs over time: queued until a slot is free, running along their plan, then ending.

Nothing here runs in the background. A job's progress is a function of its stored timeline and
the clock; only the moments that change the world are written — a job starting, a job ending
(the VM moves, in one transaction) and a cancellation. Before any request is answered the
dispatcher asks `settle` to apply every such moment that has passed, in time order and at the
time it happened, so the outcome does not depend on when (or by which process) it is noticed.

Plans are in simulated seconds: the world clock (emulator.core.world_clock) runs them fast,
slow or not at all. A job's `progression` can take it off the clock: `immediate` jobs end the
moment they start, `polls` jobs move one phase each time a client reads them (`poll`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from providers.migration import migration_request as req
from providers.migration.errors import (
    FAILED_AT_DESTINATION,
    IDENTIFIER_DUPLICATION,
    SOFTWARE,
    MigrationError,
    cancelled,
)
from providers.migration.timing import plan_seconds, progress_at
from storage.models import Host, Job, VirtualMachine
from storage.repositories import NewJob, WorldUnitOfWork
from storage.world_clock import BY_CLOCK, IMMEDIATE, POLLS

# JobState (§8.3)
NEW, STARTING, RUNNING, COMPLETED, TERMINATED, KILLED, EXCEPTION = 2, 3, 4, 7, 8, 9, 10
TERMINAL_STATES = frozenset({COMPLETED, TERMINATED, KILLED, EXCEPTION, 32768})
MIGRATING_STATUS = 32774  # OperationalStatus[1] of a migrating VM (§10.4)
EMIGRATING, MIGRATING = 10, 9  # OperatingStatus (§17)
FAILED = 32768
REMOVAL_SECONDS = 300
STATE_NAMES = {TERMINATED: "terminated", KILLED: "killed"}


@dataclass
class JobSpec:
    """What a migration-service method asks the job timeline to run."""

    host: Host
    job_type: int
    kind: str  # "move" or "check"
    description: str
    plan: list[list[float | str]]
    migration_type: int | None = None
    vm: VirtualMachine | None = None
    destination: Host | None = None
    destination_name: str | None = None
    counts_vm: bool = False
    counts_storage: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    failure: list[MigrationError] | None = None
    failure_summary: str | None = None
    classname: str = "Msvm_MigrationJob"


@dataclass(frozen=True)
class JobView:
    """A job as a client sees it at one moment."""

    state: int
    percent: int
    status: str
    state_since: datetime
    # When what a client sees changes next without any write (None: not by the clock).
    changes_at: datetime | None


def view(job: Any, now: datetime) -> JobView:
    """JobState, PercentComplete and JobStatus of a job row at `now`."""
    if job.job_state is not None:
        finished = job.finished_at or now
        status = {COMPLETED: "Job completed successfully", TERMINATED: "Job was cancelled",
                  KILLED: "Job was killed"}.get(job.job_state, "Job failed")
        return JobView(job.job_state, job.percent_final or 0, status, finished, None)
    if job.started_at is None:
        return JobView(NEW, 0, "Queued: waiting for a free migration slot", job.submitted_at,
                       None)
    polled = job.progression == POLLS
    elapsed = polled_seconds(job) if polled else (now - job.started_at).total_seconds()
    percent, status, wait = progress_at(job.plan, elapsed)
    if polled:
        wait = None  # a read moves it, not the clock
    first_phase = float(job.plan[0][0]) if job.plan else 0.0
    if elapsed < first_phase:
        state, since = STARTING, job.started_at
        boundary = None if polled else job.started_at + timedelta(seconds=first_phase)
    else:
        state, since = RUNNING, job.started_at + timedelta(seconds=first_phase)
        boundary = None
    # Rounded down to datetime's microsecond, never later than the change itself: a cache that
    # keeps an answer until `changes_at` must not serve the old percent after it changed.
    changes: datetime | None = None if wait is None else now + timedelta(
        microseconds=max(1, math.floor(wait * 1e6)))
    if boundary is not None and (changes is None or boundary < changes):
        changes = boundary
    if job.due_at is not None and (changes is None or job.due_at < changes):
        changes = job.due_at
    return JobView(state, percent, status, since, changes)


def polled_seconds(job: Any) -> float:
    """How far along its plan (in plan seconds) a `polls` job is: the phases it was read
    through."""
    return sum(float(step[0]) for step in job.plan[:job.polls or 0])


def poll(job: Job, now: datetime) -> None:
    """A client read a `polls` job: it moves to its next phase; past the last one it is due
    to end at once (the next request settles it)."""
    if job.progression != POLLS or job.job_state is not None or job.started_at is None:
        return
    if job.polls >= len(job.plan):
        return  # already due
    job.polls += 1
    if job.polls >= len(job.plan):
        job.due_at = now


def _due_at(job: Job, start: datetime) -> datetime | None:
    """When a job starting at `start` is due to end: by the clock, at once, or (polls) when
    reads have taken it through its plan."""
    if job.progression == IMMEDIATE:
        return start
    if job.progression == POLLS:
        return start if not job.plan else None
    return start + timedelta(seconds=plan_seconds(job.plan))


# What the end of a job of some other kind does to the world (e.g. a VM's state change),
# applied in the transaction that settles it, at the moment it happened.
Ending = Callable[[WorldUnitOfWork, Job, datetime], None]


class JobTimeline:
    def __init__(self) -> None:
        self._endings: dict[str, Ending] = {}

    def on_end(self, kind: str, ending: Ending) -> None:
        """Have jobs of `kind` change the world through `ending` when they end."""
        self._endings[kind] = ending

    # ------------------------------------------------------------------------ settling

    @staticmethod
    def next_due(uow: WorldUnitOfWork) -> datetime | None:
        """The earliest moment a job changes the world (ends or is removed), or None."""
        return uow.jobs.next_due()

    def settle(self, uow: WorldUnitOfWork, now: datetime) -> int:
        """Apply every job end (and the starts it allows) due by `now`; the count applied."""
        uow.take_write_turn()
        applied = 0
        while (job := uow.jobs.next_ending(now)) is not None:
            moment = job.due_at
            assert moment is not None
            self._finish(uow, job, moment)
            self.start_queued(uow, job.host_id, moment)
            applied += 1
        return applied + uow.jobs.remove_expired(now)

    # ------------------------------------------------------------------------ lifecycle

    def submit(self, uow: WorldUnitOfWork, spec: JobSpec, job_id: str, now: datetime) -> Job:
        job = uow.jobs.add(self._new_job(spec, job_id, now, self._outcome(spec),
                                         uow.jobs.progression_for(spec.classname)))
        self.start_queued(uow, spec.host.id, now)
        return job

    def begin(self, uow: WorldUnitOfWork, spec: JobSpec, job_id: str, now: datetime) -> Job:
        """A job that runs at once, taking no migration slot (a VM's state change)."""
        job = uow.jobs.add(self._new_job(spec, job_id, now, self._outcome(spec),
                                         uow.jobs.progression_for(spec.classname)))
        job.started_at = now
        job.due_at = _due_at(job, now)
        return job

    @staticmethod
    def _outcome(spec: JobSpec) -> dict[str, Any] | None:
        if not spec.failure:
            return None
        return {"state": EXCEPTION, "error_code": FAILED,
                "summary": spec.failure_summary or "The operation failed.",
                "description": " ".join(e.Message for e in spec.failure),
                "errors": [e.as_dict() for e in spec.failure],
                "message_id": spec.failure[0].MessageID}

    def record_refusal(self, uow: WorldUnitOfWork, spec: JobSpec, job_id: str,
                       now: datetime) -> Job:
        """A job that failed before it started, carrying `spec.failure`: how a method that
        refuses at once still hands its client Msvm_Errors (GetError, GetErrorEx)."""
        assert spec.failure
        job = uow.jobs.add(self._new_job(spec, job_id, now, None, BY_CLOCK))
        self._end(job, now, state=EXCEPTION, percent=0, error_code=FAILED,
                  summary=spec.failure_summary or "The operation failed.",
                  errors=[e.as_dict() for e in spec.failure])
        return job

    @staticmethod
    def _new_job(spec: JobSpec, job_id: str, now: datetime, outcome: dict[str, Any] | None,
                 progression: str) -> NewJob:
        return NewJob(
            instance_id=job_id, classname=spec.classname, host_id=spec.host.id,
            destination_host_id=spec.destination.id if spec.destination else None,
            destination_name=spec.destination_name,
            vm_id=spec.vm.id if spec.vm else None, vm_guid=spec.vm.guid if spec.vm else None,
            vm_name=spec.vm.element_name if spec.vm else None, job_type=spec.job_type,
            migration_type=spec.migration_type, kind=spec.kind, counts_vm=spec.counts_vm,
            counts_storage=spec.counts_storage, request={**spec.request,
                                                         "description": spec.description},
            plan=spec.plan, outcome=outcome, submitted_at=now, removal_seconds=REMOVAL_SECONDS,
            progression=progression,
        )

    def start_queued(self, uow: WorldUnitOfWork, host_id: int, at: datetime) -> None:
        """Start the host's queued jobs, oldest first, while slots are free (§16.4)."""
        host = uow.hosts.get(host_id)
        if host is None or not host.migration_service_started:
            return
        queued = uow.jobs.queued_on(host_id)
        if not queued:
            return
        vm_active, storage_active = uow.jobs.running_counts(host_id)
        for job in queued:
            if job.counts_vm and vm_active >= host.max_active_vm_migrations:
                continue
            if job.counts_storage and storage_active >= host.max_active_storage_migrations:
                continue
            job.started_at = at
            job.due_at = _due_at(job, at)
            vm_active += job.counts_vm
            storage_active += job.counts_storage
            self._mark_vm(uow, job, migrating=True)

    def cancel(self, uow: WorldUnitOfWork, job: Job, state: int, now: datetime) -> None:
        """Terminate (8) or kill (9) a job that has not ended; the source stays as it was."""
        percent = view(job, now).percent
        self._end(job, now, state=state, percent=percent, error_code=FAILED,
                  summary="The operation was cancelled.",
                  errors=[cancelled(job.vm_name, STATE_NAMES[state]).as_dict()])
        self._mark_vm(uow, job, migrating=False)
        self.start_queued(uow, job.host_id, now)

    def _finish(self, uow: WorldUnitOfWork, job: Job, at: datetime) -> None:
        ending = self._endings.get(job.kind)
        if ending is not None:
            ending(uow, job, at)
        if job.outcome is None and job.kind == "move":
            problem = self._apply_success(uow, job)
            if problem is not None:
                job.outcome = {"state": EXCEPTION, "error_code": FAILED,
                               "summary": "The operation failed.",
                               "description": problem.Message, "errors": [problem.as_dict()]}
        outcome = job.outcome
        if outcome is None:
            self._end(job, at, state=COMPLETED, percent=100, error_code=0)
        else:
            last: list[float | str] = job.plan[-1] if job.plan else [0, 0, 0, ""]
            self._end(job, at, state=int(outcome["state"]), percent=int(float(last[2])),
                      error_code=int(outcome["error_code"]), summary=outcome["summary"],
                      description=outcome.get("description"), errors=outcome["errors"])
        self._mark_vm(uow, job, migrating=False)

    @staticmethod
    def _end(job: Job, at: datetime, *, state: int, percent: int, error_code: int,
             summary: str | None = None, description: str | None = None,
             errors: list[dict[str, Any]] | None = None) -> None:
        job.job_state = state
        job.percent_final = percent
        job.finished_at = at
        job.due_at = None
        job.error_code = error_code
        job.error_summary = summary
        job.error_description = description or (
            " ".join(e["Message"] for e in errors) if errors else None)
        job.errors = errors or []
        if job.delete_on_completion:
            job.remove_at = at + timedelta(seconds=job.removal_seconds)

    @staticmethod
    def _mark_vm(uow: WorldUnitOfWork, job: Job, *, migrating: bool) -> None:
        if job.kind != "move" or job.migration_type == req.STAGED or job.vm_id is None:
            return
        vm = uow.vms.get(job.vm_id)
        if vm is None:
            return
        if migrating:
            vm.operational_status = [2, MIGRATING_STATUS]
            vm.operating_status = MIGRATING if job.migration_type == req.STORAGE else EMIGRATING
        else:
            vm.operational_status = [2]
            vm.operating_status = None

    # ------------------------------------------------------------------- world changes

    def _apply_success(self, uow: WorldUnitOfWork, job: Job) -> MigrationError | None:
        vm = uow.vms.get(job.vm_id) if job.vm_id is not None else None
        if vm is None:
            return None
        moves = {int(k): v for k, v in job.request.get("disk_moves", {}).items()}
        roots = job.request.get("roots", {})
        if job.migration_type == req.STAGED:
            return self._create_planned(uow, job, vm, moves, roots)
        if job.migration_type == req.STORAGE:
            self._move_storage(vm, moves, roots)
            return None
        destination_id = job.destination_host_id
        assert destination_id is not None
        others = uow.vms.with_guid_on_host(destination_id, vm.guid)
        if any(not other.planned for other in others):
            return _duplicate(job, vm)
        for planned in others:
            # Migrating into a planned VM consumes it; its network connections win (§15.3).
            switches = {a.adapter_guid: a.switch_name for a in planned.network_adapters}
            for adapter in vm.network_adapters:
                adapter.switch_name = switches.get(adapter.adapter_guid, adapter.switch_name)
            uow.vms.destroy(planned)
        # The planned VM goes first: a host holds one VM per GUID.
        uow.flush()
        vm.host_id = destination_id
        self._move_storage(vm, moves, roots)
        return None

    @staticmethod
    def _move_storage(vm: VirtualMachine, moves: dict[int, str],
                      roots: dict[str, str]) -> None:
        for disk in vm.disks:
            if disk.id in moves:
                disk.path = moves[disk.id]
        if "ConfigurationDataRoot" in roots:
            vm.config_root = roots["ConfigurationDataRoot"]
        if "SnapshotDataRoot" in roots:
            vm.snapshot_root = roots["SnapshotDataRoot"]
        if "SwapFileDataRoot" in roots:
            vm.swap_root = roots["SwapFileDataRoot"]

    @staticmethod
    def _create_planned(uow: WorldUnitOfWork, job: Job, vm: VirtualMachine,
                        moves: dict[int, str], roots: dict[str, str]) -> MigrationError | None:
        destination_id = job.destination_host_id
        assert destination_id is not None
        if uow.vms.with_guid_on_host(destination_id, vm.guid):
            return _duplicate(job, vm)
        # Same controller and adapter GUIDs: the planned VM's RASD InstanceIDs match (§10.6).
        uow.vms.add_planned_copy(vm, destination_id, roots=roots, disk_paths=moves)
        return None


def _duplicate(job: Job, vm: VirtualMachine) -> MigrationError:
    return MigrationError(
        MessageID=FAILED_AT_DESTINATION,
        Message=f"A virtual machine with the identifier {vm.guid} already exists on the "
                f"destination host '{job.destination_name}'.",
        ErrorType=SOFTWARE, ProbableCause=IDENTIFIER_DUPLICATION,
        ProbableCauseDescription="Identifier Duplication")
