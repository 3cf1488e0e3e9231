"""Engine, schema upgrade and unit of work.

SQLite (a file, or memory for tests) is the embedded default; PostgreSQL is used by URL so that
several hvsim processes share one world.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from sqlalchemy import Connection, Engine, create_engine, event, text, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool

from storage.errors import StaleWrite
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


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        kwargs: dict[str, object] = {"connect_args": {"check_same_thread": False}}
        if ":memory:" in url or url in ("sqlite://", "sqlite+pysqlite://"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


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
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_SETUP_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_SETUP_LOCK})
            conn.commit()


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


class UnitOfWork:
    """One transaction: nothing is kept unless commit() is called."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() discards anything uncommitted (the connection's transaction is rolled back)
        # but, unlike rollback(), leaves loaded rows readable for lazily rendered answers.
        self.session.close()

    def connection(self) -> Connection:
        """The unit's connection, for Core reads inside the same transaction."""
        return self.session.connection()

    def commit(self) -> None:
        try:
            self.session.commit()
        except StaleDataError as error:
            self.session.rollback()
            raise StaleWrite(str(error)) from error

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as error:
            raise StaleWrite(str(error)) from error


class Store:
    """The database behind one hvsim process."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._factory, "before_flush", _bump_on_world_change)
        for name in ("after_commit", "after_rollback"):
            event.listen(self._factory, name, _reset_bump_flag)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._factory)

    def world_version(self) -> int:
        """The current world version, read with the DB-API directly (the hot path)."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT counter FROM world_version WHERE id = 1")
            row = cursor.fetchone()
            cursor.close()
            connection.commit()  # end the read transaction (PostgreSQL opens one implicitly)
        finally:
            connection.close()
        return int(row[0]) if row else 0

    def dispose(self) -> None:
        self.engine.dispose()
