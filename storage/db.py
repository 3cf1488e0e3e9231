"""The store: the database behind one hvsim process, its health and its bounds on waits.

Connecting (URLs, engines, locks, schema upgrade) is in storage.database; transactions and
their repositories in storage.unit_of_work.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session, sessionmaker

from storage.database import (
    DEFAULT_TIMEOUTS,
    Timeouts,
    describe_url,
    make_engine,
    milliseconds,
    normalise_url,
    setup_lock,
    upgrade_schema,
)
from storage.errors import FailureKind, StoreTimeout, StoreUnavailable, classify
from storage.health import HealthSnapshot, StoreHealth
from storage.unit_of_work import CommitWatch, UnitOfWork
from storage.world_clock import ClockSetting, setting_of
from storage.world_version import watch_world_changes

# Names the layers above import from here.
__all__ = ["CommitWatch", "Store", "Timeouts", "UnitOfWork", "describe_url", "normalise_url",
           "upgrade_schema"]

# When the current request's database waits must end (time.monotonic()), if a budget is set.
_WAIT_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "hvsim_wait_deadline", default=None)
# The world version and, in the same round trip, the world clock's setting.
_VERSION = "SELECT counter FROM world_version WHERE id = 1"
_CLOCK = "SELECT mode, scale, base_us, anchor_us FROM world_clock WHERE id = 1"
# Below this much of the budget left, a transaction's own lock bound is lowered to what is left.
_BUDGET_SLACK = 0.05


class Store:
    """The database behind one hvsim process."""

    def __init__(self, url: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self.url = normalise_url(url)
        self.timeouts = timeouts
        self.engine = make_engine(self.url, timeouts)
        self.health = StoreHealth(self.where())
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        # The world clock as of the last world_version() read; None: no clock stored yet.
        self.clock_setting: ClockSetting | None = None
        # The world version the clock setting was read at: setting the clock bumps the version
        # (its row is a world table), so the clock is read again only when the version moved.
        self._clock_read_at: int | None = None
        watch_world_changes(self._factory)
        event.listen(self.engine, "before_cursor_execute", self._bound_lock_waits)

    def where(self) -> str:
        return describe_url(self.url)

    def wait_deadline(self) -> float | None:
        """When the waits of a request arriving now must end (time.monotonic()); None: never."""
        return time.monotonic() + self.timeouts.lock if self.timeouts.lock > 0 else None

    @contextlib.contextmanager
    def wait_budget(self, deadline: float | None = None) -> Iterator[None]:
        """One lock timeout for all the database waits of one request.

        A request may queue for several locks in turn (a free worker, this process's write
        turn, the database's locks, then again while settling jobs); each within the bound
        alone could add up past it. `deadline` (from wait_deadline when the request arrived)
        counts the time it queued before; nested budgets keep the outermost one.
        """
        if self.timeouts.lock <= 0 or _WAIT_DEADLINE.get() is not None:
            yield
            return
        token = _WAIT_DEADLINE.set(deadline or time.monotonic() + self.timeouts.lock)
        try:
            yield
        finally:
            _WAIT_DEADLINE.reset(token)

    def remaining_wait(self) -> float | None:
        """Seconds the current request may still wait for locks; None: no bound."""
        deadline = _WAIT_DEADLINE.get()
        if deadline is None:
            return self.timeouts.lock or None
        return deadline - time.monotonic()

    def budget_spent(self, waiting_for: str) -> StoreTimeout:
        return StoreTimeout(FailureKind.LOCK_TIMEOUT, f"waiting for {waiting_for} used up the "
                            "request's lock timeout", bound=self.timeouts.lock)

    def _bound_lock_waits(self, connection: Connection, cursor: Any, _statement: str,
                          _parameters: object, _context: object, _executemany: bool) -> None:
        """A statement run late in a request's budget waits only for what is left of it.

        PostgreSQL's lock_timeout bounds each lock wait on its own, so one transaction that
        waits for the write turn and then for a table could wait twice the bound. The
        connection's own setting is the whole budget; only a request that has already waited
        pays for one more SET LOCAL per statement.
        """
        deadline = _WAIT_DEADLINE.get()
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        if remaining >= self.timeouts.lock - _BUDGET_SLACK:
            return
        if remaining <= 0:
            raise self.budget_spent("locks")
        if connection.dialect.name == "postgresql" and connection.in_transaction():
            cursor.execute(f"SET LOCAL lock_timeout = {max(1, milliseconds(remaining))}")

    @contextlib.contextmanager
    def setup_turn(self) -> Iterator[None]:
        """Hold a cluster-wide lock while the schema is upgraded and the world seeded."""
        with setup_lock(self.engine):
            yield

    def upgrade_schema(self) -> None:
        """Bring the schema to the newest alembic revision."""
        upgrade_schema(self.engine)

    def new_session(self) -> Session:
        return self._factory()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    def failure(self, error: BaseException) -> StoreUnavailable | None:
        """The typed failure of a database error (None if it is not one), noted in health."""
        if isinstance(error, StoreUnavailable):
            return error
        failure = classify(error)
        if failure is None:
            return None
        failure.bound = self.timeouts.bound(failure.kind)
        if failure.kind is FailureKind.UNREACHABLE:
            self.health.failed(failure.reason)
        return failure

    def world_version(self) -> int:
        """The current world version, read with the DB-API directly (the hot path).

        The world clock's setting is kept in `clock_setting`, read again on the same
        connection whenever the version moved: every request reads the version first, so the
        clock it then computes time from is as fresh as the version (see
        emulator.core.world_clock), and an unchanged world costs one indexed read."""
        try:
            connection = self.engine.raw_connection()
        except Exception as error:
            raise self._failure_or(error) from error
        try:
            cursor = connection.cursor()
            cursor.execute(_VERSION)
            row = cursor.fetchone()
            version = int(row[0]) if row else 0
            clock_row = None
            stale_clock = version != self._clock_read_at
            if stale_clock:
                cursor.execute(_CLOCK)
                clock_row = cursor.fetchone()
            cursor.close()
            connection.commit()  # end the read transaction (PostgreSQL opens one implicitly)
        except Exception as error:
            failure = self._failure_or(error)
            if failure.kind is FailureKind.UNREACHABLE:
                connection.invalidate()  # never hand a broken connection to the next request
            raise failure from error
        finally:
            connection.close()
        self.health.succeeded()
        if stale_clock:
            self.clock_setting = setting_of(clock_row)
            self._clock_read_at = version
        return version

    def _failure_or(self, error: Exception) -> StoreUnavailable:
        failure = self.failure(error)
        if failure is None:
            raise error
        return failure

    def schema_revision(self) -> str | None:
        """The alembic revision the database is at (None before the first upgrade)."""
        with self.unit_of_work() as uow:
            return uow.session.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def probe(self) -> HealthSnapshot:
        """Ask the database now (one cheap query) and report the health that follows."""
        with contextlib.suppress(StoreUnavailable):
            self.world_version()
        return self.health.snapshot()

    def dispose(self) -> None:
        self.engine.dispose()
