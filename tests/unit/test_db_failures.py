"""Database failures without a database server: how driver errors are classified, when the
dispatcher's guard retries, and what the health tracker logs."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
from pywbem import CIM_ERR_FAILED, CIMError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from emulator.core import guard
from emulator.core.guard import guarded, guarded_write, may_retry
from emulator.core.unavailable import ServiceUnavailable
from storage.db import Store, Timeouts
from storage.errors import FailureKind, StoreTimeout, StoreUnavailable, classify, short_reason
from storage.health import StoreHealth

REFUSED = ('connection failed: connection to server at "127.0.0.1", port 5432 failed: '
           "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
           "connections?")


def wrapped(original: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.OperationalError("SELECT 1", {}, original,
                                   connection_invalidated=invalidated)


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "kind"), [
    (psycopg.OperationalError(REFUSED), FailureKind.UNREACHABLE),
    (wrapped(psycopg.OperationalError(REFUSED)), FailureKind.UNREACHABLE),
    (wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator "
                                          "command")), FailureKind.UNREACHABLE),
    (wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")),
     FailureKind.UNREACHABLE),
    (wrapped(psycopg.OperationalError("consuming input failed: server closed the connection "
                                      "unexpectedly"), invalidated=True),
     FailureKind.UNREACHABLE),
    (wrapped(psycopg.errors.SerializationFailure("could not serialize access")),
     FailureKind.CONFLICT),
    (wrapped(psycopg.errors.DeadlockDetected("deadlock detected")), FailureKind.CONFLICT),
    (wrapped(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")),
     FailureKind.LOCK_TIMEOUT),
    (wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
     FailureKind.STATEMENT_TIMEOUT),
    (psycopg.OperationalError("connection timeout expired"), FailureKind.CONNECT_TIMEOUT),
    (sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"),
     FailureKind.POOL_TIMEOUT),
    (wrapped(sqlite3.OperationalError("database is locked")), FailureKind.LOCK_TIMEOUT),
    (wrapped(sqlite3.OperationalError("unable to open database file")),
     FailureKind.UNREACHABLE),
])
def test_database_errors_are_classified(error: BaseException, kind: FailureKind) -> None:
    failure = classify(error)
    assert failure is not None and failure.kind is kind
    assert isinstance(failure, StoreTimeout) == failure.timed_out
    assert failure.transient == (kind in (FailureKind.UNREACHABLE, FailureKind.CONFLICT))


@pytest.mark.parametrize("error", [
    ValueError("a bug"),
    sa_exc.IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("duplicate key")),
    sa_exc.ProgrammingError("SELEC", {}, psycopg.errors.SyntaxError("syntax error")),
    sa_exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x")),
])
def test_bugs_are_not_classified_as_unavailability(error: BaseException) -> None:
    assert classify(error) is None


def test_reasons_are_short_and_without_driver_preamble() -> None:
    assert short_reason(psycopg.OperationalError(REFUSED)) == "connection refused"
    assert short_reason(psycopg.errors.AdminShutdown(
        "terminating connection due to administrator command\nSSL connection closed")) == \
        "terminating connection due to administrator command"


def test_explanations_name_the_bound() -> None:
    failure = Store("sqlite://", Timeouts(lock=1.5)).failure(
        wrapped(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")))
    assert failure is not None
    assert "exceeded the lock timeout of 1.5 s" in failure.explanation()


# -- the retry rule --------------------------------------------------------------------------

LOST = StoreUnavailable(FailureKind.UNREACHABLE, "server closed the connection unexpectedly")
CONFLICT = StoreUnavailable(FailureKind.CONFLICT, "deadlock detected")
LOCKED = StoreTimeout(FailureKind.LOCK_TIMEOUT, "canceling statement due to lock timeout")


def test_reads_retry_transient_failures_a_bounded_number_of_times() -> None:
    for failure in (LOST, CONFLICT):
        assert may_retry(failure, 1, writes=False, changed=False)
        assert may_retry(failure, 1, writes=False, changed=True)  # settling committed: fine
        assert may_retry(failure, len(guard.RETRY_DELAYS), writes=False, changed=False)
        assert not may_retry(failure, len(guard.RETRY_DELAYS) + 1, writes=False, changed=False)


def test_timeouts_are_never_retried() -> None:
    assert not may_retry(LOCKED, 1, writes=False, changed=False)


def test_writes_retry_only_while_nothing_was_committed() -> None:
    assert may_retry(LOST, 1, writes=True, changed=False)
    assert not may_retry(LOST, 1, writes=True, changed=True)
    lost_commit = StoreUnavailable(FailureKind.UNREACHABLE, "server closed the connection",
                                   outcome_unknown=True)
    assert not may_retry(lost_commit, 1, writes=True, changed=False)


# -- the guard -------------------------------------------------------------------------------


class Service:
    """Stands in for the Dispatcher: guarded methods whose failures are scripted."""

    def __init__(self, failures: list[BaseException | None], *,
                 commit_first: bool = False) -> None:
        self.store = Store("sqlite://")
        self.failures = failures
        self.commit_first = commit_first
        self.calls = 0

    def _step(self) -> str:
        self.calls += 1
        if self.commit_first:
            with self.store.unit_of_work() as uow:
                uow.commit()
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return "done"

    @guarded
    def read(self) -> str:
        return self._step()

    @guarded_write
    def write(self) -> str:
        return self._step()

    @guarded
    def read_twice(self) -> str:
        return self.read() + self.read()


@pytest.fixture(autouse=True)
def no_retry_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "RETRY_DELAYS", (0.0, 0.0, 0.0))


def test_a_read_survives_a_dropped_connection() -> None:
    service = Service([LOST, LOST])
    assert service.read() == "done"
    assert service.calls == 3


def test_retries_run_at_the_outermost_call_only() -> None:
    service = Service([None, LOST])
    assert service.read_twice() == "donedone"
    assert service.calls == 4  # both reads again, not just the second


def test_a_failure_past_the_retries_is_service_unavailable() -> None:
    service = Service([LOST] * 10)
    with pytest.raises(ServiceUnavailable) as raised:
        service.read()
    assert service.calls == len(guard.RETRY_DELAYS) + 1
    assert raised.value.status_code == CIM_ERR_FAILED and not raised.value.timed_out
    assert raised.value.status_description.startswith(
        "the state store is unavailable (server closed the connection unexpectedly)")
    assert raised.value.status_description.endswith("retry the operation")


def test_a_write_that_committed_is_not_run_again() -> None:
    service = Service([LOST], commit_first=True)
    with pytest.raises(ServiceUnavailable):
        service.write()
    assert service.calls == 1
    fresh = Service([LOST])
    assert fresh.write() == "done" and fresh.calls == 2


def test_a_timeout_is_reported_once_and_names_the_operation(
        caplog: pytest.LogCaptureFixture) -> None:
    service = Service([LOCKED])
    with caplog.at_level(logging.DEBUG), pytest.raises(ServiceUnavailable) as raised:
        service.read()
    assert service.calls == 1 and raised.value.timed_out
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].getMessage().startswith("read: ")
    assert all(r.exc_info is None for r in caplog.records if r.levelno > logging.DEBUG)


def test_unexpected_errors_stay_internal_errors(caplog: pytest.LogCaptureFixture) -> None:
    service = Service([KeyError("x")])
    with pytest.raises(CIMError) as raised:
        service.read()
    assert not isinstance(raised.value, ServiceUnavailable)
    assert raised.value.status_description == "internal error: KeyError"
    assert service.calls == 1
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.ERROR)


# -- health ----------------------------------------------------------------------------------


def test_one_warning_per_outage_and_one_line_when_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    health = StoreHealth("postgresql at db:5432/hvsim")
    with caplog.at_level(logging.INFO, logger="hvsim.store"):
        health.succeeded()
        for _ in range(5):
            health.failed("connection refused")
        assert not health.snapshot().reachable
        health.succeeded()
        health.succeeded()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0][0] == "WARNING" and "connection refused" in lines[0][1]
    assert lines[1][0] == "INFO" and "reachable again after" in lines[1][1]
    assert "(5 failed attempts)" in lines[1][1]
    snapshot = health.snapshot()
    assert snapshot.reachable and snapshot.outages == 1
    assert snapshot.last_error == "connection refused"


def test_the_waits_of_one_request_share_one_lock_timeout(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'budget.db'}", Timeouts(lock=0.5))
    try:
        assert store.remaining_wait() == 0.5
        with store.wait_budget():
            time.sleep(0.3)
            remaining = store.remaining_wait()
            assert remaining is not None and 0.05 < remaining < 0.25
            with store.wait_budget():  # a nested budget keeps the outer deadline
                inner = store.remaining_wait()
                assert inner is not None and inner <= remaining
        assert store.remaining_wait() == 0.5
    finally:
        store.dispose()


def test_a_spent_budget_refuses_to_begin_another_transaction(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'spent.db'}", Timeouts(lock=0.2))
    try:
        with store.wait_budget():
            time.sleep(0.25)
            with pytest.raises(StoreTimeout, match="used up"), store.unit_of_work() as uow:
                uow.session.execute(text("SELECT 1"))
    finally:
        store.dispose()
