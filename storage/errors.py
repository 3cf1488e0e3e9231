"""Storage failures. The store never speaks CIM; the dispatcher translates these."""

from __future__ import annotations

import enum
import sqlite3

from sqlalchemy import exc as sa_exc


class StorageError(Exception):
    """Base of every error the store raises."""


class NotFound(StorageError):
    """The row a caller asked for does not exist."""


class AlreadyExists(StorageError):
    """A row with the same identity exists already."""


class StaleWrite(StorageError):
    """Another writer changed the row first (version counter mismatch)."""


class FailureKind(enum.Enum):
    UNREACHABLE = "unreachable"  # refused, dropped, shut down, restarting
    CONFLICT = "conflict"  # serialization failure or deadlock: the transaction was rolled back
    LOCK_TIMEOUT = "lock timeout"
    STATEMENT_TIMEOUT = "statement timeout"
    CONNECT_TIMEOUT = "connect timeout"
    POOL_TIMEOUT = "pool timeout"


TIMEOUTS = frozenset({FailureKind.LOCK_TIMEOUT, FailureKind.STATEMENT_TIMEOUT,
                      FailureKind.CONNECT_TIMEOUT, FailureKind.POOL_TIMEOUT})


class StoreUnavailable(StorageError):
    """The database cannot serve this request now; a later attempt may succeed.

    `reason` is the database's own short text ("connection refused"). `outcome_unknown` is set
    when the connection broke during COMMIT, so the transaction may or may not have been kept.
    `bound` is the configured limit (seconds) a timeout ran into, when known.
    """

    def __init__(self, kind: FailureKind, reason: str, *, bound: float | None = None,
                 outcome_unknown: bool = False) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.bound = bound
        self.outcome_unknown = outcome_unknown

    @property
    def transient(self) -> bool:
        """Running the same work again at once may succeed (a timeout would only wait again)."""
        return self.kind in (FailureKind.UNREACHABLE, FailureKind.CONFLICT)

    @property
    def timed_out(self) -> bool:
        return self.kind in TIMEOUTS

    def explanation(self) -> str:
        """What happened, for an operator and a client: no SQL, no driver names."""
        bound = f" of {self.bound:g} s" if self.bound else ""
        match self.kind:
            case FailureKind.UNREACHABLE:
                return f"the state store is unavailable ({self.reason})"
            case FailureKind.CONFLICT:
                return f"the state store aborted the transaction ({self.reason})"
            case FailureKind.LOCK_TIMEOUT:
                return f"a database wait exceeded the lock timeout{bound} ({self.reason})"
            case FailureKind.STATEMENT_TIMEOUT:
                return f"a database statement exceeded the statement timeout{bound}"
            case FailureKind.CONNECT_TIMEOUT:
                return f"connecting to the state store exceeded the connect timeout{bound}"
            case FailureKind.POOL_TIMEOUT:
                return (f"no database connection became free within{bound or ' the pool timeout'}"
                        " (every connection is busy)")


class StoreTimeout(StoreUnavailable):
    """A bounded wait (lock, statement, connect, free pooled connection) ran out."""


# PostgreSQL SQLSTATEs (Appendix A of its manual) by what they mean for a request.
_SQLSTATE_KINDS = {
    "40001": FailureKind.CONFLICT,  # serialization_failure
    "40P01": FailureKind.CONFLICT,  # deadlock_detected
    "55P03": FailureKind.LOCK_TIMEOUT,  # lock_not_available (lock_timeout, NOWAIT)
    "57014": FailureKind.STATEMENT_TIMEOUT,  # query_canceled (statement_timeout)
    "57P01": FailureKind.UNREACHABLE,  # admin_shutdown, also pg_terminate_backend
    "57P02": FailureKind.UNREACHABLE,  # crash_shutdown
    "57P03": FailureKind.UNREACHABLE,  # cannot_connect_now (starting up, shutting down)
    "53300": FailureKind.UNREACHABLE,  # too_many_connections
    "25P03": FailureKind.UNREACHABLE,  # idle_in_transaction_session_timeout
}


def classify(error: BaseException) -> StoreUnavailable | None:
    """The typed failure a database error stands for, or None if it is not one of those.

    Accepts SQLAlchemy's wrappers and bare DB-API errors (psycopg 3, sqlite3). Errors that
    mean a bug (SQL syntax, constraint violations) are not classified: they stay internal.
    """
    if isinstance(error, StoreUnavailable):
        return error
    if isinstance(error, sa_exc.TimeoutError):  # QueuePool: no connection free in time
        return StoreTimeout(FailureKind.POOL_TIMEOUT, "no free database connection")
    invalidated = isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    original = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    if original is None:
        return None
    reason = short_reason(original)
    sqlstate = getattr(original, "sqlstate", None)
    kind = _SQLSTATE_KINDS.get(sqlstate or "")
    if kind is None and sqlstate and sqlstate.startswith("08"):
        kind = FailureKind.UNREACHABLE  # connection_exception class
    if kind is None and isinstance(original, sqlite3.OperationalError):
        kind = _sqlite_kind(reason)
    if kind is None and (invalidated or _is_psycopg_connection_error(original, sqlstate)):
        kind = (FailureKind.CONNECT_TIMEOUT if "timeout expired" in reason
                else FailureKind.UNREACHABLE)
    if kind is None:
        return None
    failure_type = StoreTimeout if kind in TIMEOUTS else StoreUnavailable
    return failure_type(kind, reason)


def _sqlite_kind(reason: str) -> FailureKind | None:
    if "locked" in reason:  # "database is locked": the busy timeout ran out
        return FailureKind.LOCK_TIMEOUT
    if "unable to open" in reason or "disk i/o" in reason:
        return FailureKind.UNREACHABLE
    return None


def _is_psycopg_connection_error(error: BaseException, sqlstate: str | None) -> bool:
    # Client-side psycopg failures (refused, closed, dropped) carry no SQLSTATE; server-side
    # OperationalErrors without a listed SQLSTATE (e.g. disk full) are not about reachability.
    module = type(error).__module__ or ""
    if not module.startswith("psycopg"):
        return False
    name = type(error).__name__
    return sqlstate is None and name in ("OperationalError", "InterfaceError")


def short_reason(error: BaseException) -> str:
    """The first line of a driver message, without the connection-attempt preamble.

    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection
    refused' becomes 'connection refused'.
    """
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = text.rsplit("failed: ", 1)[-1].strip()
    if text.startswith("FATAL:") or text.startswith("ERROR:"):
        text = text.split(":", 1)[1].strip()
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
