"""The migration jobs' clock as a world hook: the dispatcher settles due job starts and ends
through this, so the core never learns that migrations exist (see providers.base.WorldHook)."""

from __future__ import annotations

from datetime import datetime

from providers.base import WorldHook
from providers.migration.engine import Engine
from storage.db import UnitOfWork


class JobSettling(WorldHook):
    """Adapts Engine to the hook; the only caller of its settling outside the providers.

    The engine still works on the ORM session, so the unit of work is unwrapped here and
    nowhere else.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def next_due(self, uow: UnitOfWork) -> datetime | None:
        return self.engine.next_due(uow.session)

    def settle(self, uow: UnitOfWork, now: datetime) -> None:
        self.engine.settle(uow.session, now)
