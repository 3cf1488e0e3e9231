"""Engine, schema upgrade and unit of work.

SQLite (a file, or memory for tests) is the embedded default; PostgreSQL is used by URL so that
several hvsim processes share one world.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool

from storage.errors import FailureKind, StaleWrite, StoreTimeout, StoreUnavailable, classify
from storage.health import HealthSnapshot, StoreHealth
from storage.models import WORLD_MODELS, WorldVersion

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Serialises schema upgrades and seeding between hvsim processes starting on one PostgreSQL.
_PG_SETUP_LOCK = 0x68_76_73_69_6D
_PG_WRITE_LOCK = 0x68_76_73_69_6E


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and give them the psycopg (v3) driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class Timeouts:
    """Bounds on database waits, in seconds; 0 means no bound.

    `lock` bounds waits for row, table and advisory locks (PostgreSQL lock_timeout; SQLite's
    busy timeout) and for a free pooled connection; `statement` bounds any one statement
    (PostgreSQL only); `connect` bounds opening a connection (PostgreSQL only).
    """

    connect: float = 5.0
    lock: float = 10.0
    statement: float = 30.0

    def bound(self, kind: FailureKind) -> float | None:
        value = {FailureKind.LOCK_TIMEOUT: self.lock, FailureKind.POOL_TIMEOUT: self.lock,
                 FailureKind.STATEMENT_TIMEOUT: self.statement,
                 FailureKind.CONNECT_TIMEOUT: self.connect}.get(kind)
        return value or None


POOL_SIZE = 10
# When the current request's database waits must end (time.monotonic()), if a budget is set.
_WAIT_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "hvsim_wait_deadline", default=None)
# Below this much of the budget left, a transaction's own lock bound is lowered to what is left.
_BUDGET_SLACK = 0.05
POOL_OVERFLOW = 20


def make_engine(url: str, timeouts: Timeouts = Timeouts()) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # sqlite3's timeout is how long a statement waits for another connection's lock.
        kwargs: dict[str, object] = {"connect_args": {"check_same_thread": False,
                                                      "timeout": timeouts.lock or 1e9}}
        if ":memory:" in url or url in ("sqlite://", "sqlite+pysqlite://"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Server-side bounds travel as session settings in the startup packet, so every pooled
    # connection has them, including those re-opened after the server restarts. lock_timeout
    # also bounds pg_advisory_xact_lock, the cluster-wide write turn.
    settings = [f"-c lock_timeout={_milliseconds(timeouts.lock)}",
                f"-c statement_timeout={_milliseconds(timeouts.statement)}"]
    given = make_url(url).query.get("options")
    if given:
        settings.insert(0, given if isinstance(given, str) else " ".join(given))
    connect_args: dict[str, object] = {"options": " ".join(settings)}
    if timeouts.connect:
        # libpq counts whole seconds and treats anything below 2 as 2.
        connect_args["connect_timeout"] = max(2, math.ceil(timeouts.connect))
    return create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                         pool_pre_ping=True, pool_timeout=timeouts.lock or 1e9,
                         connect_args=connect_args)


def describe_url(url: str) -> str:
    """Dialect and location, without credentials: 'postgresql at db1:5432/hvsim'."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite at {parsed.database or ':memory:'}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.get_backend_name()} at {parsed.host or 'localhost'}{port}/{parsed.database}"


def _milliseconds(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextlib.contextmanager
def setup_lock(engine: Engine) -> Iterator[None]:
    """Hold a cluster-wide lock while the schema is upgraded and the world seeded."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        # Another process may seed a large world meanwhile: wait for it without a bound.
        conn.execute(text("SET lock_timeout = 0"))
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_SETUP_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_SETUP_LOCK})
            conn.execute(text("RESET lock_timeout"))
            conn.commit()


def without_timeouts(connection: Connection | Session) -> None:
    """Lift the lock and statement bounds for the rest of this transaction (PostgreSQL).

    For start-up work (schema upgrade, seeding a large world), which may legitimately take
    longer than any one request should.
    """
    bind = connection if isinstance(connection, Connection) else connection.get_bind()
    if bind.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL lock_timeout = 0"))
        connection.execute(text("SET LOCAL statement_timeout = 0"))


def serialise_writes(session: Session) -> None:
    """Take the cluster-wide write lock for the rest of this transaction (PostgreSQL).

    Migration bookkeeping (free slots, queue order, settling finished jobs) reads and then
    writes; processes sharing one database take turns. SQLite serialises writers itself and
    the version counters catch what slips through.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_WRITE_LOCK})


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        without_timeouts(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _bump_on_world_change(session: Session, _context: object, _instances: object) -> None:
    """Flush hook: the first flush of a transaction that touches the world bumps its version."""
    if session.info.get("world_bumped"):
        return
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, WORLD_MODELS) for obj in changed):
        bump_world_version(session)


def bump_world_version(session: Session) -> None:
    session.execute(update(WorldVersion).where(WorldVersion.id == 1)
                    .values(counter=WorldVersion.counter + 1))
    session.info["world_bumped"] = True


def _reset_bump_flag(session: Session, *_args: object) -> None:
    session.info.pop("world_bumped", None)


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

    def __init__(self, store: Store) -> None:
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


class Store:
    """The database behind one hvsim process."""

    def __init__(self, url: str, timeouts: Timeouts = Timeouts()) -> None:
        self.url = normalise_url(url)
        self.timeouts = timeouts
        self.engine = make_engine(self.url, timeouts)
        self.health = StoreHealth(self.where())
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._factory, "before_flush", _bump_on_world_change)
        event.listen(self.engine, "before_cursor_execute", self._bound_lock_waits)
        for name in ("after_commit", "after_rollback"):
            event.listen(self._factory, name, _reset_bump_flag)

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
            cursor.execute(f"SET LOCAL lock_timeout = {max(1, _milliseconds(remaining))}")

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
        """The current world version, read with the DB-API directly (the hot path)."""
        try:
            connection = self.engine.raw_connection()
        except Exception as error:
            raise self._failure_or(error) from error
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT counter FROM world_version WHERE id = 1")
            row = cursor.fetchone()
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
        return int(row[0]) if row else 0

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
