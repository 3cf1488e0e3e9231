"""The unit of work: one transaction, the repositories that read and write in it, and the
commit bookkeeping the request guard relies on."""

from __future__ import annotations

import contextvars
import functools
from types import TracebackType
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from storage.database import serialise_writes, without_timeouts
from storage.errors import FailureKind, StaleWrite, StoreUnavailable
from storage.fault_rules import SqlFaultRules
from storage.health import StoreHealth
from storage.hosts import SqlHosts
from storage.jobs import SqlJobs
from storage.keyboards import SqlKeyboards
from storage.seeding import SqlWorldSeeding
from storage.virtual_machines import SqlVirtualMachines
from storage.world_clock import SqlWorldClock
from storage.world_reads import SqlWorldReads
from storage.world_snapshots import SqlWorldSnapshots


class SessionSource(Protocol):
    """What a unit of work needs of the store that opens it (storage.db.Store)."""

    health: StoreHealth

    def new_session(self) -> Session: ...

    def failure(self, error: BaseException) -> StoreUnavailable | None: ...


class CommitWatch:
    """Notes whether work done from now until close() commits (or may have: a COMMIT whose
    answer was lost). Work that committed nothing was rolled back as a whole, so running it
    again is safe. Watches nest: a commit is seen by every open watch of the context."""

    __slots__ = ("_token", "changed", "parent")

    def __init__(self) -> None:
        self.parent = _WATCH.get()
        self.changed = False
        self._token = _WATCH.set(self)

    def mark(self) -> None:
        watch: CommitWatch | None = self
        while watch is not None:
            watch.changed = True
            watch = watch.parent

    def close(self) -> None:
        _WATCH.reset(self._token)


_WATCH: contextvars.ContextVar[CommitWatch | None] = contextvars.ContextVar(
    "hvsim_commit_watch", default=None)


def _note_commit() -> None:
    watch = _WATCH.get()
    if watch is not None:
        watch.mark()


class UnitOfWork:
    """One transaction: nothing is kept unless commit() is called.

    A database failure inside leaves as StoreUnavailable (or StoreTimeout), never as a driver
    error, and updates the store's health.
    """

    def __init__(self, store: SessionSource) -> None:
        self._store = store
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._store.new_session()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        used = self.session.in_transaction()
        # close() discards anything uncommitted (the connection's transaction is rolled back)
        # but, unlike rollback(), leaves loaded rows readable for lazily rendered answers.
        self.session.close()
        if exc is None:
            if used:
                self._store.health.succeeded()
            return
        if isinstance(exc, StoreUnavailable) or not isinstance(exc, Exception):
            return
        failure = self._store.failure(exc)
        if failure is not None:
            raise failure from exc

    def connection(self) -> Connection:
        """The unit's connection, for Core reads inside the same transaction."""
        return self.session.connection()

    # Repositories, made on first use: most requests need one or two of them.

    @functools.cached_property
    def world(self) -> SqlWorldReads:
        return SqlWorldReads(self.connection)

    @functools.cached_property
    def hosts(self) -> SqlHosts:
        return SqlHosts(self.session)

    @functools.cached_property
    def vms(self) -> SqlVirtualMachines:
        return SqlVirtualMachines(self.session)

    @functools.cached_property
    def jobs(self) -> SqlJobs:
        return SqlJobs(self.session)

    @functools.cached_property
    def clock(self) -> SqlWorldClock:
        return SqlWorldClock(self.session)

    @functools.cached_property
    def keyboards(self) -> SqlKeyboards:
        return SqlKeyboards(self.session)

    @functools.cached_property
    def faults(self) -> SqlFaultRules:
        return SqlFaultRules(self.session)

    @functools.cached_property
    def seeding(self) -> SqlWorldSeeding:
        return SqlWorldSeeding(self.session)

    @functools.cached_property
    def snapshots(self) -> SqlWorldSnapshots:
        return SqlWorldSnapshots(self.session)

    def take_write_turn(self) -> None:
        serialise_writes(self.session)

    def lift_timeouts(self) -> None:
        """No lock or statement bound for the rest of this transaction (start-up work)."""
        without_timeouts(self.session)

    def commit(self) -> None:
        # Flushed first: a failure there leaves nothing committed, so the caller may retry.
        self.flush()
        try:
            self.session.commit()
        except StaleDataError as error:
            self.session.rollback()
            raise StaleWrite(str(error)) from error
        except Exception as error:
            failure = self._store.failure(error)
            if failure is None:
                raise
            if failure.kind is FailureKind.UNREACHABLE:
                # The COMMIT may have reached the server before the connection broke.
                failure.outcome_unknown = True
                _note_commit()
            raise failure from error
        _note_commit()
        self._store.health.succeeded()

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as error:
            raise StaleWrite(str(error)) from error
