"""Tests of the test helpers themselves (tests/support): real PostgreSQL, fake hvsim servers.

The real ``emulator serve`` is exercised by the e2e suite; here HvsimServer runs a small stand-in
that follows the same CLI contract, so the helper's own logic is checked without it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.support import postgres
from tests.support.postgres import (
    PostgresCluster,
    PostgresUnavailable,
    drop_fresh_databases,
    fresh_database,
    with_database,
)
from tests.support.server import (
    HvsimServer,
    ServerStartError,
    cli_arguments,
    wbem_connection,
)


def engine_for(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def scalar(url: str, sql: str) -> object:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


# -- PostgreSQL ------------------------------------------------------------------------------


def test_session_server_answers(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://")
    assert scalar(postgres_url, "SELECT 1") == 1
    if not os.environ.get(postgres.ENV_URL):
        assert make_url(postgres_url).host == "127.0.0.1"
        assert make_url(postgres_url).database == "hvsim_test"


def test_fresh_database_is_usable(postgres_url: str) -> None:
    url = fresh_database(postgres_url)
    name = make_url(url).database
    assert name != make_url(postgres_url).database
    assert scalar(url, "SELECT 1") == 1
    assert scalar(url, "SELECT current_database()") == name


def test_fresh_databases_are_distinct_and_empty(postgres_url: str) -> None:
    first, second = fresh_database(postgres_url), fresh_database(postgres_url)
    assert first != second
    engine = engine_for(first)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE marker (id integer)"))
    finally:
        engine.dispose()
    for url, tables in ((first, ["marker"]), (second, [])):
        engine = engine_for(url)
        try:
            assert inspect(engine).get_table_names() == tables
        finally:
            engine.dispose()


def test_database_url_gives_an_empty_database_of_each_kind(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    kind = request.node.callspec.id
    assert kind in ("sqlite", "postgres")
    assert database_url.startswith("sqlite:///" if kind == "sqlite" else "postgresql://")
    engine = engine_for(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_with_database_keeps_server_credentials_and_driver() -> None:
    url = "postgresql+psycopg://u:p%40ss@db.example:6543/base?sslmode=disable"
    moved = make_url(with_database(url, "other"))
    assert (moved.drivername, moved.username, moved.password) == ("postgresql+psycopg", "u", "p@ss")
    assert (moved.host, moved.port, moved.database) == ("db.example", 6543, "other")
    assert moved.query == {"sslmode": "disable"}


def test_find_bindir_prefers_newest_packaged_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for version in ("9.6", "15", "10"):
        bindir = tmp_path / "usr/lib/postgresql" / version / "bin"
        bindir.mkdir(parents=True)
        for program in ("initdb", "pg_ctl"):
            (bindir / program).touch()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres, "PACKAGED_BINDIRS", f"{tmp_path}/usr/lib/postgresql/*/bin")
    assert postgres.find_bindir() == tmp_path / "usr/lib/postgresql/15/bin"


def test_missing_postgres_skips_but_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        PostgresCluster.start()

    monkeypatch.delenv(postgres.ENV_URL, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not available"):  # noqa: SIM117
        with postgres.postgres_session():
            pass
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required when CI=true"):  # noqa: SIM117
        with postgres.postgres_session():
            pass


@pytest.fixture
def private_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as error:
        postgres.unavailable(str(error))
    try:
        yield cluster
    finally:
        cluster.stop()


def _listening(port: int, host: str) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_private_cluster_lifecycle(private_cluster: PostgresCluster) -> None:
    cluster = private_cluster
    assert cluster.root.is_dir()
    assert _listening(cluster.port, "127.0.0.1")
    assert scalar(cluster.url, "SHOW fsync") == "off"
    assert scalar(cluster.url, "SHOW listen_addresses") == "127.0.0.1"
    if os.geteuid() == 0:
        assert cluster.data_dir.stat().st_uid == postgres.pwd.getpwnam("postgres").pw_uid

    # What the session teardown does with a server given by HVSIM_TEST_POSTGRES_URL.
    names = [make_url(fresh_database(cluster.url)).database for _ in range(2)]
    count = f"SELECT count(*) FROM pg_database WHERE datname IN ('{names[0]}', '{names[1]}')"
    assert scalar(cluster.url, count) == 2
    drop_fresh_databases(cluster.url)
    assert scalar(cluster.url, count) == 0

    started = time.monotonic()
    cluster.stop()
    cluster.stop()
    assert time.monotonic() - started < 10
    assert not cluster.root.exists()
    assert not _listening(cluster.port, "127.0.0.1")


# -- HvsimServer, against a stand-in that follows the `emulator serve` contract ---------------

FAKE_SERVE = textwrap.dedent(
    """
    import argparse, json, os, signal, socket, sys, threading

    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--port", type=int)
    parser.add_argument("--bind")
    parser.add_argument("--endpoints-file")
    parser.add_argument("--database")
    parser.add_argument("--mode", default="serve")
    args, _ = parser.parse_known_args()
    print("fake serve", sys.argv[1:], "cwd", os.getcwd(), flush=True)
    if args.mode == "crash":
        print("boom: cannot open database", flush=True)
        sys.exit(3)
    if args.mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    listeners = {}
    for n in range(1, args.hosts + 1):
        sock = socket.socket()
        sock.bind((args.bind, args.port))
        sock.listen()
        listeners[f"HV-{n:02d}"] = sock
        threading.Thread(target=lambda s=sock: [s.accept()[0].close() for _ in iter(int, 1)],
                         daemon=True).start()
    endpoints = {h: f"http://{args.bind}:{s.getsockname()[1]}" for h, s in listeners.items()}
    tmp = args.endpoints_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(endpoints, f)
    os.replace(tmp, args.endpoints_file)
    signal.sigwait([signal.SIGINT]) if args.mode == "stubborn" else signal.pause()
    """
)


@pytest.fixture
def fake_command(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_serve.py"
    script.write_text(FAKE_SERVE)
    return [sys.executable, str(script)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cli_arguments() -> None:
    options = {"hosts": 2, "vms_per_host": 3, "reset": True, "seed": None, "verbose": False}
    assert cli_arguments(options) == ["--hosts", "2", "--vms-per-host", "3", "--reset"]
    assert cli_arguments({"scenario": Path("/x/demo.toml")}) == ["--scenario", "/x/demo.toml"]


def test_server_start_endpoints_and_stop(fake_command: list[str], tmp_path: Path) -> None:
    workdir = tmp_path / "server"
    with HvsimServer({"hosts": 3}, workdir=workdir, command=fake_command) as server:
        assert server.hosts == ["HV-01", "HV-02", "HV-03"]
        assert server.url("HV-02").startswith("http://127.0.0.1:")
        assert _listening(int(server.url("HV-02").rsplit(":", 1)[1]), "127.0.0.1")
        assert _alive(server.pid)
        log = server.log_text()
        for expected in ("'--port', '0'", "'--bind', '127.0.0.1'", "hvsim.db"):
            assert expected in log
        assert f"cwd {Path(__file__).resolve().parents[2]}" in log
        with pytest.raises(KeyError, match="HV-09"):
            server.url("HV-09")
        pid = server.pid
    assert server.returncode == -signal.SIGTERM
    assert not _alive(pid)
    assert "fake serve" in server.log_text()


def test_server_that_exits_fails_fast_with_its_log(fake_command: list[str], tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ServerStartError, match=r"(?s)exited with 3.*boom: cannot open database"):
        HvsimServer({"mode": "crash"}, workdir=tmp_path, command=fake_command).start()
    assert time.monotonic() - started < 30


def test_server_ignoring_sigterm_is_killed(fake_command: list[str]) -> None:
    server = HvsimServer({"mode": "stubborn"}, command=fake_command, stop_timeout=0.5)
    with server:
        pid = server.pid
        workdir = server.workdir
    assert server.returncode == -signal.SIGKILL
    assert not _alive(pid)
    # A work directory the helper made itself is removed, but its log is kept for reporting.
    assert not workdir.exists()
    assert "fake serve" in server.log_text()


def test_server_not_ready_in_time_is_stopped(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import time; print('waiting', flush=True); time.sleep(60)"]
    server = HvsimServer(workdir=tmp_path, command=command, startup_timeout=1)
    with pytest.raises(ServerStartError, match=r"(?s)not ready after 1 s.*waiting"):
        server.start()
    assert server.returncode is not None


def test_wbem_connection_settings() -> None:
    conn = wbem_connection("http://127.0.0.1:5988", "root/virtualization/v2")
    assert conn.url == "http://127.0.0.1:5988"
    assert conn.creds == ("testuser", "Passw0rd")
    assert conn.default_namespace == "root/virtualization/v2"
    assert conn.no_verification is True
    assert conn.timeout == 30
