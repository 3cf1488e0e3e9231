"""Msvm_MigrationJob instances, their associations and methods (reference §8).

A job's JobState and PercentComplete come from its stored timeline and the clock (see
providers.migration.job_timeline.view); each record says when that view next changes so cached
answers expire exactly then.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from pywbem import CIMInstanceName

from providers import world
from providers.base import (
    CLUSTER,
    V2,
    AssociationProvider,
    Embedded,
    InstanceProvider,
    MethodCall,
    MethodResult,
    ProviderContext,
    Record,
    Scope,
    cim_interval,
    key_value,
    ref,
)
from providers.computer_system import CS, PLANNED
from providers.host_services import migration_service_keys, vsms_keys
from providers.method_table import MethodTable
from providers.migration.errors import ERROR_CLASS
from providers.migration.job_timeline import KILLED, TERMINATED, JobTimeline, poll, view
from providers.return_codes import ReturnCode, StateChangeCode
from storage.models import Job
from storage.repositories import WorldUnitOfWork
from storage.world_clock import POLLS

MIGRATION_JOB = "Msvm_MigrationJob"
CONCRETE_JOB = "Msvm_ConcreteJob"
JOB_CLASSES = (MIGRATION_JOB, CONCRETE_JOB)
# Msvm_ConcreteJob.JobType 140 (Validate Planned Virtual Machine) affects a planned VM.
VALIDATE_PLANNED = 140
STATE_JOB = "state"  # Job.kind of a VM's state change (providers.vm_lifecycle)


def job_ref(job: Any) -> CIMInstanceName:
    return ref(job.classname, InstanceID=job.instance_id)


def job_record(ctx: ProviderContext, job: Any) -> Record:
    """The job as a client reads it now; a read of a `polls` job moves it one phase once the
    answer is complete (see job_timeline.poll)."""
    now = ctx.now()
    seen = view(job, now)
    if job.progression == POLLS and job.job_state is None and job.started_at is not None:
        ctx.after_read[("poll", job.instance_id)] = functools.partial(_poll, job.instance_id)
    keys = {"InstanceID": job.instance_id}
    moments = [m for m in (seen.changes_at, job.remove_at) if m is not None]
    expires = min(moments).timestamp() if moments else None
    etag = f"j{job.id}.{job.version_id}.{seen.state}.{seen.percent}"

    def values() -> dict[str, Any]:
        description = job.request.get("description", "")
        started = job.started_at
        elapsed = timedelta(0) if started is None else (job.finished_at or now) - started
        failed = job.job_state is not None and job.error_code != 0
        values: dict[str, Any] = {
            **keys,
            "Caption": description, "Description": description, "ElementName": description,
            "Name": description,
            "JobStatus": seen.status,
            "JobState": seen.state,
            "PercentComplete": seen.percent,
            "TimeSubmitted": job.submitted_at,
            "StartTime": started,
            "ElapsedTime": cim_interval(max(elapsed, timedelta(0))),
            "TimeOfLastStateChange": seen.state_since,
            "TimeBeforeRemoval": cim_interval(timedelta(seconds=job.removal_seconds)),
            "DeleteOnCompletion": job.delete_on_completion,
            "JobRunTimes": 1, "LocalOrUtcTime": 2, "Priority": 0, "RecoveryAction": 2,
            "Owner": job.owner,
            "ErrorCode": job.error_code,
            "ErrorDescription": job.error_description,
            "ErrorSummaryDescription": job.error_summary,
            # A VM's state change runs to its end; only migrations and checks can be cancelled.
            "Cancellable": job.job_state is None and job.kind != STATE_JOB,
            "JobType": job.job_type,
            "HealthState": 20 if failed else 5,
            "OperationalStatus": [6] if failed else ([2, 17] if job.job_state == 7 else [2]),
            "StatusDescriptions": ["Error"] if failed else (
                ["OK", "Completed"] if job.job_state == 7 else ["Job is running"]
                if job.job_state is None else ["OK"]),
        }
        if job.classname == MIGRATION_JOB:
            values.update({
                "MigrationType": job.migration_type,
                "VirtualSystemName": job.vm_guid,
                "DestinationHost": job.destination_name,
                "NewSystemSettingData": job.request.get("system_text"),
                "NewResourceSettingData": job.request.get("resource_texts") or None,
            })
        return values
    return Record(job.classname, keys, etag, values, expires)


class JobProvider(InstanceProvider):
    classnames = JOB_CLASSES
    namespaces = (V2, CLUSTER)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for job in world.jobs_in_scope(ctx, scope):
            if job.classname.lower() == classname.lower():
                yield job_record(ctx, job)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        wanted = str(key_value(keys, "InstanceID") or "").lower()
        for job in world.jobs_in_scope(ctx, scope):
            if job.instance_id.lower() == wanted and job.classname.lower() == classname.lower():
                return job_record(ctx, job)
        return None


def _poll(instance_id: str, uow: WorldUnitOfWork, now: datetime) -> None:
    job = uow.jobs.named(instance_id)
    if job is not None:
        poll(job, now)


def _association(classname: str, **refs: CIMInstanceName) -> Record:
    values = dict(refs)
    return Record(classname, dict(refs), "a", lambda: values)


class AffectedJobElementProvider(AssociationProvider):
    """Job -> the VM it moves (os-win finds running jobs of a VM through this, §8.5)."""

    classnames = ("Msvm_AffectedJobElement",)
    namespaces = (V2, CLUSTER)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for job in world.jobs_in_scope(ctx, scope):
            if job.vm_guid:
                system = PLANNED if job.job_type == VALIDATE_PLANNED else CS
                yield _association(classname,
                                   AffectedElement=ref(system, CreationClassName=system,
                                                       Name=job.vm_guid),
                                   AffectingElement=job_ref(job))


class OwningJobElementProvider(AssociationProvider):
    """Job -> the service that accepted it: the migration service, or for a VM's state change
    the management service."""

    classnames = ("Msvm_OwningJobElement",)
    namespaces = (V2, CLUSTER)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for job in world.jobs_in_scope(ctx, scope):
            host = world.host_by_id(ctx, job.host_id)
            keys = vsms_keys(host) if job.kind == STATE_JOB else migration_service_keys(host)
            yield _association(classname, OwningElement=ref(keys["CreationClassName"], **keys),
                               OwnedElement=job_ref(job))


class JobMethods(MethodTable[Job]):
    """GetError, GetErrorEx, RequestStateChange and KillJob on jobs (§8.5)."""

    classnames = JOB_CLASSES
    namespaces = (V2, CLUSTER)
    log = logging.getLogger("hvsim.jobs")

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline
        super().__init__({
            "geterror": self._get_error,
            "geterrorex": self._get_error_ex,
            "killjob": self._kill_job,
            "requeststatechange": self._request_state_change,
        })

    def target(self, ctx: ProviderContext, call: MethodCall) -> Job:
        assert isinstance(call.target, CIMInstanceName)
        instance_id = str(key_value(call.target.keybindings, "InstanceID") or "")
        job = ctx.uow.jobs.named(instance_id)
        assert job is not None  # the dispatcher resolved the target instance
        return job

    def describe(self, target: Job) -> str:
        return target.instance_id

    @staticmethod
    def _get_error(ctx: ProviderContext, call: MethodCall, job: Job) -> MethodResult:
        errors = _errors(job)
        return MethodResult(ReturnCode.COMPLETED, {"Error": errors[0] if errors else None})

    @staticmethod
    def _get_error_ex(ctx: ProviderContext, call: MethodCall, job: Job) -> MethodResult:
        return MethodResult(ReturnCode.COMPLETED, {"Errors": _errors(job) or None})

    def _kill_job(self, ctx: ProviderContext, call: MethodCall, job: Job) -> MethodResult:
        if job.job_state is not None or job.kind == STATE_JOB:
            return MethodResult(StateChangeCode.FAILED, {})
        self.timeline.cancel(ctx.uow, job, KILLED, ctx.now())
        if call.param("DeleteOnKill"):
            ctx.uow.jobs.delete(job)
        return MethodResult(StateChangeCode.COMPLETED, {})

    def _request_state_change(self, ctx: ProviderContext, call: MethodCall,
                              job: Job) -> MethodResult:
        # Msvm_MigrationJob answers with Hyper-V codes; Msvm_ConcreteJob in
        # root/virtualization/v2 with the DMTF RequestStateChange list (§8.5).
        dmtf = job.classname == CONCRETE_JOB and not call.scope.cluster_view
        requested = call.param("RequestedState")
        if requested is None or int(requested) not in (2, 3, 4, 5, 6):
            return MethodResult(StateChangeCode.NOT_SUPPORTED if dmtf
                                else ReturnCode.INVALID_PARAMETER, {})
        if int(requested) not in (4, 5):
            return MethodResult(StateChangeCode.NOT_SUPPORTED if dmtf
                                else ReturnCode.NOT_SUPPORTED, {})
        if job.job_state is not None or job.kind == STATE_JOB:
            # Finished, or a VM's state change, which is not cancellable.
            return MethodResult(StateChangeCode.INVALID_STATE_TRANSITION if dmtf
                                else ReturnCode.INVALID_STATE, {})
        self.timeline.cancel(ctx.uow, job, TERMINATED if int(requested) == 4 else KILLED,
                           ctx.now())
        return MethodResult(ReturnCode.COMPLETED, {})


def _errors(job: Job) -> list[Embedded]:
    return [Embedded(ERROR_CLASS, error) for error in job.errors or []]

