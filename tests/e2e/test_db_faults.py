"""Database faults under load, as an operator meets them: PostgreSQL restarted, stopped and
started again, hvsim's connections terminated, a table locked past --db-lock-timeout.

Clients get protocol errors (CIM_ERR_FAILED, a WinRM fault), never a bare HTTP 500 or a hang;
once the database is back requests succeed without the client retrying; a migration in flight
completes with its VM on exactly one host; the log tells each outage in two lines.

The module runs its own PostgreSQL cluster, since it restarts and stops it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pywbem import CIM_ERR_FAILED

from tests.support.database_faults import FAULTS, LOCK_TIMEOUT, Outcome, Report, run_fault
from tests.support.postgres import (
    PostgresCluster,
    PostgresUnavailable,
    free_port,
    fresh_database,
    unavailable,
)
from tests.support.server import DEMO_SCENARIO, PROJECT_ROOT, SERVE_COMMAND, HvsimServer

pytestmark = pytest.mark.e2e

TIME_SCALE = 2  # a live migration of web-01 takes about 3 s
# Longest a request may take during a fault: retries (1.3 s) or a lock wait, plus slack.
REQUEST_BOUND = 8.0
IDENTIFY_BOUND = 0.5
# What a request may take beyond the lock timeout: its own work on a loaded 2-core machine.
LOCK_SLACK = 1.5
UNAVAILABLE_LINE = re.compile(r"WARNING hvsim\.store: database .* is unavailable: ")
RECOVERED_LINE = re.compile(r"INFO hvsim\.store: database .* is reachable again after ")
LOCK_TIMEOUT_LINE = re.compile(r"WARNING hvsim\.store: \w+: a database wait exceeded the lock "
                               rf"timeout of {LOCK_TIMEOUT} s")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    try:
        started = PostgresCluster.start()
    except PostgresUnavailable as error:
        unavailable(str(error))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, cluster: PostgresCluster,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    options = {"scenario": DEMO_SCENARIO, "database": fresh_database(cluster.url),
               "time_scale": TIME_SCALE, "db_lock_timeout": LOCK_TIMEOUT,
               "db_connect_timeout": 2}
    failed_before = request.session.testsfailed
    with HvsimServer(options, workdir=tmp_path_factory.mktemp("db-faults")) as started:
        yield started
        if request.session.testsfailed > failed_before:
            print(f"\n----- hvsim server log -----\n{started.log_text()[-30000:]}",
                  file=sys.stderr)


# -- one fault, under load ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=list(FAULTS))
def report(request: pytest.FixtureRequest, cluster: PostgresCluster,
           server: HvsimServer) -> Report:
    return run_fault(request.param, cluster, server)


def _summary(outcomes: list[Outcome]) -> str:
    return "\n".join(f"{o.kind}: {o.result} {o.detail} ({o.seconds:.2f} s)" for o in outcomes
                     if o.result != "ok")


# -- what clients see ------------------------------------------------------------------------

CIMXML_KINDS = ["cimxml method", "cimxml get", "cimxml query"]


@pytest.mark.parametrize("kind", CIMXML_KINDS)
def test_cimxml_clients_get_cim_failed_never_a_bare_500(report: Report, kind: str) -> None:
    outcomes = [o for o in report.during if o.kind == kind]
    assert outcomes
    bad = [o for o in outcomes if o.result not in ("ok", "cim")]
    assert not bad, _summary(bad)
    for outcome in outcomes:
        if outcome.result == "cim":
            assert outcome.detail.startswith(f"{CIM_ERR_FAILED}: "), outcome
            assert ("the state store is unavailable" in outcome.detail
                    or "exceeded the lock timeout" in outcome.detail), outcome
            assert outcome.detail.endswith("retry the operation"), outcome


def test_wsman_clients_get_a_winrm_fault_never_an_internal_error(report: Report) -> None:
    outcomes = [o for o in report.during if o.kind == "wsman query"]
    assert outcomes
    bad = [o for o in outcomes if o.result not in ("ok", "fault")
           or (o.result == "fault" and "internal error" in o.detail)]
    assert not bad, _summary(bad)
    if report.fault == "table lock":
        timed_out = [o for o in outcomes if o.result == "fault"]
        # w:TimedOut is WinRM's ERROR_WSMAN_OPERATION_TIMEDOUT, 0x80338029.
        assert all(str(0x80338029) in o.detail for o in timed_out), _summary(timed_out)


def test_no_request_waits_past_its_bound(report: Report) -> None:
    slow = [o for o in report.during if o.seconds > REQUEST_BOUND]
    assert not slow, _summary(slow)


def test_all_lock_waits_of_a_request_share_one_lock_timeout(report: Report) -> None:
    """A request queues for this process's write turn, then the database's locks, and may
    settle jobs twice: together these waits stay within one --db-lock-timeout."""
    if report.fault != "table lock":
        pytest.skip("measured while a table is locked")
    slow = [o for o in report.during if o.seconds > LOCK_TIMEOUT + LOCK_SLACK]
    assert not slow, _summary(slow)


def test_requests_succeed_once_the_database_is_back(report: Report) -> None:
    failed = [o for o in report.after if o.result != "ok"]
    assert not failed, _summary(failed)


def test_terminated_connections_cost_clients_nothing(report: Report) -> None:
    if report.fault != "terminate connections":
        pytest.skip("only a terminated connection is always retried away by the server")
    failed = [o for o in report.during if o.result != "ok"]
    assert not failed, _summary(failed)


def test_identify_stays_fast_while_a_table_is_locked(report: Report) -> None:
    if report.fault != "table lock":
        pytest.skip("measured while a table is locked")
    identify = [o for o in report.during if o.kind == "wsman identify"]
    assert identify and all(o.result == "ok" for o in identify), _summary(identify)
    assert max(o.seconds for o in identify) < IDENTIFY_BOUND, \
        sorted(round(o.seconds, 3) for o in identify)[-5:]


# -- what the world and the operator see -------------------------------------------------------


def test_a_migration_in_flight_completes_on_exactly_one_host(report: Report) -> None:
    assert report.job_state == 7
    assert report.vm_hosts == [report.destination]


def test_the_log_tells_each_outage_in_two_lines(report: Report) -> None:
    down = UNAVAILABLE_LINE.findall(report.log)
    back = RECOVERED_LINE.findall(report.log)
    if report.fault == "table lock":
        assert not down and not back, report.log[-3000:]
        assert LOCK_TIMEOUT_LINE.search(report.log), report.log[-3000:]
    elif report.fault == "stop and start":
        assert (len(down), len(back)) == (1, 1), report.log[-3000:]
    else:
        # A restart or a kill no request happens to meet leaves nothing to report.
        assert len(down) == len(back) <= 1, report.log[-3000:]


def test_expected_database_errors_log_no_traceback(report: Report) -> None:
    assert "Traceback" not in report.log, report.log[-5000:]


# -- start-up --------------------------------------------------------------------------------


def test_serve_reports_the_database_at_start(server: HvsimServer) -> None:
    assert re.search(r"^hvsim: database postgresql at 127\.0\.0\.1:\d+/hvsim_t_\w+, schema "
                     r"revision \w+, reachable$", server.log_text(), re.MULTILINE)


def test_serve_without_its_database_says_so_in_one_line() -> None:
    url = f"postgresql://hvsim@127.0.0.1:{free_port()}/hvsim"
    finished = subprocess.run([*SERVE_COMMAND, "--database", url, "--port", "0"],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                              check=False)
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        f"hvsim: cannot use the database postgresql at {url.split('@')[1]}: "
        "connection refused"], finished.stderr
