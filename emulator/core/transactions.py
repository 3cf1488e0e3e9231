"""How the core opens the world: units of work for reads and for writes, the process's write
turn, and the world hooks (providers.base.WorldHook) that settle what the clock made due
before either. The only part of the core that commits."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from emulator.core.catalog import Catalog
from emulator.core.faults import FaultRules
from providers.base import Clock, ProviderContext, WorldHook
from storage.db import Store, UnitOfWork
from storage.errors import StaleWrite

log = logging.getLogger("hvsim.dispatch")


class Transactions:
    def __init__(self, store: Store, clock: Clock, catalog: Catalog,
                 hooks: Iterable[WorldHook] = (), faults: FaultRules | None = None) -> None:
        self.store = store
        self.faults = faults
        self.clock = clock
        self.catalog = catalog
        self.hooks = tuple(hooks)
        # Writes (method calls, settling) take turns within this process; hooks take a
        # database lock for turns between processes.
        self._write_lock = threading.RLock()
        # (world version, earliest moment a hook has something due) — asked again only when
        # the version moves, so a read costs one version lookup while nothing is due.
        self._due: tuple[int, datetime | None] | None = None

    def settle_due(self) -> int:
        """Let every hook write what is due by now; the world version afterwards."""
        version = self.store.world_version()
        if not self.hooks:
            return version
        due = self._due
        if due is None or due[0] != version:
            with self.store.unit_of_work() as uow:
                due = (version, self._next_due(uow))
            self._due = due
        moment = due[1]
        if moment is None or self.clock.now() < moment:
            return version
        with self.write_turn(), self.store.unit_of_work() as uow:
            try:
                now = self.clock.now()
                for hook in self.hooks:
                    hook.settle(uow, now)
                uow.commit()
            except StaleWrite:
                log.info("another process settled the same changes first")
        self._due = None
        return self.store.world_version()

    def _next_due(self, uow: UnitOfWork) -> datetime | None:
        moments = [m for m in (hook.next_due(uow) for hook in self.hooks) if m is not None]
        return min(moments) if moments else None

    @contextlib.contextmanager
    def reading(self) -> Iterator[ProviderContext]:
        """A unit of work for a read. Settles first: a read must not see a job (or VM) whose
        time has passed but whose change is not yet written. What the read owes the world
        (ProviderContext.after_read) is written once the read is done."""
        with self.store.unit_of_work() as uow:
            self.settle_due()
            ctx = ProviderContext(uow=uow, clock=self.clock, classes=self.catalog)
            yield ctx
        if ctx.after_read:
            self._write_after_read(ctx)

    def _write_after_read(self, ctx: ProviderContext) -> None:
        with self.write_turn(), self.store.unit_of_work() as uow:
            try:
                for write in ctx.after_read.values():
                    write(uow, ctx.now())
                uow.commit()
            except StaleWrite:
                log.info("another process changed what a read was to change first")
        self._due = None

    @contextlib.contextmanager
    def writing(self) -> Iterator[tuple[UnitOfWork, ProviderContext]]:
        """The write turn and a unit of work in which every hook has settled what was due by
        the request's moment (ctx.now()), so the write sees and commits it with its own
        changes. The caller commits."""
        with self.write_turn(), self.store.unit_of_work() as uow:
            # Another process may have moved the world clock since this one last looked.
            self.store.world_version()
            ctx = ProviderContext(uow=uow, clock=self.clock, classes=self.catalog)
            if self.faults is not None:
                ctx.faults = self.faults.bound(uow.faults)
            for hook in self.hooks:
                hook.settle(uow, ctx.now())
            yield uow, ctx
        self._due = None

    @contextlib.contextmanager
    def write_turn(self) -> Iterator[None]:
        """This process's turn to write, waited for no longer than the request's wait budget.

        Writers queue here before they queue for the database's own lock; without a bound,
        one write stuck on a database lock would hold every later one past the timeout.
        """
        remaining = self.store.remaining_wait()
        if not self._write_lock.acquire(timeout=-1 if remaining is None else max(0, remaining)):
            raise self.store.budget_spent("the write turn held by another write of this "
                                          "process")
        try:
            yield
        finally:
            self._write_lock.release()
