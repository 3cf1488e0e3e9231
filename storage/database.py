"""Connecting to the database: URLs, engines, bounds on waits, cluster-wide locks, schema upgrade.

SQLite (a file, or memory for tests) is the embedded default; PostgreSQL is used by URL so that
several hvsim processes share one world.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from storage.errors import FailureKind

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


DEFAULT_TIMEOUTS = Timeouts()
POOL_SIZE = 10
POOL_OVERFLOW = 20


def make_engine(url: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> Engine:
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
    settings = [f"-c lock_timeout={milliseconds(timeouts.lock)}",
                f"-c statement_timeout={milliseconds(timeouts.statement)}"]
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


def milliseconds(seconds: float) -> int:
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
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename); with foreign keys on,
            # the drop would cascade to the rows that reference it. SQLite ignores the pragma
            # inside a transaction, so it is set before the migration's transaction begins.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                without_timeouts(connection)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
