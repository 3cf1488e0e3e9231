"""Migration jobs over time: queued until a slot is free, running along their plan, then ending.

Nothing here runs in the background. A job's progress is a function of its stored timeline and
the clock; only the moments that change the world are written — a job starting, a job ending
(the VM moves, in one transaction) and a cancellation. Before any request is answered the
dispatcher asks `settle` to apply every such moment that has passed, in time order and at the
time it happened, so the outcome does not depend on when (or by which process) it is noticed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from providers.migration import request as req
from providers.migration.errors import (
    FAILED_AT_DESTINATION,
    IDENTIFIER_DUPLICATION,
    SOFTWARE,
    MigrationError,
    cancelled,
)
from providers.migration.model import plan_seconds, progress_at
from storage.db import bump_world_version, serialise_writes
from storage.models import Host, Job, NetworkAdapter, VirtualDisk, VirtualMachine

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
    """What a migration-service method asks the engine to run."""

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
    elapsed = (now - job.started_at).total_seconds()
    percent, status, wait = progress_at(job.plan, elapsed)
    first_phase = float(job.plan[0][0]) if job.plan else 0.0
    if elapsed < first_phase:
        state, since = STARTING, job.started_at
        boundary = job.started_at + timedelta(seconds=first_phase)
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


class Engine:
    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("the time scale must be positive")
        self.time_scale = time_scale

    # ------------------------------------------------------------------------ settling

    @staticmethod
    def next_due(session: Session) -> datetime | None:
        """The earliest moment a running job changes the world, or None."""
        due = session.scalar(select(func.min(Job.due_at)).where(Job.job_state.is_(None)))
        removal = session.scalar(select(func.min(Job.remove_at)))
        moments = [m for m in (due, removal) if m is not None]
        return min(moments) if moments else None

    def settle(self, session: Session, now: datetime) -> int:
        """Apply every job end (and the starts it allows) due by `now`; the count applied."""
        serialise_writes(session)
        applied = 0
        while True:
            job = session.scalars(
                select(Job).where(Job.job_state.is_(None), Job.due_at <= now)
                .order_by(Job.due_at, Job.id).limit(1)).first()
            if job is None:
                break
            moment = job.due_at
            assert moment is not None
            self._finish(session, job, moment)
            self.start_queued(session, job.host_id, moment)
            applied += 1
        deleted = cast(CursorResult[Any], session.execute(delete(Job).where(Job.remove_at <= now)))
        removed = deleted.rowcount or 0
        if removed:
            # A bulk delete bypasses the flush hook; jobs vanishing is still a world change.
            bump_world_version(session)
        return applied + removed

    # ------------------------------------------------------------------------ lifecycle

    def submit(self, session: Session, spec: JobSpec, job_id: str, now: datetime) -> Job:
        outcome = None
        if spec.failure:
            first = spec.failure[0]
            outcome = {"state": EXCEPTION, "error_code": FAILED,
                       "summary": spec.failure_summary or "The operation failed.",
                       "description": " ".join(e.Message for e in spec.failure),
                       "errors": [e.as_dict() for e in spec.failure],
                       "message_id": first.MessageID}
        job = Job(
            instance_id=job_id, classname=spec.classname, host_id=spec.host.id,
            destination_host_id=spec.destination.id if spec.destination else None,
            destination_name=spec.destination_name,
            vm_id=spec.vm.id if spec.vm else None, vm_guid=spec.vm.guid if spec.vm else None,
            vm_name=spec.vm.element_name if spec.vm else None, job_type=spec.job_type,
            migration_type=spec.migration_type, kind=spec.kind, counts_vm=spec.counts_vm,
            counts_storage=spec.counts_storage, request={**spec.request,
                                                         "description": spec.description},
            plan=spec.plan, outcome=outcome, submitted_at=now, error_code=0, errors=[],
            delete_on_completion=True, removal_seconds=REMOVAL_SECONDS,
        )
        session.add(job)
        session.flush()
        self.start_queued(session, spec.host.id, now)
        return job

    def start_queued(self, session: Session, host_id: int, at: datetime) -> None:
        """Start the host's queued jobs, oldest first, while slots are free (§16.4)."""
        host = session.get(Host, host_id)
        if host is None or not host.migration_service_started:
            return
        queued = list(session.scalars(
            select(Job).where(Job.host_id == host_id, Job.job_state.is_(None),
                              Job.started_at.is_(None)).order_by(Job.submitted_at, Job.id)))
        if not queued:
            return
        vm_active, storage_active = self.running_counts(session, host_id)
        for job in queued:
            if job.counts_vm and vm_active >= host.max_active_vm_migrations:
                continue
            if job.counts_storage and storage_active >= host.max_active_storage_migrations:
                continue
            job.started_at = at
            job.due_at = at + timedelta(seconds=plan_seconds(job.plan))
            vm_active += job.counts_vm
            storage_active += job.counts_storage
            self._mark_vm(session, job, migrating=True)

    @staticmethod
    def running_counts(session: Session, host_id: int) -> tuple[int, int]:
        rows = session.execute(
            select(Job.counts_vm, Job.counts_storage).where(
                Job.host_id == host_id, Job.job_state.is_(None), Job.started_at.is_not(None)))
        vm_count = storage_count = 0
        for counts_vm, counts_storage in rows:
            vm_count += bool(counts_vm)
            storage_count += bool(counts_storage)
        return vm_count, storage_count

    def cancel(self, session: Session, job: Job, state: int, now: datetime) -> None:
        """Terminate (8) or kill (9) a job that has not ended; the source stays as it was."""
        percent = view(job, now).percent
        self._end(job, now, state=state, percent=percent, error_code=FAILED,
                  summary="The operation was cancelled.",
                  errors=[cancelled(job.vm_name, STATE_NAMES[state]).as_dict()])
        self._mark_vm(session, job, migrating=False)
        self.start_queued(session, job.host_id, now)

    def _finish(self, session: Session, job: Job, at: datetime) -> None:
        if job.outcome is None and job.kind == "move":
            problem = self._apply_success(session, job)
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
        self._mark_vm(session, job, migrating=False)

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
    def _mark_vm(session: Session, job: Job, *, migrating: bool) -> None:
        if job.kind != "move" or job.migration_type == req.STAGED or job.vm_id is None:
            return
        vm = session.get(VirtualMachine, job.vm_id)
        if vm is None:
            return
        if migrating:
            vm.operational_status = [2, MIGRATING_STATUS]
            vm.operating_status = MIGRATING if job.migration_type == req.STORAGE else EMIGRATING
        else:
            vm.operational_status = [2]
            vm.operating_status = None

    # ------------------------------------------------------------------- world changes

    def _apply_success(self, session: Session, job: Job) -> MigrationError | None:
        vm = session.get(VirtualMachine, job.vm_id) if job.vm_id is not None else None
        if vm is None:
            return None
        moves = {int(k): v for k, v in job.request.get("disk_moves", {}).items()}
        roots = job.request.get("roots", {})
        if job.migration_type == req.STAGED:
            return self._create_planned(session, job, vm, moves, roots)
        if job.migration_type == req.STORAGE:
            self._move_storage(vm, moves, roots)
            return None
        destination_id = job.destination_host_id
        assert destination_id is not None
        others = list(session.scalars(select(VirtualMachine).where(
            VirtualMachine.host_id == destination_id, VirtualMachine.guid == vm.guid)))
        if any(not other.planned for other in others):
            return _duplicate(job, vm)
        for planned in others:
            # Migrating into a planned VM consumes it; its network connections win (§15.3).
            switches = {a.adapter_guid: a.switch_name for a in planned.network_adapters}
            for adapter in vm.network_adapters:
                adapter.switch_name = switches.get(adapter.adapter_guid, adapter.switch_name)
            session.delete(planned)
        session.flush()
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
    def _create_planned(session: Session, job: Job, vm: VirtualMachine, moves: dict[int, str],
                        roots: dict[str, str]) -> MigrationError | None:
        destination_id = job.destination_host_id
        exists = session.scalar(select(func.count()).select_from(VirtualMachine).where(
            VirtualMachine.host_id == destination_id, VirtualMachine.guid == vm.guid))
        if exists:
            return _duplicate(job, vm)
        copied = {c.key: getattr(vm, c.key) for c in VirtualMachine.__table__.columns
                  if c.key not in ("id", "version_id")}
        planned = VirtualMachine(**{**copied, "host_id": destination_id, "planned": True,
                                    "enabled_state": 3, "operational_status": [2],
                                    "operating_status": None})
        planned.config_root = roots.get("ConfigurationDataRoot", vm.config_root)
        planned.snapshot_root = roots.get("SnapshotDataRoot", vm.snapshot_root)
        planned.swap_root = roots.get("SwapFileDataRoot", vm.swap_root)
        # Same controller and adapter GUIDs: the planned VM's RASD InstanceIDs match (§10.6).
        for disk in vm.disks:
            planned.disks.append(VirtualDisk(
                controller_kind=disk.controller_kind, controller_number=disk.controller_number,
                controller_guid=disk.controller_guid, location=disk.location,
                path=moves.get(disk.id, disk.path), size_gb=disk.size_gb))
        for adapter in vm.network_adapters:
            planned.network_adapters.append(NetworkAdapter(
                adapter_guid=adapter.adapter_guid, element_name=adapter.element_name,
                switch_name=adapter.switch_name, mac_address=adapter.mac_address))
        session.add(planned)
        return None


def _duplicate(job: Job, vm: VirtualMachine) -> MigrationError:
    return MigrationError(
        MessageID=FAILED_AT_DESTINATION,
        Message=f"A virtual machine with the identifier {vm.guid} already exists on the "
                f"destination host '{job.destination_name}'.",
        ErrorType=SOFTWARE, ProbableCause=IDENTIFIER_DUPLICATION,
        ProbableCauseDescription="Identifier Duplication")
