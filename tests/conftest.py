"""Session-wide fixtures: databases (SQLite and a real PostgreSQL) and live hvsim servers."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.postgres import fresh_database, postgres_session
from tests.support.server import DEMO_SCENARIO, HvsimServer, sqlite_url

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_configure(config: pytest.Config) -> None:
    # A SIGTERM (CI timeout, `timeout`, an IDE's stop button) would otherwise kill pytest
    # without teardown, orphaning the PostgreSQL cluster and hvsim servers. As an interrupt,
    # pytest still runs every finalizer.
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _interrupt)
        config.add_cleanup(_restore_default_sigterm)


def _restore_default_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt(signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Kept so that fixture teardown can tell whether its test failed (to show server logs).
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _test_failed(item: pytest.Item) -> bool:
    return any(r.failed for r in item.stash.get(_REPORTS, {}).values())


# -- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Base URL (postgresql://...) of a PostgreSQL server for this session.

    HVSIM_TEST_POSTGRES_URL if set, else a private cluster started now and deleted at the end.
    Skips without PostgreSQL, except with CI=true, where that is an error.
    """
    with postgres_session() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "hvsim.db")
    # Looked up only here, so that a run selecting only sqlite never starts PostgreSQL.
    return fresh_database(request.getfixturevalue("postgres_url"))


# -- live servers ----------------------------------------------------------------------------


@pytest.fixture
def hvsim_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., HvsimServer]]:
    """Factory: ``hvsim_server(hosts=2, vms_per_host=3, database=url) -> HvsimServer``.

    Keyword arguments become CLI options (``vms_per_host=3`` -> ``--vms-per-host 3``; True is a
    bare flag). Defaults: --port 0, --bind 127.0.0.1, a fresh SQLite file in tmp_path. Every
    server started is stopped at teardown; a failed test gets the server logs printed.
    """
    started: list[HvsimServer] = []

    def start(**cli_options: object) -> HvsimServer:
        server = HvsimServer(cli_options, workdir=tmp_path / f"server-{len(started) + 1}")
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()
    if _test_failed(request.node):
        _print_logs(started)


@pytest.fixture(scope="module", params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def demo_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HvsimServer]:
    """The built-in demo cluster (HV-01, HV-02), shared by a module, once on a fresh SQLite
    file and once on a fresh PostgreSQL database, so every end-to-end test covers both."""
    workdir = tmp_path_factory.mktemp("demo-server")
    if request.param == "sqlite":
        database = sqlite_url(workdir / "hvsim.db")
    else:
        database = fresh_database(request.getfixturevalue("postgres_url"))
    server = HvsimServer({"scenario": DEMO_SCENARIO, "database": database}, workdir=workdir)
    with server:
        yield server
    module = request.module
    if any(_test_failed(i) for i in request.session.items if getattr(i, "module", None) is module):
        _print_logs([server])


def _print_logs(servers: list[HvsimServer]) -> None:
    # Printed at teardown, so pytest shows it under "Captured stderr teardown" of the failure.
    for server in servers:
        print(f"\n----- hvsim server log ({server.log_path}) -----", file=sys.stderr)
        print(server.log_text()[-20000:], file=sys.stderr)
