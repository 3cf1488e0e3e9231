"""`Jobs` in SQL: migration and validation jobs, their timeline columns and removal."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from storage.models import Job, VirtualMachine
from storage.repositories import NewJob
from storage.virtual_machines import RUNNING_STATES
from storage.world_clock import BY_CLOCK, EVERY_JOB, SqlWorldClock
from storage.world_version import bump_world_version


class SqlJobs:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, job: NewJob) -> Job:
        row = Job(**dataclasses.asdict(job), error_code=0, errors=[], delete_on_completion=True,
                  polls=0)
        self._session.add(row)
        self._session.flush()
        return row

    def named(self, instance_id: str) -> Job | None:
        return self._session.scalars(
            select(Job).where(Job.instance_id == instance_id.upper())).first()

    def delete(self, job: Job) -> None:
        self._session.delete(job)

    def moving_vm(self, *, vm_id: int | None = None, vm_guid: str | None = None) -> str | None:
        which = Job.vm_id == vm_id if vm_id is not None else Job.vm_guid == vm_guid
        return self._session.scalar(select(Job.instance_id).where(
            which, Job.kind == "move", Job.job_state.is_(None)).order_by(Job.id).limit(1))

    def active_with_vm(self) -> list[Job]:
        return list(self._session.scalars(select(Job).where(
            Job.job_state.is_(None), Job.vm_id.is_not(None)).order_by(Job.id)))

    def next_due(self) -> datetime | None:
        due = self._session.scalar(select(func.min(Job.due_at)).where(Job.job_state.is_(None)))
        removal = self._session.scalar(select(func.min(Job.remove_at)))
        moments = [m for m in (due, removal) if m is not None]
        return min(moments) if moments else None

    def next_end(self) -> datetime | None:
        return self._session.scalar(select(func.min(Job.due_at)).where(Job.job_state.is_(None)))

    def progression_for(self, classname: str) -> str:
        rules = SqlWorldClock(self._session).progression()
        return rules.get(classname) or rules.get(EVERY_JOB) or BY_CLOCK

    def next_ending(self, now: datetime) -> Job | None:
        return self._session.scalars(
            select(Job).where(Job.job_state.is_(None), Job.due_at <= now)
            .order_by(Job.due_at, Job.id).limit(1)).first()

    def remove_expired(self, now: datetime) -> int:
        deleted = cast(CursorResult[Any],
                       self._session.execute(delete(Job).where(Job.remove_at <= now)))
        removed = deleted.rowcount or 0
        if removed:
            # A bulk delete bypasses the flush hook; jobs vanishing is still a world change.
            bump_world_version(self._session)
        return removed

    def queued_on(self, host_id: int) -> list[Job]:
        return list(self._session.scalars(
            select(Job).where(Job.host_id == host_id, Job.job_state.is_(None),
                              Job.started_at.is_(None)).order_by(Job.submitted_at, Job.id)))

    def running_counts(self, host_id: int) -> tuple[int, int]:
        rows = self._session.execute(
            select(Job.counts_vm, Job.counts_storage).where(
                Job.host_id == host_id, Job.job_state.is_(None), Job.started_at.is_not(None)))
        vm_count = storage_count = 0
        for counts_vm, counts_storage in rows:
            vm_count += bool(counts_vm)
            storage_count += bool(counts_storage)
        return vm_count, storage_count

    def incoming_memory_mb(self, host_id: int, *, except_vm_id: int | None) -> int:
        statement = (
            select(func.coalesce(func.sum(VirtualMachine.memory_mb), 0))
            .select_from(Job).join(VirtualMachine, VirtualMachine.id == Job.vm_id)
            .where(Job.destination_host_id == host_id, Job.job_state.is_(None),
                   Job.kind == "move", VirtualMachine.enabled_state.in_(RUNNING_STATES)))
        if except_vm_id is not None:
            statement = statement.where(VirtualMachine.id != except_vm_id)
        return int(self._session.scalar(statement) or 0)
