"""Rules on how a client handles the jobs its calls start: reading them to the end, their
errors, cancelling, the planned VM a failed staged migration leaves, and polling pace."""

from __future__ import annotations

import re
from collections.abc import Iterator

from emulator.conformance.jobs import (
    ERROR_METHODS,
    JOB_STARTED,
    JOB_STATE_NAMES,
    TERMINAL_JOB_STATES,
    job_calls,
    job_trails,
)
from emulator.conformance.model import ClassModel, Session, evidence, method_of
from emulator.conformance.reading import as_bool, as_int
from emulator.conformance.rule import Found, Thresholds
from emulator.transport.request_log import RequestRecord

STAGED_MIGRATION = "32770"
_MIGRATION_TYPE = re.compile(r"NAME=\"MigrationType\"[^>]*>\s*<VALUE>\s*(\d+)", re.IGNORECASE)


def job_never_read(session: Session, model: ClassModel | None,
                   limits: Thresholds) -> Iterator[Found]:
    for trail in job_trails(session).values():
        if trail.started is not None and not trail.reads:
            method = method_of(trail.started)
            yield (f"{method} returned 4096 (job started) but job {trail.id} was never read: "
                   "4096 was taken for success", [evidence(trail.started)])



def job_not_finished(session: Session, model: ClassModel | None,
                     limits: Thresholds) -> Iterator[Found]:
    for trail in job_trails(session).values():
        states = trail.states()
        if trail.started is None or not states:
            continue
        if not any(state in TERMINAL_JOB_STATES for _, state, _ in states):
            last, state, _ = states[-1]
            yield (f"job {trail.id} was last read in JobState {state} "
                   f"({JOB_STATE_NAMES.get(state, '?')}); the client stopped reading it "
                   "before it ended", [evidence(trail.started), evidence(last)])



def completed_with_error(session: Session, model: ClassModel | None,
                         limits: Thresholds) -> Iterator[Found]:
    error_reads = job_calls(session, ERROR_METHODS)
    for trail in job_trails(session).values():
        for record, state, job in trail.states():
            code = as_int(job.get("ErrorCode"))
            if state != 7 or code in (0, -1):
                continue
            if not any(job_id == trail.id.lower() and call.time >= record.time
                       for call, job_id in error_reads):
                yield (f"job {trail.id} was read in JobState 7 (Completed) with ErrorCode "
                       f"{code}, and its errors were never read", [evidence(record)])
            break



def job_errors_unread(session: Session, model: ClassModel | None,
                      limits: Thresholds) -> Iterator[Found]:
    error_reads = job_calls(session, ERROR_METHODS)
    for trail in job_trails(session).values():
        failed = [record for record, state, _ in trail.states() if state == 10]
        if not failed:
            continue
        if not any(job_id == trail.id.lower() for _, job_id in error_reads):
            yield (f"job {trail.id} failed (JobState 10) and neither GetError nor GetErrorEx "
                   "was called on it: only ErrorDescription, the first of its errors, was "
                   "seen", [evidence(failed[0])])



def cancel_unchecked(session: Session, model: ClassModel | None,
                     limits: Thresholds) -> Iterator[Found]:
    trails = job_trails(session)
    for call, job_id in job_calls(session, frozenset({"requeststatechange"})):
        trail = trails.get(job_id)
        before = [job for record, job in (trail.reads if trail else [])
                  if record.time <= call.time and record is not call]
        if not before:
            yield (f"job {job_id} was cancelled without reading it (and its Cancellable) "
                   "first", [evidence(call)])
        elif as_bool(before[-1].get("Cancellable")) is False:
            yield (f"job {job_id} was cancelled although it was read with Cancellable = "
                   "FALSE", [evidence(call)])



def planned_vm_leaked(session: Session, model: ClassModel | None,
                      limits: Thresholds) -> Iterator[Found]:
    trails = job_trails(session)
    destroys = [record for record in session.records
                if (method_of(record) or "").lower() == "destroysystem"]
    for record in session.records:
        settings = record.params.get("MigrationSettingData") or ""
        kind = _MIGRATION_TYPE.search(settings)
        if not method_of(record) or not kind or kind.group(1) != STAGED_MIGRATION:
            continue
        failed_at: RequestRecord | None = None
        if record.return_value not in (None, "0", JOB_STARTED):
            failed_at = record
        job_ref = record.observed.get("job")
        trail = trails.get(job_ref.lower()) if job_ref else None
        if trail is not None:
            failed_at = next((read for read, state, _ in trail.states()
                              if state in (8, 9, 10)), failed_at)
        if failed_at is None:
            continue
        if not any(destroy.time >= failed_at.time for destroy in destroys):
            yield ("a staged migration (MigrationType 32770) failed and no DestroySystem "
                   "followed: the Msvm_PlannedComputerSystem it may have left on the "
                   "destination stays there", [evidence(record), evidence(failed_at)]
                   if failed_at is not record else [evidence(record)])



def fast_polling(session: Session, model: ClassModel | None,
                 limits: Thresholds) -> Iterator[Found]:
    for trail in job_trails(session).values():
        states = trail.states()
        reads = [record for record, _, _ in states]
        if len(reads) < 2:
            continue
        span = reads[-1].time - reads[0].time
        rate = (len(reads) - 1) / span if span > 0 else float("inf")
        ended = states[-1][1] in TERMINAL_JOB_STATES
        sustained = span >= limits.sustained_seconds or (ended
                                                         and len(reads) >= limits.min_polls)
        if rate > limits.polls_per_second and sustained:
            yield (f"job {trail.id} was read {len(reads)} times in {span:.1f} s "
                   f"({rate:.1f}/s)", [evidence(reads[0]), evidence(reads[-1])])
