"""Jobs as one client session saw them: which call started each, every read of it, and the
calls made on it (GetError, RequestStateChange)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.conformance.model import Session, instance_id, method_of
from emulator.conformance.reading import as_int
from emulator.transport.request_log import RequestRecord

JOB_STARTED = "4096"
TERMINAL_JOB_STATES = {7: "Completed", 8: "Terminated", 9: "Killed", 10: "Exception"}
JOB_STATE_NAMES = {2: "New", 3: "Starting", 4: "Running", 5: "Suspended",
                   6: "Shutting Down", **TERMINAL_JOB_STATES, 11: "Service",
                   12: "Query Pending"}
ERROR_METHODS = frozenset({"geterror", "geterrorex"})


@dataclass
class JobTrail:
    """One job as a session saw it: who started it and every read of it."""

    id: str
    started: RequestRecord | None = None
    reads: list[tuple[RequestRecord, dict[str, Any]]] = field(default_factory=list)

    def states(self) -> list[tuple[RequestRecord, int, dict[str, Any]]]:
        return [(record, as_int(job.get("JobState")), job) for record, job in self.reads]


def job_trails(session: Session) -> dict[str, JobTrail]:
    trails: dict[str, JobTrail] = {}
    for record in session.records:
        job_ref = record.observed.get("job")
        if job_ref and record.return_value == JOB_STARTED:
            trails.setdefault(job_ref.lower(), JobTrail(job_ref)).started = record
        for job in record.observed.get("jobs", ()):
            job_id = str(job.get("InstanceID", ""))
            if job_id:
                trail = trails.setdefault(job_id.lower(), JobTrail(job_id))
                trail.reads.append((record, job))
    return trails


def job_calls(session: Session, methods: frozenset[str]) -> list[tuple[RequestRecord, str]]:
    """(record, job id) of every call of one of `methods` on a job."""
    found = []
    for record in session.records:
        method = method_of(record)
        job_id = instance_id(record)
        if method and method.lower() in methods and job_id:
            found.append((record, job_id.lower()))
    return found
