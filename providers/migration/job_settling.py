"""The migration jobs' clock as a world hook: the dispatcher settles due job starts and ends
through this, so the core never learns that migrations exist (see providers.base.WorldHook)."""

from __future__ import annotations

from datetime import datetime

from providers.base import WorldHook
from providers.migration.job_timeline import JobTimeline
from storage.repositories import WorldUnitOfWork


class JobSettling(WorldHook):
    """Adapts the job timeline to the hook; the only caller of its settling outside the
    providers."""

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline

    def next_due(self, uow: WorldUnitOfWork) -> datetime | None:
        return self.timeline.next_due(uow)

    def settle(self, uow: WorldUnitOfWork, now: datetime) -> None:
        self.timeline.settle(uow, now)

    def next_activity(self, uow: WorldUnitOfWork) -> datetime | None:
        return uow.jobs.next_end()
